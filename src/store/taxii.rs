//! What the TAXII 2.1 server reads and keeps: visible sightings in commit order (the feed's
//! positions) and the status resources of POSTs.

use sqlx::AssertSqlSafe;

use super::Store;
use super::bulk::{SqlValue, Statement};
use super::threats::{SIGHTING_COLUMNS, SightingRow, push_visibility};
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
/// exclusive) when given.
///
/// # Contract
/// Positions follow commit order (they are handed out under the feed head's lock, held to
/// commit), so a cursor over them never skips a sighting committed later nor repeats one.
pub async fn visible_sightings_committed(
    store: &Store,
    reader: &Reader,
    from: i64,
    added_after: Option<i64>,
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
    st.push(" AND ");
    push_visibility(&mut st, reader);
    st.push(&format!(" ORDER BY f.position LIMIT {limit}"));
    st.query_as().fetch_all(store.pool()).await
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
