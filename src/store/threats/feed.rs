//! The feed: events in commit order under the `feed_head` lock, read by position; a TLP
//! change writes its own event.

use super::*;

/// A feed event with what decides its visibility.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FeedRow {
    pub position: i64,
    pub committed_at: i64,
    pub kind: String,
    pub threat_id: String,
    pub sighting_id: Option<String>,
    pub category: i64,
    pub details_json: Option<String>,
}

pub async fn feed_after(
    store: &Store,
    after: i64,
    limit: u32,
) -> Result<Vec<FeedRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT position, committed_at, kind, threat_id, sighting_id, category, details_json FROM feed_events \
         WHERE position > $1 ORDER BY position LIMIT {limit}"
    )))
    .bind(after)
    .fetch_all(store.pool())
    .await
}

pub async fn feed_head(store: &Store) -> Result<i64, sqlx::Error> {
    let (p,): (i64,) = sqlx::query_as("SELECT position FROM feed_head WHERE id = 1")
        .fetch_one(store.pool())
        .await?;
    Ok(p)
}

/// Re-marks a sighting and records a `tlp_changed` feed event, in `tx`.
pub async fn change_tlp(
    store: &Store,
    tx: &mut Tx,
    sighting: &SightingRow,
    category: i64,
    new: Tlp,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT position FROM feed_head WHERE id = 1{}",
        store.dialect().for_update()
    );
    let (position,): (i64,) = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_one(&mut **tx)
        .await?;
    sqlx::query("UPDATE sightings SET tlp = $1 WHERE id = $2")
        .bind(new as i64)
        .bind(&sighting.id)
        .execute(&mut **tx)
        .await?;
    let details = serde_json::json!({"old_tlp": sighting.tlp, "new_tlp": new as i64}).to_string();
    append_feed_event(
        tx,
        store.dialect(),
        position + 1,
        to_micros(at),
        "tlp_changed",
        &sighting.threat_id,
        Some(&sighting.id),
        category,
        &details,
    )
    .await
}

/// Writes one feed event at `position` and moves the head there. The caller
/// holds the `feed_head` lock (taken with `FOR UPDATE` in its transaction).
#[allow(clippy::too_many_arguments)]
pub async fn append_feed_event(
    tx: &mut Tx,
    dialect: Dialect,
    position: i64,
    committed_at: i64,
    kind: &str,
    threat_id: &str,
    sighting_id: Option<&str>,
    category: i64,
    details_json: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO feed_events (position, committed_at, kind, threat_id, sighting_id, category, details_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(position)
    .bind(committed_at)
    .bind(kind)
    .bind(threat_id)
    .bind(sighting_id)
    .bind(category)
    .bind(details_json)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE feed_head SET position = $1 WHERE id = 1")
        .bind(position)
        .execute(&mut **tx)
        .await?;
    crate::delivery::announce_feed(tx, dialect).await
}
