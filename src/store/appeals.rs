//! Appeals (Art. 10) and their events.
//!
//! # Contract
//! - An appeal row holds the `Appeal` message as it now stands; every change
//!   rewrites it and appends an event in the same transaction.
//! - Event positions are taken under the `appeal_head` row lock, held to commit,
//!   so a watcher resuming from a cursor misses nothing.
//! - At most one open appeal per (notice, target, appellant): a unique partial index.

use sqlx::AssertSqlSafe;

use super::{Store, Tx};
use crate::domain::appeal::AppealState;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppealRow {
    pub id: String,
    pub notice_id: String,
    pub target_id: String,
    pub regulator: String,
    pub province: String,
    pub appellant_kind: i64,
    pub filer: String,
    pub appellant_key: String,
    /// Converted at this boundary: a number the contract does not define fails the read.
    #[sqlx(try_from = "i64")]
    pub state: AppealState,
    pub filed_at: i64,
    pub answer_due_at: Option<i64>,
    pub overdue: i64,
    pub body: Vec<u8>,
}

const COLUMNS: &str = "id, notice_id, target_id, regulator, province, appellant_kind, filer, \
     appellant_key, state, filed_at, answer_due_at, overdue, body";

pub async fn insert(tx: &mut Tx, a: &AppealRow) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO appeals ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    )))
    .bind(&a.id)
    .bind(&a.notice_id)
    .bind(&a.target_id)
    .bind(&a.regulator)
    .bind(&a.province)
    .bind(a.appellant_kind)
    .bind(&a.filer)
    .bind(&a.appellant_key)
    .bind(a.state as i64)
    .bind(a.filed_at)
    .bind(a.answer_due_at)
    .bind(a.overdue)
    .bind(&a.body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rewrites the changing columns and the message.
pub async fn update(tx: &mut Tx, a: &AppealRow) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE appeals SET state = $1, overdue = $2, body = $3 WHERE id = $4")
        .bind(a.state as i64)
        .bind(a.overdue)
        .bind(&a.body)
        .bind(&a.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sets the answer's due instant once the calendar of its year is loaded, with the message.
pub async fn set_answer_due(tx: &mut Tx, a: &AppealRow) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE appeals SET answer_due_at = $1, body = $2 WHERE id = $3")
        .bind(a.answer_due_at)
        .bind(&a.body)
        .bind(&a.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn get(store: &Store, id: &str) -> Result<Option<AppealRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM appeals WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(store.pool())
    .await
}

pub async fn lock(store: &Store, tx: &mut Tx, id: &str) -> Result<Option<AppealRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM appeals WHERE id = $1{}",
        store.dialect().for_update()
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The open appeal of this appellant on this target, if any.
pub async fn open_for(
    tx: &mut Tx,
    notice_id: &str,
    target_id: &str,
    appellant_key: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM appeals WHERE notice_id = $1 AND target_id = $2 AND appellant_key = $3 AND state = 1",
    )
    .bind(notice_id)
    .bind(target_id)
    .bind(appellant_key)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Appeals on these notices (any state), oldest first.
pub async fn on_notices(
    store: &Store,
    notice_ids: &[String],
) -> Result<Vec<AppealRow>, sqlx::Error> {
    super::fetch_in(
        store,
        &format!("SELECT {COLUMNS} FROM appeals WHERE notice_id IN ({{in}}) ORDER BY id"),
        notice_ids,
    )
    .await
}

/// Appeals answered by revocation of this target: they learn it was lifted.
pub async fn revoked_on_target(
    tx: &mut Tx,
    notice_id: &str,
    target_id: &str,
) -> Result<Vec<AppealRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM appeals WHERE notice_id = $1 AND target_id = $2 AND state = 3"
    )))
    .bind(notice_id)
    .bind(target_id)
    .fetch_all(&mut **tx)
    .await
}

#[derive(Debug, Default)]
pub struct AppealFilter {
    /// Appeals this organisation filed or must answer.
    pub party: Option<String>,
    /// Or of this province (provincial regulators).
    pub province: Option<String>,
    pub notice_id: Option<String>,
    pub states: Vec<i64>,
    pub overdue_only: bool,
    /// Open appeals whose answer is due at or before this instant (micros): `answer_due_at`.
    pub answer_due_by: Option<i64>,
    /// Keyset: ids below this one (newest first).
    pub before_id: Option<String>,
}

