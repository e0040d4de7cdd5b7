//! Decisions, notices, their targets, review items, non-compliance records and
//! enforcement (Art. 8, 9, 12). Notices and targets are here; decisions, the progress
//! columns, the review queue and the compliance records are in their own files,
//! re-exported so every path reads `store::notices::…`.
//!
//! # Contract
//! - Delivery positions are taken under the `notice_head` row lock, held to
//!   commit: a subscriber that has seen position P has seen every committed
//!   position below it, on every replica.
//! - A notice's signed body never changes; progress columns do, each change in
//!   the caller's transaction with its audit record.
//! - Non-compliance rows are inserted once per (kind, notice, target) and never
//!   deleted; a late fulfilment only sets `fulfilled_at`.

use crate::domain::notice::NoticeKind;
use sqlx::AssertSqlSafe;

use super::{Store, Tx};

mod compliance;
mod decisions;
mod progress;
mod reviews;

pub use compliance::*;
pub use decisions::*;
pub use progress::*;
pub use reviews::*;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NoticeRow {
    pub id: String,
    pub position: i64,
    /// Converted at this boundary: a number the contract does not define fails the read.
    #[sqlx(try_from = "i64")]
    pub kind: NoticeKind,
    pub decision_id: String,
    pub threat_id: String,
    pub issuer: String,
    pub addressee: Option<String>,
    pub measure_type: i64,
    pub province: String,
    pub issued_at: i64,
    pub deadline: Option<i64>,
    pub receipt_due: Option<i64>,
    pub body: Vec<u8>,
    pub signature: Vec<u8>,
    pub key_id: String,
    pub signer_certificate: Vec<u8>,
    pub state: i64,
    pub received_at: Option<i64>,
    pub received_body_sha256: Option<String>,
    pub revokes_notice_id: Option<String>,
    pub offline: Option<Vec<u8>>,
}

const NOTICE_COLUMNS: &str = "id, position, kind, decision_id, threat_id, issuer, addressee, \
     measure_type, province, issued_at, deadline, receipt_due, body, signature, key_id, \
     signer_certificate, state, received_at, received_body_sha256, revokes_notice_id, offline";

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct TargetRow {
    pub notice_id: String,
    pub target_id: String,
    pub ordinal: i64,
    pub kind: i64,
    pub value: String,
    pub province: String,
    pub addressee: String,
    pub deadline: i64,
    pub result: Option<Vec<u8>>,
    pub result_outcome: Option<i64>,
    pub first_reported_at: Option<i64>,
    pub first_disposed_at: Option<i64>,
    pub result_reported_at: Option<i64>,
    pub verification_due: Option<i64>,
    pub verification: Option<Vec<u8>>,
    pub verified_at: Option<i64>,
    pub revocation_notice_id: Option<String>,
    pub lift_due: Option<i64>,
    pub lifted_at: Option<i64>,
    pub lift_details: Option<String>,
}

const TARGET_COLUMNS: &str = "notice_id, target_id, ordinal, kind, value, province, addressee, \
     deadline, result, result_outcome, first_reported_at, first_disposed_at, result_reported_at, verification_due, \
     verification, verified_at, revocation_notice_id, lift_due, lifted_at, lift_details";

/// Takes `n` delivery positions under the head lock (held to commit); returns the first.
pub async fn take_positions(store: &Store, tx: &mut Tx, n: i64) -> Result<i64, sqlx::Error> {
    let sql = format!(
        "SELECT position FROM notice_head WHERE id = 1{}",
        store.dialect().for_update()
    );
    let (p,): (i64,) = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_one(&mut **tx)
        .await?;
    sqlx::query("UPDATE notice_head SET position = $1 WHERE id = 1")
        .bind(p + n)
        .execute(&mut **tx)
        .await?;
    Ok(p + 1)
}

/// The last position handed out.
pub async fn head(store: &Store) -> Result<i64, sqlx::Error> {
    let (p,): (i64,) = sqlx::query_as("SELECT position FROM notice_head WHERE id = 1")
        .fetch_one(store.pool())
        .await?;
    Ok(p)
}

