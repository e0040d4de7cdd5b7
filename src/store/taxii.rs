//! What the TAXII 2.1 server reads and keeps: visible sightings in commit order (the feed's
//! positions), the index of the STIX ids they are served under, and the status resources of
//! POSTs.

use prost::Message as _;
use sqlx::AssertSqlSafe;

use super::bulk::{self, SqlValue, Statement};
use super::threats::{SIGHTING_COLUMNS, SightingRow, push_visibility};
use super::{Store, Tx};
use crate::domain::threat::visibility::Reader;

/// A sighting with the feed position and time its commit was given.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommittedSighting {
    pub position: i64,
    pub committed_at: i64,
    #[sqlx(flatten)]
    pub sighting: SightingRow,
}

/// Sightings the reader may see (the TLP rule of `domain::threat::visibility`), in commit
/// order from feed position `from` (inclusive), committed after `added_after` (micros,
/// exclusive) when given, and, when `object_ids` is not empty, only those the feed serves one
/// of these STIX objects for (through the index, not a scan).
///
/// # Contract
/// Positions follow commit order (they are handed out under the feed head's lock, held to
/// commit), so a cursor over them never skips a sighting committed later nor repeats one.
pub async fn visible_sightings_committed(
    store: &Store,
    reader: &Reader,
    from: i64,
    added_after: Option<i64>,
    object_ids: &[String],
    limit: u32,
) -> Result<Vec<CommittedSighting>, sqlx::Error> {
    let mut st = Statement::new(
        store.dialect(),
        &format!(
            "SELECT f.position, f.committed_at, {SIGHTING_COLUMNS} FROM feed_events f \
             JOIN sightings s ON s.id = f.sighting_id \
             WHERE f.kind IN ('new_threat', 'new_sighting') AND f.position >= "
        ),
    );
    st.bind(SqlValue::Int(from));
    if let Some(after) = added_after {
        st.push(" AND f.committed_at > ").bind(SqlValue::Int(after));
    }
    if !object_ids.is_empty() {
        let keys: Vec<i64> = object_ids
            .iter()
            .filter_map(|id| crate::stix::object_key(id))
            .collect();
        if keys.is_empty() {
            // Not one of them is an id a stored object could have.
            return Ok(Vec::new());
        }
        st.push(" AND f.position IN (SELECT position FROM stix_object_keys WHERE object_key IN (");
        for (i, key) in keys.into_iter().enumerate() {
            if i > 0 {
                st.push(", ");
            }
            st.bind(SqlValue::Int(key));
        }
        st.push("))");
    }
    st.push(" AND ");
    push_visibility(&mut st, reader);
    st.push(&format!(" ORDER BY f.position LIMIT {limit}"));
    st.query_as().fetch_all(store.pool()).await
}

/// The index rows of one stored sighting at feed `position`: the key
/// ([`crate::stix::object_key`]) of each object the feed serves for it
/// (`stix::export::sighting_object_ids`). `report` is the stored `ThreatReport`; one that
/// does not decode is served as no objects, so it has no rows.
pub fn object_key_rows(position: i64, sighting_id: &str, report: &[u8]) -> Vec<Vec<SqlValue>> {
    object_keys(sighting_id, report)
        .into_iter()
        .map(|key| vec![SqlValue::Int(key), SqlValue::Int(position)])
        .collect()
}

/// A sighting the feed served: its feed position, id and stored `ThreatReport`.
type ServedSighting = (i64, String, Vec<u8>);

