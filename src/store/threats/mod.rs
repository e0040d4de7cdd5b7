//! Threats, sightings and the feed. The intake's batch write ([`ingest`]) is in
//! `batch.rs`, the feed's events (read by position, written at commit) in `feed.rs`.
//!
//! # Contract
//! - [`ingest`] stores a batch in one transaction: idempotency, dedup into
//!   sightings, feed events and one audit record per sighting. It returns only
//!   after the commit, so an acknowledgement means the item is durable.
//! - Feed positions are taken under the `feed_head` row lock, held to commit:
//!   positions follow commit order on every replica, and a reader that has seen
//!   position P has seen every committed position below it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::audit::{self, Actor, AuditEntry};
use super::bulk::{self, SqlValue, Statement};
use super::{Dialect, Store, Tx};
use crate::domain::calendar::WorkingCalendar;
use crate::domain::clock::to_micros;
use crate::domain::policy::DeadlinePolicy;
use crate::domain::reporting;
use crate::domain::threat::visibility::Reader;
use crate::domain::threat::{Category, Submission, Tlp};

mod batch;
mod feed;

pub use batch::ingest;
pub use feed::*;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThreatRow {
    pub id: String,
    pub category: i64,
    pub dedup_key: Option<String>,
    pub indicator: String,
    /// Converted at this boundary: a number the contract does not define fails the read.
    #[sqlx(try_from = "i64")]
    pub status: crate::domain::threat::ThreatStatus,
    pub grade: i64,
    pub created_at: i64,
    pub identification_json: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SightingRow {
    pub id: String,
    pub threat_id: String,
    pub reporter_org: String,
    pub reporter_province: String,
    pub submission_id: String,
    pub content_sha256: String,
    pub tlp: i64,
    pub discovered_at: i64,
    pub received_at: i64,
    pub created_threat: i64,
    pub report: Vec<u8>,
    pub report_due: Option<i64>,
    pub report_deadline: Option<String>,
    pub reported_late: i64,
}

const THREAT_COLUMNS: &str =
    "id, category, dedup_key, indicator, status, grade, created_at, identification_json";
pub(super) const SIGHTING_COLUMNS: &str = "s.id, s.threat_id, s.reporter_org, s.reporter_province, s.submission_id, \
     s.content_sha256, s.tlp, s.discovered_at, s.received_at, s.created_threat, s.report, \
     s.report_due, s.report_deadline, s.reported_late";

/// One submission to store, with who sent it.
#[derive(Debug, Clone)]
pub struct IngestItem {
    pub actor: Actor,
    /// Units responsible for the report's resources (routed at the edge, Art. 9).
    pub responsible: Vec<String>,
    /// Provinces the report's resources lie in: their regulators see it (Art. 6).
    pub provinces: Vec<String>,
    /// The reporter's province, kept on the sighting for regulators' visibility.
    pub province: String,
    /// What the reporter may see: a follow-up may only name a threat visible to it, or the
    /// answer would reveal an invisible threat (and NOT_FOUND alone would be an existence oracle).
    pub reader: Reader,
    pub submission: Submission,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    Stored {
        threat_id: String,
        sighting_id: String,
        created_threat: bool,
        committed_at: i64,
        replayed: bool,
    },
    Refused(Refusal),
}

/// Refusals that depend on what is stored (the edge refuses malformed input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Same idempotency key, different content.
    Conflict { submission_id: String },
    /// A follow-up names a threat that does not exist.
    UnknownThreat { threat_id: String },
    /// A follow-up's category differs from its threat's.
    CategoryMismatch { threat_id: String },
}

impl Refusal {
    /// The field of `SubmitThreatRequest` at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Refusal::Conflict { .. } => "submission_id",
            Refusal::UnknownThreat { .. } => "report.follows_up_threat_id",
            Refusal::CategoryMismatch { .. } => "report.category",
        }
    }

    /// Why, in words every edge shows.
    pub fn reason(&self) -> String {
        match self {
            Refusal::Conflict { submission_id } => format!(
                "submission {submission_id} was already accepted with other content; a retry must resend the same report"
            ),
            Refusal::UnknownThreat { threat_id } => format!(
                "report.follows_up_threat_id: threat {threat_id} does not exist or is not visible to you (reporting measures Art. 16)"
            ),
            Refusal::CategoryMismatch { threat_id } => format!(
                "a follow-up keeps the category of threat {threat_id} (reporting measures Art. 16)"
            ),
        }
    }
}

