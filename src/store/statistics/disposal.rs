//! Indexed reads of notices, targets and appeals by period (disposal and appeal figures).

use std::collections::HashMap;

use crate::store::bulk::{SqlValue, Statement};
use crate::store::{Dialect, Store};

/// The registered province of each of `orgs` that exists.
pub async fn provinces_of(
    store: &Store,
    orgs: &[String],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut out = HashMap::new();
    for chunk in orgs.chunks(500) {
        let mut st = Statement::new(
            store.dialect(),
            "SELECT id, province FROM organisations WHERE id IN (",
        );
        st.bind_list(chunk.iter().map(|o| SqlValue::Text(o.clone())));
        st.push(")");
        let rows: Vec<(String, String)> = st.query_as().fetch_all(store.pool()).await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Which notices, targets and appeals a disposal or appeal figure covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    All,
    /// Addressees (appeals: the deciding regulator's jurisdiction) of this province.
    Province(String),
    /// This addressee (appeals: this filer).
    Organisation(String),
}

impl Filter {
    /// `AND …` for an organisation column `org` joined to `organisations o`.
    fn clause(&self, st: &mut Statement, org: &str) {
        match self {
            Filter::All => {}
            Filter::Province(p) => {
                st.push(" AND o.province = ")
                    .bind(SqlValue::Text(p.clone()));
            }
            Filter::Organisation(id) => {
                st.push(&format!(" AND {org} = "))
                    .bind(SqlValue::Text(id.clone()));
            }
        }
    }
}

/// `{select} WHERE {column}` in `[from, before)` `{and}`, narrowed by `filter` on `org`.
#[allow(clippy::too_many_arguments)]
fn in_period(
    dialect: Dialect,
    select: &str,
    column: &str,
    and: &str,
    filter: &Filter,
    org: &str,
    from: i64,
    before: i64,
) -> Statement {
    let mut st = Statement::new(dialect, &format!("{select} WHERE {column} >= "));
    st.bind(SqlValue::Int(from))
        .push(&format!(" AND {column} < "))
        .bind(SqlValue::Int(before))
        .push(and);
    filter.clause(&mut st, org);
    st
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IssuedRow {
    pub org_id: String,
    pub province: String,
    pub issued: i64,
}

/// Disposal notices (kind 1) issued in `[from, before)`, per addressee.
pub async fn notices_issued(
    store: &Store,
    filter: &Filter,
    from: i64,
    before: i64,
) -> Result<Vec<IssuedRow>, sqlx::Error> {
    let mut st = in_period(
        store.dialect(),
        "SELECT n.addressee AS org_id, o.province AS province, CAST(COUNT(*) AS BIGINT) AS issued \
         FROM notices n JOIN organisations o ON o.id = n.addressee",
        "n.issued_at",
        " AND n.kind = 1",
        filter,
        "n.addressee",
        from,
        before,
    );
    st.push(" GROUP BY n.addressee, o.province");
    st.query_as().fetch_all(store.pool()).await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DutyRow {
    pub org_id: String,
    pub province: String,
    pub due_at: i64,
    pub met_at: Option<i64>,
    pub not_disposed: i64,
}

/// Receipt duties due in `[from, before)`, as `DisposalService.GetComplianceSummary`
/// counts them (disposal and revocation notices).
pub async fn receipt_duties(
    store: &Store,
    filter: &Filter,
    from: i64,
    before: i64,
) -> Result<Vec<DutyRow>, sqlx::Error> {
    in_period(
        store.dialect(),
        "SELECT n.addressee AS org_id, o.province AS province, n.receipt_due AS due_at, \
         n.received_at AS met_at, 0 AS not_disposed FROM notices n \
         JOIN organisations o ON o.id = n.addressee",
        "n.receipt_due",
        " AND n.kind <> 2",
        filter,
        "n.addressee",
        from,
        before,
    )
    .query_as()
    .fetch_all(store.pool())
    .await
}

/// Result duties per target due in `[from, before)`, as GetComplianceSummary counts them.
pub async fn result_duties(
    store: &Store,
    filter: &Filter,
    from: i64,
    before: i64,
) -> Result<Vec<DutyRow>, sqlx::Error> {
    in_period(
        store.dialect(),
        "SELECT t.addressee AS org_id, o.province AS province, t.deadline AS due_at, \
         t.first_reported_at AS met_at, CASE WHEN t.result_outcome = 2 THEN 1 ELSE 0 END AS not_disposed \
         FROM notice_targets t JOIN organisations o ON o.id = t.addressee",
        "t.deadline",
        " AND NOT (t.revocation_notice_id IS NOT NULL AND t.first_reported_at IS NULL)",
        filter,
        "t.addressee",
        from,
        before,
    )
    .query_as()
    .fetch_all(store.pool())
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VerifiedRow {
    pub org_id: String,
    pub province: String,
    pub verification: Option<Vec<u8>>,
}

/// Targets verified in `[from, before)` with their verification (protobuf).
pub async fn verified_targets(
    store: &Store,
    filter: &Filter,
    from: i64,
    before: i64,
) -> Result<Vec<VerifiedRow>, sqlx::Error> {
    in_period(
        store.dialect(),
        "SELECT t.addressee AS org_id, o.province AS province, t.verification AS verification \
         FROM notice_targets t JOIN organisations o ON o.id = t.addressee",
        "t.verified_at",
        "",
        filter,
        "t.addressee",
        from,
        before,
    )
    .query_as()
    .fetch_all(store.pool())
    .await
}

/// Bodies (protobuf `Appeal`) of the appeals filed in `[from, before)`: of the province's
/// notices, or filed by the organisation.
pub async fn appeals_filed(
    store: &Store,
    filter: &Filter,
    from: i64,
    before: i64,
) -> Result<Vec<Vec<u8>>, sqlx::Error> {
    let mut st = in_period(
        store.dialect(),
        "SELECT a.body FROM appeals a",
        "a.filed_at",
        "",
        &Filter::All,
        "",
        from,
        before,
    );
    match filter {
        Filter::All => {}
        Filter::Province(p) => {
            st.push(" AND a.province = ")
                .bind(SqlValue::Text(p.clone()));
        }
        Filter::Organisation(o) => {
            st.push(" AND a.filer = ").bind(SqlValue::Text(o.clone()));
        }
    }
    let rows: Vec<(Vec<u8>,)> = st.query_as().fetch_all(store.pool()).await?;
    Ok(rows.into_iter().map(|(b,)| b).collect())
}
