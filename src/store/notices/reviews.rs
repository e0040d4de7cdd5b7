//! The regulator's review queue (Art. 9, 12): results not disposed and measures found not
//! effective wait here until a new decision or an enforcement settles them.

use super::*;

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