/// Appends the visibility rule for sightings aliased `s` (see `domain::threat::visibility`).
pub(super) fn push_visibility(st: &mut Statement, reader: &Reader) {
    let responsible = |st: &mut Statement, org: &str| {
        st.push(" OR (s.tlp IN (3, 4) AND EXISTS (SELECT 1 FROM threat_responsible r WHERE r.threat_id = s.threat_id AND r.org_id = ");
        st.bind(SqlValue::Text(org.to_owned())).push("))");
    };
    match reader {
        Reader::Everything => {
            st.push("1 = 1");
        }
        Reader::Province { province, org } => {
            st.push("(s.reporter_province = ")
                .bind(SqlValue::Text(province.clone()));
            st.push(" OR EXISTS (SELECT 1 FROM threat_provinces p WHERE p.threat_id = s.threat_id AND p.province = ")
                .bind(SqlValue::Text(province.clone()))
                .push(")");
            st.push(" OR s.reporter_org = ")
                .bind(SqlValue::Text(org.clone()));
            st.push(" OR s.tlp IN (1, 2)");
            responsible(st, org);
            st.push(")");
        }
        Reader::Unit { org, sees_green } => {
            st.push("(s.reporter_org = ")
                .bind(SqlValue::Text(org.clone()));
            st.push(if *sees_green {
                " OR s.tlp IN (1, 2)"
            } else {
                " OR s.tlp = 1"
            });
            responsible(st, org);
            st.push(")");
        }
    }
}

pub async fn get_threat(store: &Store, id: &str) -> Result<Option<ThreatRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {THREAT_COLUMNS} FROM threats WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(store.pool())
    .await
}

/// Sightings of a threat the reader may see, newest first, after `before_id` (keyset).
pub async fn visible_sightings(
    store: &Store,
    threat_id: &str,
    reader: &Reader,
    before_id: Option<&str>,
    limit: u32,
) -> Result<Vec<SightingRow>, sqlx::Error> {
    let mut st = Statement::new(
        store.dialect(),
        &format!("SELECT {SIGHTING_COLUMNS} FROM sightings s WHERE s.threat_id = "),
    );
    st.bind(SqlValue::Text(threat_id.to_owned())).push(" AND ");
    push_visibility(&mut st, reader);
    if let Some(b) = before_id {
        st.push(" AND s.id < ").bind(SqlValue::Text(b.to_owned()));
    }
    st.push(&format!(" ORDER BY s.id DESC LIMIT {limit}"));
    st.query_as().fetch_all(store.pool()).await
}

/// Sightings the reader may see (as [`visible_sightings`]), received in [from, until), of
/// these categories (empty: all), oldest first after the `(received_at, id)` cursor: the
/// STIX export.
pub async fn visible_sightings_received(
    store: &Store,
    reader: &Reader,
    (from, until): (i64, i64),
    categories: &[i64],
    after: Option<(i64, &str)>,
    limit: u32,
) -> Result<Vec<SightingRow>, sqlx::Error> {
    let mut st = Statement::new(
        store.dialect(),
        &format!(
            "SELECT {SIGHTING_COLUMNS} FROM sightings s JOIN threats t ON t.id = s.threat_id WHERE s.received_at >= "
        ),
    );
    st.bind(SqlValue::Int(from)).push(" AND s.received_at < ");
    st.bind(SqlValue::Int(until)).push(" AND ");
    push_visibility(&mut st, reader);
    if !categories.is_empty() {
        st.push(" AND t.category IN (");
        for (i, c) in categories.iter().enumerate() {
            if i > 0 {
                st.push(", ");
            }
            st.bind(SqlValue::Int(*c));
        }
        st.push(")");
    }
    if let Some((at, id)) = after {
        st.push(" AND (s.received_at > ").bind(SqlValue::Int(at));
        st.push(" OR (s.received_at = ").bind(SqlValue::Int(at));
        st.push(" AND s.id > ")
            .bind(SqlValue::Text(id.to_owned()))
            .push("))");
    }
    st.push(&format!(" ORDER BY s.received_at, s.id LIMIT {limit}"));
    st.query_as().fetch_all(store.pool()).await
}

