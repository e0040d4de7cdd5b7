//! Identifications (Art. 7).
//!
//! # Contract
//! [`record`] changes the threat's status, stores the identification, adds an
//! `identified` feed event (under the feed lock, so in commit order) and is
//! called inside the caller's transaction with its audit record.

use sqlx::AssertSqlSafe;

use super::{Store, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdentificationRow {
    pub id: String,
    pub threat_id: String,
    pub outcome: i64,
    pub institution: String,
    pub identified_at: i64,
    pub request_sha256: String,
    pub body: Vec<u8>,
}

const COLUMNS: &str = "id, threat_id, outcome, institution, identified_at, request_sha256, body";

pub struct NewIdentification<'a> {
    pub dialect: super::Dialect,
    pub row: &'a IdentificationRow,
    pub status: i64,
    pub grade: i64,
    pub category: i64,
    /// The summary shown on the threat and in the feed.
    pub summary_json: String,
}

/// Locks the feed and returns the threat's status as it is now.
pub async fn lock_threat(
    store: &Store,
    tx: &mut Tx,
    threat_id: &str,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT position FROM feed_head WHERE id = 1{}",
        store.dialect().for_update()
    );
    sqlx::query(AssertSqlSafe(sql)).execute(&mut **tx).await?;
    sqlx::query_as("SELECT status, category FROM threats WHERE id = $1")
        .bind(threat_id)
        .fetch_optional(&mut **tx)
        .await
}

pub async fn record(tx: &mut Tx, new: NewIdentification<'_>) -> Result<(), sqlx::Error> {
    let r = new.row;
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO identifications ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )))
    .bind(&r.id)
    .bind(&r.threat_id)
    .bind(r.outcome)
    .bind(&r.institution)
    .bind(r.identified_at)
    .bind(&r.request_sha256)
    .bind(r.body.clone())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE threats SET status = $1, grade = $2, identification_json = $3 WHERE id = $4",
    )
    .bind(new.status)
    .bind(new.grade)
    .bind(&new.summary_json)
    .bind(&r.threat_id)
    .execute(&mut **tx)
    .await?;
    let (position,): (i64,) = sqlx::query_as("SELECT position FROM feed_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    super::threats::append_feed_event(
        tx,
        new.dialect,
        position + 1,
        r.identified_at,
        "identified",
        &r.threat_id,
        None,
        new.category,
        &new.summary_json,
    )
    .await
}

pub async fn by_threat(
    store: &Store,
    threat_id: &str,
) -> Result<Option<IdentificationRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM identifications WHERE threat_id = $1"
    )))
    .bind(threat_id)
    .fetch_optional(store.pool())
    .await
}

/// The institution that identified `threat_id`, read in `tx`.
pub async fn institution_in_tx(
    tx: &mut Tx,
    threat_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT institution FROM identifications WHERE threat_id = $1")
        .bind(threat_id)
        .fetch_optional(&mut **tx)
        .await
}

pub async fn by_id(store: &Store, id: &str) -> Result<Option<IdentificationRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM identifications WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(store.pool())
    .await
}
