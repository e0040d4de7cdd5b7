//! Calendar years an administrator loaded, laid over the years embedded in the binary.
//!
//! The effective calendar is read per use, inside the caller's transaction: the table holds a
//! handful of rows, every replica sees a committed year at once with no cache to invalidate,
//! and a deadline is computed with exactly the years committed alongside it.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::audit::{self, Actor};
use super::{Store, Tx, timers};
use crate::domain::calendar::{WorkingCalendar, YearCalendar};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearLoaded {
    pub year: i32,
    /// A calendar of the same year (embedded or loaded before) was replaced.
    pub replaced: bool,
    /// Pending-calendar deadlines that the year made computable and scheduled.
    pub deadlines_scheduled: u64,
}

/// Persists a validated year, schedules the pending deadlines it makes computable and appends
/// the audit record, all in one transaction.
#[tracing::instrument(skip_all, fields(year = year.year()))]
pub async fn load_year(
    store: &Store,
    at: DateTime<Utc>,
    actor: &Actor,
    year: YearCalendar,
) -> anyhow::Result<YearLoaded> {
    let mut tx = store.begin().await.context("starting a transaction")?;
    let loaded = load_year_in(&mut tx, store, at, actor, year).await?;
    tx.commit().await.context("committing the calendar year")?;
    Ok(loaded)
}

async fn load_year_in(
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
    let deadlines_scheduled = timers::schedule_pending(tx, store.dialect(), &calendar, at)
        .await
        .context("scheduling the deadlines pending this calendar")?;
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
            "deadlines_scheduled": deadlines_scheduled,
        }),
    )
    .await
    .context("appending the audit record")?;
    Ok(YearLoaded {
        year: year.year(),
        replaced,
        deadlines_scheduled,
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