pub async fn get_sighting(store: &Store, id: &str) -> Result<Option<SightingRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SIGHTING_COLUMNS} FROM sightings s WHERE s.id = $1"
    )))
    .bind(id)
    .fetch_optional(store.pool())
    .await
}

/// Count, first and last discovery over the sightings the reader may see.
#[derive(Debug, Clone, Copy, Default)]
pub struct SightingStats {
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
}

pub async fn sighting_stats(
    store: &Store,
    threat_ids: &[String],
    reader: &Reader,
) -> Result<HashMap<String, SightingStats>, sqlx::Error> {
    if threat_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut st = Statement::new(
        store.dialect(),
        "SELECT s.threat_id, COUNT(*), MIN(s.discovered_at), MAX(s.discovered_at) FROM sightings s WHERE s.threat_id IN (",
    );
    st.bind_list(threat_ids.iter().map(|t| SqlValue::Text(t.clone())))
        .push(") AND ");
    push_visibility(&mut st, reader);
    st.push(" GROUP BY s.threat_id");
    let rows: Vec<(String, i64, i64, i64)> = st.query_as().fetch_all(store.pool()).await?;
    Ok(rows
        .into_iter()
        .map(|(t, count, first_seen, last_seen)| {
            (
                t,
                SightingStats {
                    count,
                    first_seen,
                    last_seen,
                },
            )
        })
        .collect())
}

#[derive(Debug, Default, Clone)]
pub struct ThreatFilter {
    /// Exact dedup keys or indicators to match (any of them).
    pub indicators: Vec<String>,
    pub category: Option<i64>,
    pub seen_from: Option<i64>,
    pub seen_before: Option<i64>,
    pub statuses: Vec<i64>,
    /// Keyset: threats with an id below this one (newest first).
    pub before_id: Option<String>,
}

/// `SELECT <threat columns> FROM threats t WHERE EXISTS (<a sighting the reader
/// may see>` — left open, so the caller can add sighting conditions and close it.
fn threats_with_visible_sighting(store: &Store, reader: &Reader) -> Statement {
    let columns: Vec<String> = THREAT_COLUMNS
        .split(", ")
        .map(|c| format!("t.{c}"))
        .collect();
    let mut st = Statement::new(
        store.dialect(),
        &format!(
            "SELECT {} FROM threats t WHERE EXISTS (SELECT 1 FROM sightings s WHERE s.threat_id = t.id AND ",
            columns.join(", ")
        ),
    );
    push_visibility(&mut st, reader);
    st
}

/// Threats with a sighting the reader may see that matches `filter`, newest first.
pub async fn search(
    store: &Store,
    filter: &ThreatFilter,
    reader: &Reader,
    limit: u32,
) -> Result<Vec<ThreatRow>, sqlx::Error> {
    let mut st = threats_with_visible_sighting(store, reader);
    if let Some(f) = filter.seen_from {
        st.push(" AND s.discovered_at >= ").bind(SqlValue::Int(f));
    }
    if let Some(b) = filter.seen_before {
        st.push(" AND s.discovered_at < ").bind(SqlValue::Int(b));
    }
    st.push(")");
    if !filter.indicators.is_empty() {
        st.push(" AND (t.dedup_key IN (");
        st.bind_list(filter.indicators.iter().map(|i| SqlValue::Text(i.clone())));
        st.push(") OR t.indicator IN (");
        st.bind_list(filter.indicators.iter().map(|i| SqlValue::Text(i.clone())));
        st.push("))");
    }
    if let Some(c) = filter.category {
        st.push(" AND t.category = ").bind(SqlValue::Int(c));
    }
    if !filter.statuses.is_empty() {
        st.push(" AND t.status IN (");
        st.bind_list(filter.statuses.iter().map(|s| SqlValue::Int(*s)));
        st.push(")");
    }
    if let Some(b) = &filter.before_id {
        st.push(" AND t.id < ").bind(SqlValue::Text(b.clone()));
    }
    st.push(&format!(" ORDER BY t.id DESC LIMIT {limit}"));
    st.query_as().fetch_all(store.pool()).await
}

