//! Decisions (Art. 8): one per (regulator, request id), so a retry finds the first.

use super::*;

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
