//! Monthly bulletins as published (2009 reporting measures Art. 19).
//!
//! # Contract
//! - One row per (month, language); publishing a month again replaces it in the same
//!   transaction as its audit record, so the log holds every version's hashes.

use sqlx::AssertSqlSafe;

use super::{Store, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BulletinRow {
    /// `YYYY-MM`.
    pub month: String,
    /// `zh-CN` or `en`.
    pub language: String,
    pub publisher: String,
    pub published_at: i64,
    pub manifest: Vec<u8>,
    pub signature: Vec<u8>,
    pub key_id: String,
    pub chain_der: Vec<u8>,
    pub html: Vec<u8>,
    pub pdf: Vec<u8>,
    /// The figures it was built from (JSON), so a reader can check a number.
    pub figures: String,
}

const COLUMNS: &str = "month, language, publisher, published_at, manifest, signature, key_id, \
     chain_der, html, pdf, figures";

pub async fn replace(tx: &mut Tx, b: &BulletinRow) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM bulletins WHERE month = $1 AND language = $2")
        .bind(&b.month)
        .bind(&b.language)
        .execute(&mut **tx)
        .await?;
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO bulletins ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    )))
    .bind(&b.month)
    .bind(&b.language)
    .bind(&b.publisher)
    .bind(b.published_at)
    .bind(&b.manifest)
    .bind(&b.signature)
    .bind(&b.key_id)
    .bind(&b.chain_der)
    .bind(&b.html)
    .bind(&b.pdf)
    .bind(&b.figures)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get(
    store: &Store,
    month: &str,
    language: &str,
) -> Result<Option<BulletinRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM bulletins WHERE month = $1 AND language = $2"
    )))
    .bind(month)
    .bind(language)
    .fetch_optional(store.pool())
    .await
}

/// What a listing shows of a bulletin: everything but the documents themselves.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BulletinSummary {
    pub month: String,
    pub language: String,
    pub publisher: String,
    pub published_at: i64,
    pub key_id: String,
    pub html_bytes: i64,
    pub pdf_bytes: i64,
}

/// Which bulletins a listing shows: months `from` to `to` inclusive (`YYYY-MM`; `None` is
/// open), after the entry `after` of the previous page (month, language).
#[derive(Debug, Clone, Default)]
pub struct BulletinFilter {
    pub from: Option<String>,
    pub to: Option<String>,
    pub after: Option<(String, String)>,
}

/// Newest month first, within a month `zh-CN` before `en` (language descending), at most
/// `limit`.
pub async fn list(
    store: &Store,
    filter: &BulletinFilter,
    limit: u32,
) -> Result<Vec<BulletinSummary>, sqlx::Error> {
    let (after_month, after_language) = filter.after.clone().unwrap_or_default();
    sqlx::query_as(
        "SELECT month, language, publisher, published_at, key_id, \
         CAST(LENGTH(html) AS BIGINT) AS html_bytes, CAST(LENGTH(pdf) AS BIGINT) AS pdf_bytes \
         FROM bulletins WHERE ($1 = '' OR month >= $1) AND ($2 = '' OR month <= $2) \
         AND ($3 = '' OR month < $3 OR (month = $3 AND language < $4)) \
         ORDER BY month DESC, language DESC LIMIT $5",
    )
    .bind(filter.from.as_deref().unwrap_or(""))
    .bind(filter.to.as_deref().unwrap_or(""))
    .bind(after_month)
    .bind(after_language)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await
}

/// Claims the building of `month` for this replica: true unless another replica claimed it
/// after `stale_before` (microseconds).
pub async fn claim(
    store: &Store,
    month: &str,
    now: i64,
    stale_before: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO bulletin_claims (month, claimed_at) VALUES ($1, $2) \
         ON CONFLICT (month) DO UPDATE SET claimed_at = excluded.claimed_at \
         WHERE bulletin_claims.claimed_at < $3",
    )
    .bind(month)
    .bind(now)
    .bind(stale_before)
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether `month` has been published in any language.
pub async fn is_published(store: &Store, month: &str) -> Result<bool, sqlx::Error> {
    let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM bulletins WHERE month = $1")
        .bind(month)
        .fetch_one(store.pool())
        .await?;
    Ok(n.0 > 0)
}
