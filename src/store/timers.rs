//! Durable timers: rows `(id, due_at, kind, subject, payload)` that a scheduler on every
//! replica claims and fires exactly once (see [`crate::timers`]).
//!
//! # Contract
//! - [`schedule`], [`schedule_after`] and [`cancel`] run in the caller's transaction: a timer
//!   exists exactly when the change that needs it commits.
//! - A deadline that runs past the loaded calendar years is stored *pending calendar*
//!   (`due_at` NULL, with the event instant and limit), raises an operator alert, and is
//!   computed by [`schedule_pending`] in the transaction that loads the missing year, which
//!   also runs each kind's follow-up ([`crate::timers::TimerHandler::deadline_known`]).
//! - [`claim_due`] locks the rows it returns until the transaction ends; on PostgreSQL other
//!   replicas skip them (`FOR UPDATE SKIP LOCKED`), on SQLite the write lock excludes them.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};

use super::{Dialect, Store, Tx};
use crate::domain::calendar::{CalendarError, WorkingCalendar};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::policy::TimeLimit;

/// A timer as its handler sees it: fallen due, or (pending calendar) just computed.
#[derive(Debug, Clone)]
pub struct DueTimer {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub payload: serde_json::Value,
    pub due_at: DateTime<Utc>,
}

/// Where a deadline ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduled {
    At(DateTime<Utc>),
    /// The deadline runs past the last loaded year; it is computed when `needs_year` is loaded.
    PendingCalendar {
        needs_year: i32,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The event lies before or between the loaded years, or the limit is invalid.
    #[error(transparent)]
    Calendar(CalendarError),
    #[error("storing the timer: {0}")]
    Store(#[from] sqlx::Error),
    #[error("reading the loaded calendar years: {0:#}")]
    CalendarData(anyhow::Error),
}

/// One row of the table, for inspection.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TimerRow {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub payload_json: String,
    pub due_at: Option<i64>,
    pub pending_event_at: Option<i64>,
    pub pending_limit: Option<String>,
    pub fired_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertRow {
    pub id: String,
    pub raised_at: i64,
    pub kind: String,
    pub subject: String,
    pub message: String,
    pub resolved_at: Option<i64>,
}

/// The alert raised while a timer waits for the calendar of a later year.
pub const ALERT_CALENDAR_MISSING: &str = "calendar.year_missing";

fn alert_subject(timer_id: &str) -> String {
    format!("timer:{timer_id}")
}

/// Schedules `kind` for `subject` at `due_at`; returns the timer's id.
#[tracing::instrument(skip_all, fields(kind, subject))]
pub async fn schedule(
    tx: &mut Tx,
    due_at: DateTime<Utc>,
    kind: &str,
    subject: &str,
    payload: serde_json::Value,
) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO timers (id, kind, subject, payload_json, due_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(kind)
    .bind(subject)
    .bind(payload.to_string())
    .bind(to_micros(due_at))
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Schedules a deadline `limit` after `event` by the effective calendar read in `tx`. A
/// deadline past the loaded years is stored pending calendar, with an operator alert.
///
/// # Errors
/// [`ScheduleError::Calendar`] when the event lies before the loaded years (or in a gap).
#[tracing::instrument(skip_all, fields(kind, subject, %limit))]
pub async fn schedule_after(
    tx: &mut Tx,
    now: DateTime<Utc>,
    event: DateTime<Utc>,
    limit: TimeLimit,
    kind: &str,
    subject: &str,
    payload: serde_json::Value,
) -> Result<(String, Scheduled), ScheduleError> {
    let calendar = if limit.needs_calendar() {
        super::calendar::effective(tx)
            .await
            .map_err(ScheduleError::CalendarData)?
    } else {
        WorkingCalendar::new()
    };
    let mut computed = limit.due_at(event, &calendar);
    if let Err(CalendarError::PastLoadedYears { .. }) = computed {
        // Wait out a load in flight, then look again: its year may be the one missing.
        super::calendar::lock(tx, false).await?;
        let calendar = super::calendar::effective(tx)
            .await
            .map_err(ScheduleError::CalendarData)?;
        computed = limit.due_at(event, &calendar);
    }
    match computed {
        Ok(due) => Ok((
            schedule(tx, due, kind, subject, payload).await?,
            Scheduled::At(due),
        )),
        Err(CalendarError::PastLoadedYears { last_loaded, .. }) => {
            let id = uuid::Uuid::now_v7().to_string();
            sqlx::query(
                "INSERT INTO timers (id, kind, subject, payload_json, pending_event_at, pending_limit) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&id)
            .bind(kind)
            .bind(subject)
            .bind(payload.to_string())
            .bind(to_micros(event))
            .bind(limit.to_string())
            .execute(&mut **tx)
            .await?;
            let needs_year = last_loaded + 1;
            let message = format!(
                "the {kind} deadline of {subject} ({limit} after {event}) runs past {last_loaded}, \
                 the last loaded calendar year: load the calendar of {needs_year} \
                 (`fenghuo calendar load` or CalendarService.LoadYear)"
            );
            tracing::warn!(timer = %id, needs_year, "{message}");
            raise_alert(
                tx,
                now,
                ALERT_CALENDAR_MISSING,
                &alert_subject(&id),
                &message,
            )
            .await?;
            Ok((id, Scheduled::PendingCalendar { needs_year }))
        }
        Err(e) => Err(ScheduleError::Calendar(e)),
    }
}

/// Cancels an open timer; false when it had already fired or been cancelled.
pub async fn cancel(tx: &mut Tx, id: &str, at: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE timers SET cancelled_at = $1 WHERE id = $2 AND fired_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(to_micros(at))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    resolve_alerts(tx, &alert_subject(id), at).await?;
    Ok(done.rows_affected() == 1)
}

/// Cancels every open timer of `kind` for `subject`; returns how many.
pub async fn cancel_for(
    tx: &mut Tx,
    kind: &str,
    subject: &str,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM timers WHERE kind = $1 AND subject = $2 AND fired_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(kind)
    .bind(subject)
    .fetch_all(&mut **tx)
    .await?;
    let mut n = 0;
    for id in ids {
        n += u64::from(cancel(tx, &id, at).await?);
    }
    Ok(n)
}

/// Whether any open timer is due at `now` (a cheap read before taking locks).
pub async fn any_due(store: &Store, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= $1 LIMIT 1",
    )
    .bind(to_micros(now))
    .fetch_optional(store.pool())
    .await?;
    Ok(row.is_some())
}

/// Locks and returns up to `limit` open timers due at `now`, earliest first.
pub async fn claim_due(
    tx: &mut Tx,
    dialect: Dialect,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DueTimer>, sqlx::Error> {
    let sql = format!(
        "SELECT id, kind, subject, payload_json, due_at FROM timers \
         WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= $1 \
         ORDER BY due_at LIMIT {limit}{}",
        dialect.for_update_skip_locked()
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(to_micros(now))
        .fetch_all(&mut **tx)
        .await?;
    rows.into_iter()
        .map(|r| {
            let payload: String = r.try_get(3)?;
            Ok(DueTimer {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                subject: r.try_get(2)?,
                payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                due_at: from_micros(r.try_get(4)?),
            })
        })
        .collect()
}

/// Marks claimed timers fired, in one statement per 500.
pub async fn mark_fired(tx: &mut Tx, ids: &[String], at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(500) {
        let params: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "UPDATE timers SET fired_at = $1 WHERE id IN ({})",
            params.join(", ")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(to_micros(at));
        for id in chunk {
            q = q.bind(id.clone());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Records a failed firing and when to try again.
pub async fn record_failure(
    tx: &mut Tx,
    id: &str,
    retry_at: DateTime<Utc>,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE timers SET attempts = attempts + 1, last_error = $1, due_at = $2 WHERE id = $3",
    )
    .bind(error)
    .bind(to_micros(retry_at))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Computes the pending-calendar timers that `calendar` now covers and returns them, due
/// dates set. Runs in the transaction that loads a year, so no deadline is lost between.
pub async fn schedule_pending(
    tx: &mut Tx,
    dialect: Dialect,
    calendar: &WorkingCalendar,
    now: DateTime<Utc>,
) -> Result<Vec<DueTimer>, sqlx::Error> {
    let sql = format!(
        "SELECT id, pending_event_at, pending_limit, kind, subject, payload_json FROM timers \
         WHERE due_at IS NULL AND fired_at IS NULL AND cancelled_at IS NULL ORDER BY id{}",
        dialect.for_update()
    );
    type Pending = (String, Option<i64>, Option<String>, String, String, String);
    let pending: Vec<Pending> = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_all(&mut **tx)
        .await?;
    let mut scheduled = Vec::new();
    for (id, event, limit, kind, subject, payload) in pending {
        let (Some(event), Some(limit)) = (event, limit) else {
            tracing::error!(timer = %id, "a pending timer lacks its event or limit");
            continue;
        };
        let Ok(limit) = limit.parse::<TimeLimit>() else {
            tracing::error!(timer = %id, %limit, "a pending timer has an unreadable limit");
            continue;
        };
        match limit.due_at(from_micros(event), calendar) {
            Ok(due) => {
                sqlx::query("UPDATE timers SET due_at = $1 WHERE id = $2")
                    .bind(to_micros(due))
                    .bind(&id)
                    .execute(&mut **tx)
                    .await?;
                resolve_alerts(tx, &alert_subject(&id), now).await?;
                scheduled.push(DueTimer {
                    id,
                    kind,
                    subject,
                    payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                    due_at: due,
                });
            }
            // Still past the loaded years: it stays pending with its alert open.
            Err(e) => tracing::warn!(timer = %id, error = %e, "deadline still pending calendar"),
        }
    }
    Ok(scheduled)
}

pub async fn raise_alert(
    tx: &mut Tx,
    now: DateTime<Utc>,
    kind: &str,
    subject: &str,
    message: &str,
) -> Result<(), sqlx::Error> {
    let id = uuid::Uuid::now_v7().to_string();
    raise_alert_once(tx, &id, now, kind, subject, message).await?;
    Ok(())
}

/// Raises the alert `id` unless it was raised before (resolved or not); true when raised now.
pub async fn raise_alert_once(
    tx: &mut Tx,
    id: &str,
    now: DateTime<Utc>,
    kind: &str,
    subject: &str,
    message: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO operator_alerts (id, raised_at, kind, subject, message) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(to_micros(now))
    .bind(kind)
    .bind(subject)
    .bind(message)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Resolves every open alert about `subject`.
pub async fn resolve_alerts(
    tx: &mut Tx,
    subject: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE operator_alerts SET resolved_at = $1 WHERE subject = $2 AND resolved_at IS NULL",
    )
    .bind(to_micros(at))
    .bind(subject)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get(store: &Store, id: &str) -> Result<Option<TimerRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, subject, payload_json, due_at, pending_event_at, pending_limit, \
         fired_at, cancelled_at, attempts, last_error FROM timers WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(store.pool())
    .await
}

/// Unresolved operator alerts, oldest first.
pub async fn open_alerts(store: &Store) -> Result<Vec<AlertRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, raised_at, kind, subject, message, resolved_at FROM operator_alerts \
         WHERE resolved_at IS NULL ORDER BY raised_at, id",
    )
    .fetch_all(store.pool())
    .await
}

/// Alerts oldest first, the resolved ones too when asked; at most `limit`.
pub async fn alerts(
    store: &Store,
    include_resolved: bool,
    limit: u32,
) -> Result<Vec<AlertRow>, sqlx::Error> {
    let filter = if include_resolved {
        ""
    } else {
        "WHERE resolved_at IS NULL"
    };
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT id, raised_at, kind, subject, message, resolved_at FROM operator_alerts \
         {filter} ORDER BY raised_at, id LIMIT {limit}"
    )))
    .fetch_all(store.pool())
    .await
}

/// Open timers: (all, overdue at `now`, waiting for a calendar year, last firing failed).
pub async fn open_counts(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<(i64, i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(*), \
         COALESCE(SUM(CASE WHEN due_at IS NOT NULL AND due_at <= $1 THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN due_at IS NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), 0) \
         FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL",
    )
    .bind(to_micros(now))
    .fetch_one(store.pool())
    .await
}

/// Inserts timers in multi-row statements, for the benchmark: `(due_at, kind, subject)`.
pub async fn insert_many(
    tx: &mut Tx,
    timers: &[(DateTime<Utc>, String, String)],
) -> Result<(), sqlx::Error> {
    for chunk in timers.chunks(500) {
        let mut sql =
            String::from("INSERT INTO timers (id, kind, subject, payload_json, due_at) VALUES ");
        for i in 0..chunk.len() {
            let p = i * 4;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, '{{}}', ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4
            ));
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (due, kind, subject) in chunk {
            q = q
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(kind.clone())
                .bind(subject.clone())
                .bind(to_micros(*due));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
