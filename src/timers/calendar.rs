//! The calendar's side of the timers: loading a year computes every deadline that waited for
//! it (and what hangs on each), and a daily check warns before the loaded years run out.

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::{DailyCheck, TimerHandlers};
use crate::domain::calendar::{YearCalendar, local_date};
use crate::store::Store;
use crate::store::audit::Actor;
use crate::store::calendar::{self, YearLoaded};

/// Loads (or replaces) `year` in one transaction: the year, its audit record, every
/// pending-calendar deadline it makes computable, and each one's
/// [`deadline_known`](super::TimerHandler::deadline_known) follow-up (an appeal's
/// `answer_due_on` and reminders). Readers see all of it or none.
#[tracing::instrument(skip_all, fields(year = year.year()))]
pub async fn load_year(
    store: &Store,
    handlers: &TimerHandlers,
    at: DateTime<Utc>,
    actor: &Actor,
    year: YearCalendar,
) -> anyhow::Result<YearLoaded> {
    let mut tx = store.begin().await.context("starting a transaction")?;
    let loaded = calendar::load_year_in(&mut tx, store, at, actor, year).await?;
    for timer in &loaded.scheduled {
        match handlers.get(&timer.kind) {
            Some(handler) => handler
                .deadline_known(&mut tx, timer, &loaded.calendar, at)
                .await
                .with_context(|| {
                    format!(
                        "following up the {} deadline of {}",
                        timer.kind, timer.subject
                    )
                })?,
            // The scheduler refuses the timer when it falls due; say so now too.
            None => tracing::error!(timer = %timer.id, kind = %timer.kind,
                "a pending deadline of a kind no handler is registered for was scheduled"),
        }
    }
    tx.commit().await.context("committing the calendar year")?;
    Ok(loaded)
}

/// Warns from [`WARN_DAYS_BEFORE_END`] days before the last loaded day: in the log, and with
/// one operator alert per missing year (raised by whichever replica checks first).
///
/// [`WARN_DAYS_BEFORE_END`]: crate::domain::calendar::WARN_DAYS_BEFORE_END
pub struct CoverageCheck;

#[tonic::async_trait]
impl DailyCheck for CoverageCheck {
    async fn run(&self, store: &Store, now: DateTime<Utc>) -> anyhow::Result<()> {
        let Some(coverage) = calendar::current(store).await?.coverage(local_date(now)) else {
            return Ok(());
        };
        let Some(warning) = coverage.warning() else {
            tracing::info!(last_day = %coverage.last_day, days_left = coverage.days_left,
                "the working-day calendar is loaded far enough");
            return Ok(());
        };
        tracing::warn!(last_day = %coverage.last_day, days_left = coverage.days_left, "{warning}");
        let mut tx = store.begin().await.context("starting a transaction")?;
        let raised = calendar::raise_ending_alert(&mut tx, now, &coverage, &warning)
            .await
            .context("raising the calendar-ending alert")?;
        tx.commit().await.context("committing the alert")?;
        if raised {
            tracing::info!(
                needs_year = coverage.last_year + 1,
                "raised the operator alert"
            );
        }
        Ok(())
    }
}