pub async fn insert_notice(tx: &mut Tx, n: &NoticeRow) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO notices ({NOTICE_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    )))
    .bind(&n.id)
    .bind(n.position)
    .bind(n.kind as i64)
    .bind(&n.decision_id)
    .bind(&n.threat_id)
    .bind(&n.issuer)
    .bind(&n.addressee)
    .bind(n.measure_type)
    .bind(&n.province)
    .bind(n.issued_at)
    .bind(n.deadline)
    .bind(n.receipt_due)
    .bind(&n.body)
    .bind(&n.signature)
    .bind(&n.key_id)
    .bind(&n.signer_certificate)
    .bind(n.state)
    .bind(n.received_at)
    .bind(&n.received_body_sha256)
    .bind(&n.revokes_notice_id)
    .bind(&n.offline)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn insert_target(tx: &mut Tx, t: &TargetRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notice_targets (notice_id, target_id, ordinal, kind, value, province, addressee, deadline) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&t.notice_id)
    .bind(&t.target_id)
    .bind(t.ordinal)
    .bind(t.kind)
    .bind(&t.value)
    .bind(&t.province)
    .bind(&t.addressee)
    .bind(t.deadline)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get_notice(store: &Store, id: &str) -> Result<Option<NoticeRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {NOTICE_COLUMNS} FROM notices WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(store.pool())
    .await
}

/// The notice as `tx` sees it, without locking it.
pub async fn notice_in_tx(tx: &mut Tx, id: &str) -> Result<Option<NoticeRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {NOTICE_COLUMNS} FROM notices WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The notice, locked for a change until `tx` ends.
pub async fn lock_notice(
    store: &Store,
    tx: &mut Tx,
    id: &str,
) -> Result<Option<NoticeRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {NOTICE_COLUMNS} FROM notices WHERE id = $1{}",
        store.dialect().for_update()
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn targets_in_tx(tx: &mut Tx, notice_id: &str) -> Result<Vec<TargetRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {TARGET_COLUMNS} FROM notice_targets WHERE notice_id = $1 ORDER BY ordinal"
    )))
    .bind(notice_id)
    .fetch_all(&mut **tx)
    .await
}

/// The targets of these notices, in order.
pub async fn targets_of(
    store: &Store,
    notice_ids: &[String],
) -> Result<Vec<TargetRow>, sqlx::Error> {
    super::fetch_in(
        store,
        &format!("SELECT {TARGET_COLUMNS} FROM notice_targets WHERE notice_id IN ({{in}}) ORDER BY notice_id, ordinal"),
        notice_ids,
    )
    .await
}

/// Notices to `addressee` after `position`, in delivery order; `unreceived_only`
/// for the first connection without a cursor.
pub async fn deliveries_after(
    store: &Store,
    addressee: &str,
    position: i64,
    unreceived_only: bool,
    limit: u32,
) -> Result<Vec<NoticeRow>, sqlx::Error> {
    let unreceived = if unreceived_only {
        " AND received_at IS NULL"
    } else {
        ""
    };
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {NOTICE_COLUMNS} FROM notices WHERE addressee = $1 AND position > $2{unreceived} \
         ORDER BY position LIMIT {limit}"
    )))
    .bind(addressee)
    .bind(position)
    .fetch_all(store.pool())
    .await
}

#[derive(Debug, Default)]
pub struct NoticeFilter {
    /// Exactly this addressee (units: always themselves).
    pub addressee: Option<String>,
    /// Notices of this province only (provincial regulators), or addressed to `or_addressee`.
    pub province: Option<String>,
    pub or_addressee: Option<String>,
    pub threat_id: Option<String>,
    pub decision_id: Option<String>,
    pub kinds: Vec<i64>,
    pub states: Vec<i64>,
    pub issued_from: Option<i64>,
    pub issued_before: Option<i64>,
    /// Keyset: positions below this one (newest first).
    pub before_position: Option<i64>,
}

