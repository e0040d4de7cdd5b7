//! Non-compliance records, enforcement and the compliance summary's duties (Art. 12).

use super::*;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NonComplianceRow {
    pub id: String,
    pub kind: i64,
    pub org_id: String,
    pub notice_id: String,
    pub target_id: String,
    pub province: String,
    pub due_at: i64,
    pub recorded_at: i64,
    pub fulfilled_at: Option<i64>,
}

const NC_COLUMNS: &str =
    "id, kind, org_id, notice_id, target_id, province, due_at, recorded_at, fulfilled_at";

/// Records a missed duty once; a second firing for the same duty changes nothing.
pub async fn record_non_compliance(tx: &mut Tx, r: &NonComplianceRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO non_compliance ({NC_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL) \
         ON CONFLICT (kind, notice_id, target_id) DO NOTHING"
    )))
    .bind(&r.id)
    .bind(r.kind)
    .bind(&r.org_id)
    .bind(&r.notice_id)
    .bind(&r.target_id)
    .bind(&r.province)
    .bind(r.due_at)
    .bind(r.recorded_at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The duty was met late: the record stays, with the time it was met.
pub async fn fulfil_non_compliance(
    tx: &mut Tx,
    kind: i64,
    notice_id: &str,
    target_id: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE non_compliance SET fulfilled_at = $1 \
         WHERE kind = $2 AND notice_id = $3 AND target_id = $4 AND fulfilled_at IS NULL",
    )
    .bind(at)
    .bind(kind)
    .bind(notice_id)
    .bind(target_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct NonComplianceFilter {
    pub org_id: Option<String>,
    pub province: Option<String>,
    pub kinds: Vec<i64>,
    pub due_from: Option<i64>,
    pub due_before: Option<i64>,
    pub unenforced_only: bool,
    pub after_id: String,
}

pub async fn list_non_compliance(
    store: &Store,
    f: &NonComplianceFilter,
    limit: u32,
) -> Result<Vec<NonComplianceRow>, sqlx::Error> {
    let mut clauses = vec!["id > $1".to_owned()];
    let mut strings = vec![f.after_id.clone()];
    for (col, v) in [("org_id", &f.org_id), ("province", &f.province)] {
        if let Some(v) = v {
            strings.push(v.clone());
            clauses.push(format!("{col} = ${}", strings.len()));
        }
    }
    let mut ints = Vec::new();
    for (sql, v) in [("due_at >= ", f.due_from), ("due_at < ", f.due_before)] {
        if let Some(v) = v {
            ints.push(v);
            clauses.push(format!("{sql}${}", strings.len() + ints.len()));
        }
    }
    if !f.kinds.is_empty() {
        clauses.push(format!(
            "kind IN ({})",
            f.kinds
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if f.unenforced_only {
        clauses.push(
            "NOT EXISTS (SELECT 1 FROM enforcement_records e WHERE e.non_compliance_id = non_compliance.id)"
                .into(),
        );
    }
    let mut q = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {NC_COLUMNS} FROM non_compliance WHERE {} ORDER BY id LIMIT {limit}",
        clauses.join(" AND ")
    )));
    for s in &strings {
        q = q.bind(s);
    }
    for i in &ints {
        q = q.bind(*i);
    }
    q.fetch_all(store.pool()).await
}

pub async fn non_compliance_in_tx(
    tx: &mut Tx,
    id: &str,
) -> Result<Option<NonComplianceRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {NC_COLUMNS} FROM non_compliance WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Enforcement ids per non-compliance record.
pub async fn enforcements_of(
    store: &Store,
    ids: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    crate::store::fetch_in(
        store,
        "SELECT non_compliance_id, enforcement_id FROM enforcement_records \
         WHERE non_compliance_id IN ({in}) ORDER BY enforcement_id",
        ids,
    )
    .await
}

pub async fn insert_enforcement(
    tx: &mut Tx,
    id: &str,
    org_id: &str,
    regulator: &str,
    recorded_at: i64,
    body: &[u8],
    non_compliance_ids: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enforcements (id, org_id, regulator, recorded_at, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(org_id)
    .bind(regulator)
    .bind(recorded_at)
    .bind(body)
    .execute(&mut **tx)
    .await?;
    for nc in non_compliance_ids {
        sqlx::query(
            "INSERT INTO enforcement_records (enforcement_id, non_compliance_id) VALUES ($1, $2)",
        )
        .bind(id)
        .bind(nc)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

// --- compliance summary (Art. 12) ---

/// One duty: when it fell due and when (if) it was met.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct DutyRow {
    pub org_id: String,
    pub due_at: i64,
    pub met_at: Option<i64>,
    /// Result duties: 1 when the latest result is NOT_DISPOSED (a measure not taken).
    #[sqlx(default)]
    pub not_disposed: i64,
}

/// Receipt duties of disposal and revocation notices due in `[from, before)`.
pub async fn receipt_duties(
    store: &Store,
    orgs: &[String],
    from: i64,
    before: i64,
) -> Result<Vec<DutyRow>, sqlx::Error> {
    duties(
        store,
        "SELECT addressee AS org_id, receipt_due AS due_at, received_at AS met_at FROM notices \
         WHERE kind <> 2 AND addressee IS NOT NULL AND receipt_due IS NOT NULL AND receipt_due >= $1 AND receipt_due < $2",
        "addressee",
        orgs,
        from,
        before,
    )
    .await
}

/// Result duties per target, due in `[from, before)`; a target revoked before
/// any report owes no result.
pub async fn result_duties(
    store: &Store,
    orgs: &[String],
    from: i64,
    before: i64,
) -> Result<Vec<DutyRow>, sqlx::Error> {
    duties(
        store,
        "SELECT addressee AS org_id, deadline AS due_at, first_reported_at AS met_at, \
         CASE WHEN result_outcome = 2 THEN 1 ELSE 0 END AS not_disposed FROM notice_targets \
         WHERE deadline >= $1 AND deadline < $2 \
         AND NOT (revocation_notice_id IS NOT NULL AND first_reported_at IS NULL)",
        "addressee",
        orgs,
        from,
        before,
    )
    .await
}

pub async fn lift_duties(
    store: &Store,
    orgs: &[String],
    from: i64,
    before: i64,
) -> Result<Vec<DutyRow>, sqlx::Error> {
    duties(
        store,
        "SELECT addressee AS org_id, lift_due AS due_at, lifted_at AS met_at FROM notice_targets \
         WHERE lift_due IS NOT NULL AND lift_due >= $1 AND lift_due < $2",
        "addressee",
        orgs,
        from,
        before,
    )
    .await
}

/// An institution's verification duties (2009 mechanism Art. 9(3)), per target with a
/// result, due in `[from, before)`; a target revoked before verification owes none.
pub async fn verification_duties(
    store: &Store,
    orgs: &[String],
    from: i64,
    before: i64,
) -> Result<Vec<DutyRow>, sqlx::Error> {
    duties(
        store,
        "SELECT i.institution AS org_id, t.verification_due AS due_at, t.verified_at AS met_at \
         FROM notice_targets t JOIN notices n ON n.id = t.notice_id \
         JOIN identifications i ON i.threat_id = n.threat_id \
         WHERE t.verification_due IS NOT NULL AND t.verification_due >= $1 AND t.verification_due < $2 \
         AND NOT (t.revocation_notice_id IS NOT NULL AND t.verified_at IS NULL)",
        "i.institution",
        orgs,
        from,
        before,
    )
    .await
}

/// Whether `org` was ever the addressee of a disposal notice (Art. 12 binds those units).
pub async fn was_addressee(store: &Store, org: &str) -> Result<bool, sqlx::Error> {
    let n: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM notices WHERE addressee = $1 AND kind = 1 LIMIT 1")
            .bind(org)
            .fetch_optional(store.pool())
            .await?;
    Ok(n.is_some())
}

async fn duties(
    store: &Store,
    base: &str,
    org_column: &str,
    orgs: &[String],
    from: i64,
    before: i64,
) -> Result<Vec<DutyRow>, sqlx::Error> {
    if orgs.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = crate::store::placeholders(3, orgs.len());
    let mut q = sqlx::query_as(AssertSqlSafe(format!(
        "{base} AND {org_column} IN ({placeholders})"
    )))
    .bind(from)
    .bind(before);
    for o in orgs {
        q = q.bind(o);
    }
    q.fetch_all(store.pool()).await
}

/// Enforcement counts per organisation.
pub async fn enforcement_counts(
    store: &Store,
    orgs: &[String],
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    crate::store::fetch_in(
        store,
        "SELECT org_id, COUNT(*) FROM enforcements WHERE org_id IN ({in}) GROUP BY org_id",
        orgs,
    )
    .await
}

/// Addressees of notices in a province (or everywhere), after `after`, by id.
pub async fn addressees(
    store: &Store,
    province: Option<&str>,
    after: &str,
    limit: u32,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = match province {
        Some(p) => sqlx::query_as(AssertSqlSafe(format!(
            "SELECT DISTINCT addressee FROM notices WHERE addressee IS NOT NULL AND addressee > $1 \
                 AND province = $2 ORDER BY addressee LIMIT {limit}"
        )))
        .bind(after)
        .bind(p)
        .fetch_all(store.pool())
        .await?,
        None => sqlx::query_as(AssertSqlSafe(format!(
            "SELECT DISTINCT addressee FROM notices WHERE addressee IS NOT NULL AND addressee > $1 \
                 ORDER BY addressee LIMIT {limit}"
        )))
        .bind(after)
        .fetch_all(store.pool())
        .await?,
    };
    Ok(rows.into_iter().map(|(a,)| a).collect())
}