pub async fn list(
    store: &Store,
    f: &AppealFilter,
    limit: u32,
) -> Result<Vec<AppealRow>, sqlx::Error> {
    let mut clauses = vec!["1 = 1".to_owned()];
    let mut binds: Vec<String> = Vec::new();
    let next = |v: &str, binds: &mut Vec<String>| {
        binds.push(v.to_owned());
        format!("${}", binds.len())
    };
    match (&f.party, &f.province) {
        (Some(p), Some(prov)) => {
            let a = next(p, &mut binds);
            let b = next(prov, &mut binds);
            clauses.push(format!(
                "(filer = {a} OR regulator = {a} OR province = {b})"
            ));
        }
        (Some(p), None) => {
            let a = next(p, &mut binds);
            clauses.push(format!("(filer = {a} OR regulator = {a})"));
        }
        (None, Some(prov)) => {
            let b = next(prov, &mut binds);
            clauses.push(format!("province = {b}"));
        }
        (None, None) => {}
    }
    if let Some(n) = &f.notice_id {
        let a = next(n, &mut binds);
        clauses.push(format!("notice_id = {a}"));
    }
    if let Some(b) = &f.before_id {
        let a = next(b, &mut binds);
        clauses.push(format!("id < {a}"));
    }
    if !f.states.is_empty() {
        clauses.push(format!(
            "state IN ({})",
            f.states
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if f.overdue_only {
        clauses.push("overdue = 1".into());
    }
    if let Some(by) = f.answer_due_by {
        // An integer the server computed, not the caller's text.
        clauses.push(format!(
            "state = 1 AND answer_due_at IS NOT NULL AND answer_due_at <= {by}"
        ));
    }
    let mut q = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM appeals WHERE {} ORDER BY id DESC LIMIT {limit}",
        clauses.join(" AND ")
    )));
    for b in &binds {
        q = q.bind(b);
    }
    q.fetch_all(store.pool()).await
}

// --- events ---

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub position: i64,
    pub appeal_id: String,
    pub kind: i64,
    pub occurred_at: i64,
    pub body: Vec<u8>,
}

/// Appends an event under the head lock (held to commit).
pub async fn append_event(
    store: &Store,
    tx: &mut Tx,
    appeal_id: &str,
    kind: i64,
    occurred_at: i64,
    body: &[u8],
) -> Result<i64, sqlx::Error> {
    let sql = format!(
        "SELECT position FROM appeal_head WHERE id = 1{}",
        store.dialect().for_update()
    );
    let (p,): (i64,) = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_one(&mut **tx)
        .await?;
    let position = p + 1;
    sqlx::query("UPDATE appeal_head SET position = $1 WHERE id = 1")
        .bind(position)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO appeal_events (position, appeal_id, kind, occurred_at, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(position)
    .bind(appeal_id)
    .bind(kind)
    .bind(occurred_at)
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(position)
}

pub async fn event_head(store: &Store) -> Result<i64, sqlx::Error> {
    let (p,): (i64,) = sqlx::query_as("SELECT position FROM appeal_head WHERE id = 1")
        .fetch_one(store.pool())
        .await?;
    Ok(p)
}

/// Events after `position`, of one appeal or of all.
pub async fn events_after(
    store: &Store,
    appeal_id: Option<&str>,
    position: i64,
    limit: u32,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let cols = "position, appeal_id, kind, occurred_at, body";
    match appeal_id {
        Some(a) => {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {cols} FROM appeal_events WHERE appeal_id = $1 AND position > $2 ORDER BY position LIMIT {limit}"
            )))
            .bind(a)
            .bind(position)
            .fetch_all(store.pool())
            .await
        }
        None => {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {cols} FROM appeal_events WHERE position > $1 ORDER BY position LIMIT {limit}"
            )))
            .bind(position)
            .fetch_all(store.pool())
            .await
        }
    }
}
