//! Retention (2009 mechanism Art. 10: monitoring data are kept at least 60 days for
//! inspection): removes what has aged out, never what a disposal still needs.
//!
//! # Contract
//! A threat is removed, with its sightings, routing rows and identification,
//! only when all of these hold at the sweep:
//! - none of its sightings was received at or after the cut-off (`now - retention_days`);
//! - no disposal decision names it: a threat a regulator acted upon is kept with its
//!   evidence for as long as the notices, appeals and enforcement records that rest on it
//!   (which are never removed, like the audit log);
//! - no professional-institution task on it is still open (2009 mechanism Art. 8(3), 9(5)).
//!
//! Feed events go by age alone: those committed before the cut-off are removed whatever their
//! threat (the feed is a delivery log; a cursor older than what is kept resumes at the oldest
//! event kept). A removed threat's later events (an identification, a TLP change after the
//! cut-off) stay until they age out; reading that threat then answers NOT_FOUND.
//! Each batch commits with one audit record giving the counts and the SHA-256 of the removed
//! threat ids, so the chain proves what went and when; the audit log itself is never pruned.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::AssertSqlSafe;

use super::Store;
use super::audit::{self, Actor};
use crate::domain::clock::to_micros;

/// The least retention the 2009 mechanism Art. 10 allows.
pub const MIN_RETENTION_DAYS: u32 = 60;
/// Threats removed per transaction (and per audit record).
pub const BATCH: usize = 500;
/// The audit action of a retention batch.
pub const AUDIT_ACTION: &str = "retention.removed";

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub threats: u64,
    pub sightings: u64,
    pub feed_events: u64,
    pub identifications: u64,
}

/// Removes everything aged out at `now` under `retention_days`, in batches.
pub async fn sweep(
    store: &Store,
    now: DateTime<Utc>,
    retention_days: u32,
) -> anyhow::Result<Removed> {
    let cutoff = now - chrono::Duration::days(i64::from(retention_days));
    let mut total = Removed::default();
    // The feed first: removing an event removes TAXII's keys for its sighting, which are
    // computed from the sighting, and the threats' sweep then removes the sightings.
    loop {
        let n = sweep_feed(store, now, cutoff, retention_days).await?;
        total.feed_events += n;
        if n < BATCH as u64 * 10 {
            break;
        }
    }
    loop {
        let batch = sweep_threats(store, now, cutoff, retention_days).await?;
        total.threats += batch.threats;
        total.sightings += batch.sightings;
        total.identifications += batch.identifications;
        total.feed_events += batch.feed_events;
        if batch.threats < BATCH as u64 {
            break;
        }
    }
    Ok(total)
}

async fn sweep_threats(
    store: &Store,
    now: DateTime<Utc>,
    cutoff: DateTime<Utc>,
    retention_days: u32,
) -> anyhow::Result<Removed> {
    let mut tx = store.begin().await?;
    let ids: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT t.id FROM threats t \
         WHERE t.created_at < $1 \
           AND NOT EXISTS (SELECT 1 FROM sightings s WHERE s.threat_id = t.id AND s.received_at >= $1) \
           AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.threat_id = t.id) \
           AND NOT EXISTS (SELECT 1 FROM institution_tasks k WHERE k.threat_id = t.id AND k.done_at IS NULL) \
         ORDER BY t.id LIMIT {BATCH}{}",
        store.dialect().for_update()
    )))
    .bind(to_micros(cutoff))
    .fetch_all(&mut *tx)
    .await?;
    if ids.is_empty() {
        tx.rollback().await?;
        return Ok(Removed::default());
    }
    let list = (1..=ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut removed = Removed::default();
    for (table, column) in [
        ("sightings", "threat_id"),
        ("threat_responsible", "threat_id"),
        ("threat_provinces", "threat_id"),
        ("identifications", "threat_id"),
        ("threats", "id"),
    ] {
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE {column} IN ({list})"
        )));
        for id in &ids {
            q = q.bind(id);
        }
        let n = q.execute(&mut *tx).await?.rows_affected();
        match table {
            "sightings" => removed.sightings = n,
            "identifications" => removed.identifications = n,
            "threats" => removed.threats = n,
            _ => {}
        }
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    let digest = hex::encode(Sha256::digest(sorted.join("\n")));
    audit::append(
        &mut tx,
        store.dialect(),
        now,
        &Actor::system(),
        AUDIT_ACTION,
        "retention:threats",
        serde_json::json!({
            "article": "2009 mechanism Art. 10",
            "retention_days": retention_days,
            "cutoff": cutoff.to_rfc3339(),
            "threats": removed.threats,
            "sightings": removed.sightings,
            "identifications": removed.identifications,
            "threat_ids_sha256": digest,
            "first_threat_id": sorted.first(),
            "last_threat_id": sorted.last(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(removed)
}

/// Removes up to a batch of the oldest feed events committed before `cutoff`.
async fn sweep_feed(
    store: &Store,
    now: DateTime<Utc>,
    cutoff: DateTime<Utc>,
    retention_days: u32,
) -> anyhow::Result<u64> {
    let mut tx = store.begin().await?;
    // Positions follow commit order, so the old events are the first ones: read the oldest
    // and stop at the first one kept, rather than scanning the whole table for old ones.
    let oldest: Vec<(i64, i64)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT position, committed_at FROM feed_events ORDER BY position LIMIT {}",
        BATCH * 10
    )))
    .fetch_all(&mut *tx)
    .await?;
    let old = oldest
        .iter()
        .take_while(|(_, at)| *at < to_micros(cutoff))
        .last();
    let Some((last, _)) = old else {
        tx.rollback().await?;
        return Ok(0);
    };
    // TAXII's object keys name feed positions; computed from the sightings, so before they go.
    super::taxii::remove_object_keys_through(&mut tx, store.dialect(), *last).await?;
    let n = sqlx::query("DELETE FROM feed_events WHERE position <= $1")
        .bind(last)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    audit::append(
        &mut tx,
        store.dialect(),
        now,
        &Actor::system(),
        AUDIT_ACTION,
        "retention:feed",
        serde_json::json!({
            "article": "2009 mechanism Art. 10",
            "retention_days": retention_days,
            "cutoff": cutoff.to_rfc3339(),
            "feed_events": n,
            "through_position": last,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}