/// The sightings the feed served (`new_threat` / `new_sighting` events) at positions in
/// `(after, through]`, in feed order, at most `limit`: what the index keys are computed from.
async fn served_sightings(
    tx: &mut Tx,
    after: i64,
    through: i64,
    limit: i64,
) -> Result<Vec<ServedSighting>, sqlx::Error> {
    sqlx::query_as(
        "SELECT f.position, s.id, s.report FROM feed_events f \
         JOIN sightings s ON s.id = f.sighting_id \
         WHERE f.kind IN ('new_threat', 'new_sighting') AND f.position > $1 \
         AND f.position <= $2 ORDER BY f.position LIMIT $3",
    )
    .bind(after)
    .bind(through)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// The `(object_key, position)` index rows of served sightings.
fn key_pairs(rows: &[ServedSighting]) -> Vec<(i64, i64)> {
    rows.iter()
        .flat_map(|(position, id, report)| {
            object_keys(id, report)
                .into_iter()
                .map(|key| (key, *position))
        })
        .collect()
}

fn object_keys(sighting_id: &str, report: &[u8]) -> Vec<i64> {
    let Ok(report) = crate::pb::ThreatReport::decode(report) else {
        return Vec::new();
    };
    crate::stix::export::sighting_object_ids(sighting_id, &report)
        .iter()
        .filter_map(|id| crate::stix::object_key(id))
        .collect()
}

/// Writes index rows in the caller's transaction (the intake's: a sighting and its keys
/// commit together). A row already there is kept (a backfill running beside the intake).
pub async fn insert_object_keys(
    tx: &mut Tx,
    dialect: super::Dialect,
    rows: Vec<Vec<SqlValue>>,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(500) {
        bulk::insert_new(
            tx,
            dialect,
            "stix_object_keys",
            &["object_key", "position"],
            chunk.to_vec(),
        )
        .await?;
    }
    Ok(())
}

/// Removes the index rows of the sightings served at feed positions up to `through` (the
/// feed events retention is about to remove), in the caller's transaction. Their keys are
/// computed again from the sightings, so this must run before the sightings go.
pub async fn remove_object_keys_through(
    tx: &mut Tx,
    dialect: super::Dialect,
    through: i64,
) -> Result<u64, sqlx::Error> {
    if !object_index_enabled(tx).await? {
        return Ok(0);
    }
    let pairs = key_pairs(&served_sightings(tx, 0, through, i64::MAX).await?);
    let mut removed = 0;
    for chunk in pairs.chunks(400) {
        let mut st = Statement::new(
            dialect,
            "DELETE FROM stix_object_keys WHERE (object_key, position) IN (VALUES ",
        );
        for (i, (key, position)) in chunk.iter().enumerate() {
            st.push(if i > 0 { ", (" } else { "(" });
            st.bind(SqlValue::Int(*key))
                .push(", ")
                .bind(SqlValue::Int(*position))
                .push(")");
        }
        st.push(")");
        removed += st.execute(tx).await?;
    }
    Ok(removed)
}

/// Whether this database keeps the object-id index. The intake reads it after taking the
/// `feed_head` lock, so no batch committed after [`enable_object_index`] goes unindexed.
pub async fn object_index_enabled(tx: &mut Tx) -> Result<bool, sqlx::Error> {
    let enabled: i64 = sqlx::query_scalar("SELECT enabled FROM stix_object_index WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    Ok(enabled != 0)
}

/// Turns the object-id index on for this database (a server that serves TAXII does so before
/// it listens), under the `feed_head` lock every intake batch holds: batches committed before
/// are left to [`backfill_object_ids`], whose mark this sets; later ones index themselves.
/// Returns whether it was off.
///
/// # Errors
/// Storage failures.
pub async fn enable_object_index(store: &Store) -> Result<bool, sqlx::Error> {
    let mut tx = store.begin().await?;
    let lock = format!(
        "SELECT position FROM feed_head WHERE id = 1{}",
        store.dialect().for_update()
    );
    sqlx::query(sqlx::AssertSqlSafe(lock))
        .execute(&mut *tx)
        .await?;
    if object_index_enabled(&mut tx).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query("UPDATE stix_object_index SET enabled = 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM stix_object_keys_backfill")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO stix_object_keys_backfill (id, after_position) VALUES (1, 0)")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Indexes the sightings the feed served before the index was kept (the mark in
/// `stix_object_keys_backfill` that turning it on, or migration 0025, leaves), in feed order,
/// in batches that each commit with the mark moved past them, so a restart resumes. Returns
/// the sightings indexed; 0 once done.
///
/// # Errors
/// Storage failures.
pub async fn backfill_object_ids(store: &Store) -> Result<u64, sqlx::Error> {
    const BATCH: i64 = 1000;
    let mut done = 0u64;
    loop {
        let mut tx = store.begin().await?;
        let mark: Option<(i64,)> =
            sqlx::query_as("SELECT after_position FROM stix_object_keys_backfill WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await?;
        let Some((after,)) = mark else {
            tx.rollback().await?;
            return Ok(done);
        };
        let rows = served_sightings(&mut tx, after, i64::MAX, BATCH).await?;
        let index: Vec<Vec<SqlValue>> = key_pairs(&rows)
            .into_iter()
            .map(|(key, position)| vec![SqlValue::Int(key), SqlValue::Int(position)])
            .collect();
        insert_object_keys(&mut tx, store.dialect(), index).await?;
        match rows.last() {
            Some((last, ..)) if rows.len() as i64 == BATCH => {
                sqlx::query(
                    "UPDATE stix_object_keys_backfill SET after_position = $1 WHERE id = 1",
                )
                .bind(last)
                .execute(&mut *tx)
                .await?;
            }
            _ => {
                sqlx::query("DELETE FROM stix_object_keys_backfill WHERE id = 1")
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        done += rows.len() as u64;
    }
}

/// Stores `org`'s STIX import defaults (an encoded `StixImportDefaults`), replacing earlier
/// ones, and the audit record, in one transaction.
pub async fn set_import_defaults(
    store: &Store,
    actor: &super::audit::Actor,
    now: chrono::DateTime<chrono::Utc>,
    org: &str,
    defaults: &[u8],
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO stix_import_defaults (org_id, defaults, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id) DO UPDATE SET defaults = excluded.defaults, updated_at = excluded.updated_at",
    )
    .bind(org)
    .bind(defaults)
    .bind(crate::domain::clock::to_micros(now))
    .execute(&mut *tx)
    .await?;
    super::audit::append(
        &mut tx,
        store.dialect(),
        now,
        actor,
        "stix.import_defaults.set",
        &format!("organisation:{org}"),
        details,
    )
    .await?;
    tx.commit().await
}

/// Removes `org`'s STIX import defaults, with the audit record, in one transaction; whether
/// there were any.
pub async fn clear_import_defaults(
    store: &Store,
    actor: &super::audit::Actor,
    now: chrono::DateTime<chrono::Utc>,
    org: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = store.begin().await?;
    let removed = sqlx::query("DELETE FROM stix_import_defaults WHERE org_id = $1")
        .bind(org)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    super::audit::append(
        &mut tx,
        store.dialect(),
        now,
        actor,
        "stix.import_defaults.clear",
        &format!("organisation:{org}"),
        serde_json::json!({ "removed": removed }),
    )
    .await?;
    tx.commit().await?;
    Ok(removed)
}

/// `org`'s stored STIX import defaults (encoded) and when they were set (micros).
pub async fn get_import_defaults(
    store: &Store,
    org: &str,
) -> Result<Option<(Vec<u8>, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT defaults, updated_at FROM stix_import_defaults WHERE org_id = $1")
        .bind(org)
        .fetch_optional(store.pool())
        .await
}

/// Keeps a status resource.
pub async fn insert_status(
    store: &Store,
    id: &str,
    org: &str,
    created_at: i64,
    status_json: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO taxii_statuses (id, org_id, created_at, status_json) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(org)
    .bind(created_at)
    .bind(status_json)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// The status resource `id`, if `org` posted it.
pub async fn get_status(store: &Store, id: &str, org: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(AssertSqlSafe(
        "SELECT status_json FROM taxii_statuses WHERE id = $1 AND org_id = $2".to_owned(),
    ))
    .bind(id)
    .bind(org)
    .fetch_optional(store.pool())
    .await?;
    Ok(row.map(|(j,)| j))
}

/// Whose disposal notices a reader sees: DisposalService.ListNotices's scope.
#[derive(Debug, Clone)]
pub enum NoticeReader {
    /// `allow`: every notice.
    All,
    /// `province`: notices of this province, and those addressed to `org`.
    Province { province: String, org: String },
    /// `own`: the notices addressed to `org`.
    Addressee(String),
}

/// A disposal notice: a measure a regulator ordered (Art. 8).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderedMeasure {
    pub position: i64,
    pub issued_at: i64,
    pub id: String,
    pub threat_id: String,
    /// The signed `NoticeBody`.
    pub body: Vec<u8>,
}

/// Disposal notices the reader sees, in delivery order from position `from` (inclusive),
/// issued after `added_after` (micros, exclusive) when given.
///
/// # Contract
/// Notice positions are handed out under the notice head's lock, held to commit: they follow
/// commit order, as the feed's do.
pub async fn visible_measures(
    store: &Store,
    reader: &NoticeReader,
    from: i64,
    added_after: Option<i64>,
    limit: u32,
) -> Result<Vec<OrderedMeasure>, sqlx::Error> {
    let mut st = Statement::new(
        store.dialect(),
        "SELECT position, issued_at, id, threat_id, body FROM notices WHERE kind = 1 AND position >= ",
    );
    st.bind(SqlValue::Int(from));
    if let Some(after) = added_after {
        st.push(" AND issued_at > ").bind(SqlValue::Int(after));
    }
    match reader {
        NoticeReader::All => {}
        NoticeReader::Province { province, org } => {
            st.push(" AND (province = ")
                .bind(SqlValue::Text(province.clone()))
                .push(" OR addressee = ")
                .bind(SqlValue::Text(org.clone()))
                .push(")");
        }
        NoticeReader::Addressee(org) => {
            st.push(" AND addressee = ")
                .bind(SqlValue::Text(org.clone()));
        }
    }
    st.push(&format!(" ORDER BY position LIMIT {limit}"));
    st.query_as().fetch_all(store.pool()).await
}
