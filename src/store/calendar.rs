//! Calendar years an administrator loaded, laid over the years embedded in the binary.
//!
//! The effective calendar is read per use, inside the caller's transaction: the table holds a
//! handful of rows, every replica sees a committed year at once with no cache to invalidate,
//! and a deadline is computed with exactly the years committed alongside it.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::audit::{self, Actor};
use super::timers::{self, DueTimer};
use super::{Store, Tx};
use crate::domain::calendar::{Coverage, WorkingCalendar, YearCalendar};
use crate::domain::clock::to_micros;

/// The embedded years overlaid with the loaded ones.
pub async fn effective(conn: &mut AnyConnection) -> anyhow::Result<WorkingCalendar> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT year, calendar_json FROM calendar_years ORDER BY year")
            .fetch_all(&mut *conn)
            .await
            .context("reading the loaded calendar years")?;
    let mut calendar = WorkingCalendar::embedded();
    for (year, json) in rows {
        let loaded = YearCalendar::parse_json(&json)
            .with_context(|| format!("the stored calendar of {year} is invalid"))?;
        calendar.insert_year(loaded);
    }
    Ok(calendar)
}

/// Takes the calendar's row lock until `tx` ends; `bump` marks a change of the loaded years.
/// A load and a deadline stored as pending calendar thus never interleave.
pub async fn lock(tx: &mut Tx, bump: bool) -> Result<(), sqlx::Error> {
    let sql = if bump {
        "UPDATE calendar_version SET version = version + 1 WHERE id = 1"
    } else {
        "UPDATE calendar_version SET version = version WHERE id = 1"
    };
    sqlx::query(sql).execute(&mut **tx).await?;
    Ok(())
}

/// [`effective`] on a pooled connection, for reads outside a transaction.
pub async fn current(store: &Store) -> anyhow::Result<WorkingCalendar> {
    let mut conn = store
        .pool()
        .acquire()
        .await
        .context("connecting to the database")?;
    effective(&mut conn).await
}

/// What loading a year did.
#[derive(Debug, Clone)]
pub struct YearLoaded {
    pub year: i32,
    /// A calendar of the same year (embedded or loaded before) was replaced.
    pub replaced: bool,
    /// The calendar with the year in, as the transaction sees it.
    pub calendar: WorkingCalendar,
    /// Pending-calendar deadlines that the year made computable, now scheduled.
    pub scheduled: Vec<DueTimer>,
}

/// The alert raised once per year from [`WARN_DAYS_BEFORE_END`] days before the loaded years
/// end; its subject `calendar:<year>` names the year to load, and loading it resolves it.
///
/// [`WARN_DAYS_BEFORE_END`]: crate::domain::calendar::WARN_DAYS_BEFORE_END
pub const ALERT_CALENDAR_ENDING: &str = "calendar.year_ending";

fn ending_subject(needed_year: i32) -> String {
    format!("calendar:{needed_year}")
}

/// Raises the calendar-ending alert of `coverage` unless it was raised for that year before;
/// true when raised now.
pub async fn raise_ending_alert(
    tx: &mut Tx,
    now: DateTime<Utc>,
    coverage: &Coverage,
    message: &str,
) -> Result<bool, sqlx::Error> {
    let subject = ending_subject(coverage.last_year + 1);
    // One id per missing year: every replica and every day after raise the same row.
    let id = format!("{ALERT_CALENDAR_ENDING}:{}", coverage.last_year + 1);
    timers::raise_alert_once(tx, &id, now, ALERT_CALENDAR_ENDING, &subject, message).await
}

/// Persists a validated year, schedules the pending deadlines it makes computable, resolves
/// the alert that asked for it and appends the audit record, in the caller's transaction
/// (the caller then runs each scheduled kind's follow-up before committing).
#[tracing::instrument(skip_all, fields(year = year.year()))]
pub async fn load_year_in(
    tx: &mut Tx,
    store: &Store,
    at: DateTime<Utc>,
    actor: &Actor,
    year: YearCalendar,
) -> anyhow::Result<YearLoaded> {
    lock(tx, true).await.context("locking the calendar")?;
    let before = effective(tx).await?;
    let replaced = before.year(year.year()).is_some();
    let previous = before.year(year.year()).cloned();
    let json = serde_json::to_string(&year).context("encoding the year")?;
    sqlx::query(
        "INSERT INTO calendar_years (year, calendar_json, loaded_at, loaded_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (year) DO UPDATE SET calendar_json = $2, loaded_at = $3, loaded_by = $4",
    )
    .bind(i64::from(year.year()))
    .bind(&json)
    .bind(to_micros(at))
    .bind(format!("{}/{}", actor.organisation_id, actor.officer))
    .execute(&mut **tx)
    .await
    .context("storing the calendar year")?;
    let calendar = before.with_year(year.clone());
    let scheduled = timers::schedule_pending(tx, store.dialect(), &calendar, at)
        .await
        .context("scheduling the deadlines pending this calendar")?;
    timers::resolve_alerts(tx, &ending_subject(year.year()), at)
        .await
        .context("resolving the calendar-ending alert")?;
    audit::append(
        tx,
        store.dialect(),
        at,
        actor,
        "calendar.load_year",
        &format!("calendar:{}", year.year()),
        serde_json::json!({
            "year": year.year(),
            "replaced": replaced,
            "holidays": year.holidays(),
            "makeup_workdays": year.makeup_workdays(),
            "previous": previous.map(|p| serde_json::json!({
                "holidays": p.holidays(),
                "makeup_workdays": p.makeup_workdays(),
            })),
            "deadlines_scheduled": scheduled.len(),
        }),
    )
    .await
    .context("appending the audit record")?;
    Ok(YearLoaded {
        year: year.year(),
        replaced,
        calendar,
        scheduled,
    })
}

/// The years an administrator loaded, ascending.
pub async fn administrator_years(store: &Store) -> anyhow::Result<Vec<i32>> {
    let years: Vec<i64> = sqlx::query_scalar("SELECT year FROM calendar_years ORDER BY year")
        .fetch_all(store.pool())
        .await
        .context("reading the loaded calendar years")?;
    Ok(years
        .into_iter()
        .filter_map(|y| i32::try_from(y).ok())
        .collect())
}