/// Rows whose `id` is among `ids`, keyed by id; `select` ends with `WHERE <id column> IN (`.
async fn rows_by_id<T>(
    store: &Store,
    select: &str,
    ids: &[String],
    id_of: fn(&T) -> &str,
) -> Result<HashMap<String, T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let mut st = Statement::new(store.dialect(), select);
        st.bind_list(chunk.iter().map(|i| SqlValue::Text(i.clone())))
            .push(")");
        let rows: Vec<T> = st.query_as().fetch_all(store.pool()).await?;
        out.extend(rows.into_iter().map(|r| (id_of(&r).to_owned(), r)));
    }
    Ok(out)
}

pub async fn sightings_by_id(
    store: &Store,
    ids: &[String],
) -> Result<HashMap<String, SightingRow>, sqlx::Error> {
    let select = format!("SELECT {SIGHTING_COLUMNS} FROM sightings s WHERE s.id IN (");
    rows_by_id(store, &select, ids, |r: &SightingRow| &r.id).await
}

pub async fn threats_by_id(
    store: &Store,
    ids: &[String],
) -> Result<HashMap<String, ThreatRow>, sqlx::Error> {
    let select = format!("SELECT {THREAT_COLUMNS} FROM threats WHERE id IN (");
    rows_by_id(store, &select, ids, |r: &ThreatRow| &r.id).await
}

/// Threats among `ids` for which `org` is a responsible unit.
pub async fn responsible_for(
    store: &Store,
    org: &str,
    ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    threats_keyed(store, "threat_responsible", "org_id", org, ids).await
}

/// Threats among `ids` about a resource lying in `province` (Art. 6).
pub async fn in_province(
    store: &Store,
    province: &str,
    ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    threats_keyed(store, "threat_provinces", "province", province, ids).await
}

/// Threats among `ids` with a row (threat_id, `column` = `key`) in `table`.
async fn threats_keyed(
    store: &Store,
    table: &str,
    column: &str,
    key: &str,
    ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut st = Statement::new(
        store.dialect(),
        &format!("SELECT threat_id FROM {table} WHERE {column} = "),
    );
    st.bind(SqlValue::Text(key.to_owned()))
        .push(" AND threat_id IN (");
    st.bind_list(ids.iter().map(|i| SqlValue::Text(i.clone())))
        .push(")");
    let rows: Vec<(String,)> = st.query_as().fetch_all(store.pool()).await?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

/// Every sighting of a threat as (its current TLP, its encoded report), oldest first, in `tx`:
/// the identification reads the scales reported (2009 mechanism Art. 7), a notice the facts
/// the addressee needs (Art. 8(3)).
pub async fn reports_of(tx: &mut Tx, threat_id: &str) -> Result<Vec<(i64, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as("SELECT tlp, report FROM sightings WHERE threat_id = $1 ORDER BY id")
        .bind(threat_id)
        .fetch_all(&mut **tx)
        .await
}

/// Records `org` as responsible for the threat's indicators (Art. 9 routing).
pub async fn add_responsible(tx: &mut Tx, threat_id: &str, org: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO threat_responsible (threat_id, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(threat_id)
    .bind(org)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The Art. 7 queue: unidentified threats the reader may see, oldest first.
pub async fn unidentified(
    store: &Store,
    reader: &Reader,
    category: Option<i64>,
    after_id: &str,
    limit: u32,
) -> Result<Vec<ThreatRow>, sqlx::Error> {
    let mut st = threats_with_visible_sighting(store, reader);
    st.push(") AND t.status = 1 AND t.id > ")
        .bind(SqlValue::Text(after_id.to_owned()));
    if let Some(c) = category {
        st.push(" AND t.category = ").bind(SqlValue::Int(c));
    }
    st.push(&format!(" ORDER BY t.id LIMIT {limit}"));
    st.query_as().fetch_all(store.pool()).await
}
