//! Decisions, notices, their targets, review items, non-compliance records and
//! enforcement (Art. 8, 9, 12).
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

/// The decision already stored under (regulator, request_id): its id and request hash.
pub async fn find_decision(
    store: &Store,
    regulator: &str,
    request_id: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, request_sha256 FROM decisions WHERE regulator = $1 AND request_id = $2",
    )
    .bind(regulator)
    .bind(request_id)
    .fetch_optional(store.pool())
    .await
}

pub struct DecisionRow<'a> {
    pub id: &'a str,
    pub regulator: &'a str,
    pub request_id: &'a str,
    pub request_sha256: &'a str,
    pub threat_id: &'a str,
    pub officer: &'a str,
    pub decided_at: i64,
}

/// Stores a decision; `false` when (regulator, request_id) is already taken: on PostgreSQL
/// a concurrent first try of the same request committed first.
pub async fn insert_decision(tx: &mut Tx, d: DecisionRow<'_>) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO decisions (id, regulator, request_id, request_sha256, threat_id, officer, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (regulator, request_id) DO NOTHING",
    )
    .bind(d.id)
    .bind(d.regulator)
    .bind(d.request_id)
    .bind(d.request_sha256)
    .bind(d.threat_id)
    .bind(d.officer)
    .bind(d.decided_at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

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

pub async fn set_state(tx: &mut Tx, id: &str, state: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE notices SET state = $1 WHERE id = $2")
        .bind(state)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_received(
    tx: &mut Tx,
    id: &str,
    at: i64,
    body_sha256: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notices SET received_at = $1, received_body_sha256 = $2 WHERE id = $3 AND received_at IS NULL",
    )
    .bind(at)
    .bind(body_sha256)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves a disposal notice's result deadline, and its targets', to `deadline` (receipt
/// before the receipt deadline brings it forward: 2009 mechanism Art. 9(2)).
pub async fn set_deadline(tx: &mut Tx, id: &str, deadline: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE notices SET deadline = $1 WHERE id = $2")
        .bind(deadline)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE notice_targets SET deadline = $1 WHERE notice_id = $2")
        .bind(deadline)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_offline(tx: &mut Tx, id: &str, offline: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE notices SET offline = $1 WHERE id = $2")
        .bind(offline)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_result(
    tx: &mut Tx,
    notice_id: &str,
    target_id: &str,
    result: &[u8],
    outcome: i64,
    at: i64,
    verification_due: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notice_targets SET result = $1, result_outcome = $2, result_reported_at = $3, \
         first_reported_at = COALESCE(first_reported_at, $3), \
         first_disposed_at = CASE WHEN $2 = 1 THEN COALESCE(first_disposed_at, $3) ELSE first_disposed_at END, \
         verification_due = $4, \
         verification = NULL, verified_at = NULL \
         WHERE notice_id = $5 AND target_id = $6",
    )
    .bind(result)
    .bind(outcome)
    .bind(at)
    .bind(verification_due)
    .bind(notice_id)
    .bind(target_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_verification(
    tx: &mut Tx,
    notice_id: &str,
    target_id: &str,
    verification: &[u8],
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notice_targets SET verification = $1, verified_at = $2 WHERE notice_id = $3 AND target_id = $4",
    )
    .bind(verification)
    .bind(at)
    .bind(notice_id)
    .bind(target_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_revoked(
    tx: &mut Tx,
    notice_id: &str,
    target_id: &str,
    revocation_id: &str,
    lift_due: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notice_targets SET revocation_notice_id = $1, lift_due = $2 WHERE notice_id = $3 AND target_id = $4",
    )
    .bind(revocation_id)
    .bind(lift_due)
    .bind(notice_id)
    .bind(target_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_lifted(
    tx: &mut Tx,
    notice_id: &str,
    target_id: &str,
    at: i64,
    details: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notice_targets SET lifted_at = $1, lift_details = $2 WHERE notice_id = $3 AND target_id = $4",
    )
    .bind(at)
    .bind(details)
    .bind(notice_id)
    .bind(target_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

// --- review queue (Art. 9) ---

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReviewRow {
    pub id: String,
    pub notice_id: String,
    pub target_id: String,
    pub threat_id: String,
    pub addressee: String,
    pub province: String,
    pub verifier: String,
    pub body: Vec<u8>,
    pub queued_at: i64,
    pub settled_at: Option<i64>,
    pub settled_by: Option<String>,
    /// [`REVIEW_NOT_EFFECTIVE`] or [`REVIEW_NOT_DISPOSED`], as numbered in the contract.
    pub reason: i64,
}

/// Review reasons, as numbered in the contract (`ReviewReason`).
pub const REVIEW_NOT_EFFECTIVE: i64 = 1;
pub const REVIEW_NOT_DISPOSED: i64 = 2;

const REVIEW_COLUMNS: &str = "id, notice_id, target_id, threat_id, addressee, province, verifier, \
     body, queued_at, settled_at, settled_by, reason";

pub async fn insert_review(tx: &mut Tx, r: &ReviewRow) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO review_items ({REVIEW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, $10)"
    )))
    .bind(&r.id)
    .bind(&r.notice_id)
    .bind(&r.target_id)
    .bind(&r.threat_id)
    .bind(&r.addressee)
    .bind(&r.province)
    .bind(&r.verifier)
    .bind(&r.body)
    .bind(r.queued_at)
    .bind(r.reason)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The open review item of `reason` on one target, if any.
pub async fn open_review_of_target(
    tx: &mut Tx,
    notice_id: &str,
    target_id: &str,
    reason: i64,
) -> Result<Option<ReviewRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM review_items \
         WHERE notice_id = $1 AND target_id = $2 AND reason = $3 AND settled_at IS NULL"
    )))
    .bind(notice_id)
    .bind(target_id)
    .bind(reason)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn set_review_body(tx: &mut Tx, id: &str, body: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE review_items SET body = $1 WHERE id = $2")
        .bind(body)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn get_review_in_tx(tx: &mut Tx, id: &str) -> Result<Option<ReviewRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM review_items WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn settle_review(tx: &mut Tx, id: &str, at: i64, by: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE review_items SET settled_at = $1, settled_by = $2 WHERE id = $3")
        .bind(at)
        .bind(by)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Open review items, oldest first, after the keyset `(queued_at, id)`.
pub async fn open_reviews(
    store: &Store,
    province: Option<&str>,
    threat_id: Option<&str>,
    addressee: Option<&str>,
    after_id: &str,
    limit: u32,
) -> Result<Vec<ReviewRow>, sqlx::Error> {
    // Ids are UUIDv7: ordering by id is ordering by queue time.
    let mut clauses = vec!["settled_at IS NULL".to_owned(), "id > $1".to_owned()];
    let mut binds = vec![after_id.to_owned()];
    for (col, v) in [
        ("province", province),
        ("threat_id", threat_id),
        ("addressee", addressee),
    ] {
        if let Some(v) = v {
            binds.push(v.to_owned());
            clauses.push(format!("{col} = ${}", binds.len()));
        }
    }
    let mut q = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM review_items WHERE {} ORDER BY id LIMIT {limit}",
        clauses.join(" AND ")
    )));
    for b in &binds {
        q = q.bind(b);
    }
    q.fetch_all(store.pool()).await
}

// --- non-compliance (Art. 12) ---

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
    super::fetch_in(
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
    let placeholders = super::placeholders(3, orgs.len());
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
    super::fetch_in(
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