pub async fn list(
    store: &Store,
    f: &NoticeFilter,
    limit: u32,
) -> Result<Vec<NoticeRow>, sqlx::Error> {
    let mut clauses = vec!["1 = 1".to_owned()];
    let mut strings: Vec<String> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    // Strings are bound first ($1..), integers after; placeholders are numbered as we go.
    let mut string_clause = |col: &str, v: &str, clauses: &mut Vec<String>| {
        strings.push(v.to_owned());
        clauses.push(format!("{col} = ${}", strings.len()));
    };
    if let Some(a) = &f.addressee {
        string_clause("addressee", a, &mut clauses);
    }
    if let Some(t) = &f.threat_id {
        string_clause("threat_id", t, &mut clauses);
    }
    if let Some(d) = &f.decision_id {
        string_clause("decision_id", d, &mut clauses);
    }
    if let Some(p) = &f.province {
        strings.push(p.clone());
        let pi = strings.len();
        match &f.or_addressee {
            Some(o) => {
                strings.push(o.clone());
                clauses.push(format!(
                    "(province = ${pi} OR addressee = ${})",
                    strings.len()
                ));
            }
            None => clauses.push(format!("province = ${pi}")),
        }
    }
    let base = strings.len();
    let mut int_clause = |sql: &str, v: i64, clauses: &mut Vec<String>| {
        ints.push(v);
        clauses.push(sql.replace('?', &format!("${}", base + ints.len())));
    };
    if let Some(v) = f.issued_from {
        int_clause("issued_at >= ?", v, &mut clauses);
    }
    if let Some(v) = f.issued_before {
        int_clause("issued_at < ?", v, &mut clauses);
    }
    if let Some(v) = f.before_position {
        int_clause("position < ?", v, &mut clauses);
    }
    // Enum lists are validated numbers: inlined.
    let list = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    if !f.kinds.is_empty() {
        clauses.push(format!("kind IN ({})", list(&f.kinds)));
    }
    if !f.states.is_empty() {
        clauses.push(format!("state IN ({})", list(&f.states)));
    }
    let sql = format!(
        "SELECT {NOTICE_COLUMNS} FROM notices WHERE {} ORDER BY position DESC LIMIT {limit}",
        clauses.join(" AND ")
    );
    let mut q = sqlx::query_as(AssertSqlSafe(sql));
    for s in &strings {
        q = q.bind(s);
    }
    for i in &ints {
        q = q.bind(*i);
    }
    q.fetch_all(store.pool()).await
}

/// Targets of disposal notices of these kinds, newest notice first: the candidates a
/// resource look-up filters (Art. 10 `ListMeasuresAgainst`).
pub async fn disposal_targets_of_kinds(
    store: &Store,
    kinds: &[i64],
    addressee: Option<&str>,
    province: Option<&str>,
    limit: u32,
) -> Result<Vec<TargetRow>, sqlx::Error> {
    let columns = TARGET_COLUMNS
        .split(", ")
        .map(|c| format!("t.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let kinds = kinds
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut clauses = vec![format!("n.kind = 1 AND t.kind IN ({kinds})")];
    let mut binds = Vec::new();
    if let Some(a) = addressee {
        binds.push(a);
        clauses.push(format!("t.addressee = ${}", binds.len()));
    }
    if let Some(p) = province {
        binds.push(p);
        clauses.push(format!("t.province = ${}", binds.len()));
    }
    let mut q = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {columns} FROM notice_targets t JOIN notices n ON n.id = t.notice_id \
         WHERE {} ORDER BY n.position DESC, t.ordinal LIMIT {limit}",
        clauses.join(" AND ")
    )));
    for b in binds {
        q = q.bind(b);
    }
    q.fetch_all(store.pool()).await
}

pub async fn notices_by_id(store: &Store, ids: &[String]) -> Result<Vec<NoticeRow>, sqlx::Error> {
    super::fetch_in(
        store,
        &format!("SELECT {NOTICE_COLUMNS} FROM notices WHERE id IN ({{in}})"),
        ids,
    )
    .await
}
