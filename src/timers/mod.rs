//! The timer scheduler: every replica runs one; each due timer fires exactly once.
//!
//! A step fires up to a batch of due rows, each in a transaction of its own: it claims the row
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the write lock on SQLite), runs the row's
//! [`TimerHandler`] inside that transaction and marks the row fired, so a handler's effects
//! and the firing commit together or not at all. Time is read
//! from the injected [`Clock`](crate::domain::clock::Clock); timers that fell due while every
//! server was down fire on the first step after start.
//!
//! Later issues register handlers by kind (e.g. `notice.receipt_due`) and schedule with
//! [`schedule`] / [`schedule_after`] inside their own transactions. A step also runs the
//! [`DailyCheck`]s once per Asia/Shanghai day of the clock (the calendar's coverage warning).

pub mod calendar;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use crate::domain::calendar::{WorkingCalendar, local_date};
use crate::domain::clock::SharedClock;
use crate::store::{Store, Tx};

pub use crate::store::timers::{
    DueTimer, ScheduleError, Scheduled, cancel, cancel_for, schedule, schedule_after,
};

/// What a timer of one kind does when it falls due.
#[tonic::async_trait]
pub trait TimerHandler: Send + Sync + 'static {
    /// Applies the timer's effects in `tx` (the firing transaction). An error rolls back these
    /// effects only; the timer is retried later with back-off.
    async fn fire(&self, tx: &mut Tx, timer: &DueTimer, now: DateTime<Utc>) -> anyhow::Result<()>;

    /// Runs in the transaction that loads a calendar year, when this pending-calendar timer's
    /// due date has just been computed (`timer.due_at`): a kind that shows its deadline to
    /// readers writes it here and schedules what hangs on it. An error aborts the load.
    async fn deadline_known(
        &self,
        _tx: &mut Tx,
        _timer: &DueTimer,
        _calendar: &WorkingCalendar,
        _now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A check the scheduler runs once per Asia/Shanghai day of its clock (and at start-up).
#[tonic::async_trait]
pub trait DailyCheck: Send + Sync + 'static {
    async fn run(&self, store: &Store, now: DateTime<Utc>) -> anyhow::Result<()>;
}

/// Handlers by timer kind.
#[derive(Clone, Default)]
pub struct TimerHandlers {
    by_kind: HashMap<String, Arc<dyn TimerHandler>>,
}

impl TimerHandlers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the handler of `kind`, replacing any earlier one.
    pub fn with(mut self, kind: &str, handler: impl TimerHandler) -> Self {
        self.by_kind.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    /// The handlers of `self` plus those of `other` (which win on the same kind).
    pub fn merge(mut self, other: TimerHandlers) -> Self {
        self.by_kind.extend(other.by_kind);
        self
    }

    pub fn get(&self, kind: &str) -> Option<&dyn TimerHandler> {
        self.by_kind.get(kind).map(|h| h.as_ref())
    }

    pub fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = self.by_kind.keys().map(String::as_str).collect();
        kinds.sort_unstable();
        kinds
    }
}

/// The outcome of one scheduler step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Timers were claimed; this many fired (failures were rescheduled). Step again.
    Fired(usize),
    /// Nothing was due (or every due row is held by another replica).
    Idle,
}

/// Default timers fired per step (each in its own transaction) before the loop looks again.
pub const DEFAULT_BATCH: u32 = 256;
/// How often the background loop looks for due timers.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Longest back-off after failed firings.
const MAX_BACKOFF_SECS: i64 = 3600;

pub struct Scheduler {
    store: Store,
    clock: SharedClock,
    handlers: TimerHandlers,
    batch: u32,
    daily: Vec<Arc<dyn DailyCheck>>,
    /// The day the daily checks last ran; held while they run, so a concurrent step waits.
    daily_ran_on: Mutex<Option<NaiveDate>>,
}

impl Scheduler {
    pub fn new(store: Store, clock: SharedClock, handlers: TimerHandlers) -> Self {
        Self {
            store,
            clock,
            handlers,
            batch: DEFAULT_BATCH,
            daily: Vec::new(),
            daily_ran_on: Mutex::new(None),
        }
    }

    /// Adds a check run once per day of the clock.
    pub fn with_daily(mut self, check: impl DailyCheck) -> Self {
        self.daily.push(Arc::new(check));
        self
    }

    /// Adds a check when it is configured.
    pub fn with_daily_if(self, check: Option<impl DailyCheck>) -> Self {
        match check {
            Some(c) => self.with_daily(c),
            None => self,
        }
    }

    /// Runs the daily checks unless they already ran on the clock's current day (a clock set
    /// to another day, earlier or later, runs them again). A failing check is logged, not
    /// retried before the next day: a broken database must not flood the log.
    pub async fn run_daily(&self) {
        if self.daily.is_empty() {
            return;
        }
        let now = self.clock.now();
        let today = local_date(now);
        let mut ran_on = self.daily_ran_on.lock().await;
        if *ran_on == Some(today) {
            return;
        }
        for check in &self.daily {
            if let Err(e) = check.run(&self.store, now).await {
                tracing::error!(error = format!("{e:#}"), "a daily check failed");
            }
        }
        *ran_on = Some(today);
    }

    pub fn with_batch(mut self, batch: u32) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Fires due timers, up to one batch, each in a transaction of its own.
    #[tracing::instrument(skip_all)]
    pub async fn step(&self) -> anyhow::Result<StepOutcome> {
        self.run_daily().await;
        let now = self.clock.now();
        if !crate::store::timers::any_due(&self.store, now)
            .await
            .context("looking for due timers")?
        {
            return Ok(StepOutcome::Idle);
        }
        let (mut claimed, mut fired) = (false, 0);
        for _ in 0..self.batch {
            match self.fire_one(now).await? {
                None => break,
                Some(ok) => {
                    claimed = true;
                    fired += usize::from(ok);
                }
            }
        }
        Ok(if claimed {
            StepOutcome::Fired(fired)
        } else {
            StepOutcome::Idle
        })
    }

    /// Claims one due timer and fires it in its own transaction: `None` when none is left to
    /// claim, else whether its handler succeeded (a failure is rolled back and rescheduled).
    ///
    /// One transaction per timer, because handlers take locks as the RPCs do, the audit
    /// chain's head last: a batch in one transaction held that head from its first handler
    /// while a later handler waited on a row an RPC had locked, and the RPC then waited on
    /// the head (a deadlock PostgreSQL broke by failing the RPC).
    async fn fire_one(&self, now: DateTime<Utc>) -> anyhow::Result<Option<bool>> {
        let dialect = self.store.dialect();
        let mut tx = self.store.begin().await.context("starting a transaction")?;
        let due = crate::store::timers::claim_due(&mut tx, dialect, now, 1)
            .await
            .context("claiming a due timer")?;
        let Some(timer) = due.first() else {
            tx.rollback().await.context("ending the claim")?;
            return Ok(None);
        };
        sqlx::query("SAVEPOINT timer_fire")
            .execute(&mut *tx)
            .await
            .context("setting a savepoint")?;
        let outcome = match self.handlers.by_kind.get(&timer.kind) {
            Some(handler) => handler.fire(&mut tx, timer, now).await,
            None => Err(anyhow::anyhow!(
                "no handler is registered for timer kind {:?}",
                timer.kind
            )),
        };
        let ok = match outcome {
            Ok(()) => {
                sqlx::query("RELEASE SAVEPOINT timer_fire")
                    .execute(&mut *tx)
                    .await
                    .context("releasing the savepoint")?;
                crate::store::timers::mark_fired(&mut tx, std::slice::from_ref(&timer.id), now)
                    .await
                    .context("marking the timer fired")?;
                true
            }
            Err(e) => {
                sqlx::query("ROLLBACK TO SAVEPOINT timer_fire")
                    .execute(&mut *tx)
                    .await
                    .context("rolling back to the savepoint")?;
                let attempts = self.failed_attempts(&mut tx, &timer.id).await?;
                let backoff = (30i64 << attempts.min(7)).min(MAX_BACKOFF_SECS);
                let retry_at = now + chrono::Duration::seconds(backoff);
                tracing::error!(timer = %timer.id, kind = %timer.kind, subject = %timer.subject,
                    error = format!("{e:#}"), %retry_at, "a timer handler failed; retrying later");
                crate::store::timers::record_failure(
                    &mut tx,
                    &timer.id,
                    retry_at,
                    &format!("{e:#}"),
                )
                .await
                .context("recording the failure")?;
                false
            }
        };
        tx.commit().await.context("committing the fired timer")?;
        Ok(Some(ok))
    }

    async fn failed_attempts(&self, tx: &mut Tx, id: &str) -> anyhow::Result<u32> {
        let n: i64 = sqlx::query_scalar("SELECT attempts FROM timers WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await
            .context("reading the attempts")?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Steps until nothing is due at the clock's now, waiting out rows another replica holds;
    /// returns how many this replica fired.
    pub async fn run_until_idle(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            match self.step().await? {
                StepOutcome::Fired(n) => total += n,
                StepOutcome::Idle => {
                    if !self.wait_for_held().await? {
                        return Ok(total);
                    }
                }
            }
        }
    }

    /// When due rows remain after an idle step, another replica holds them: block on one
    /// until that replica commits (PostgreSQL re-checks the row after the wait) and say so.
    async fn wait_for_held(&self) -> anyhow::Result<bool> {
        let now = self.clock.now();
        if !crate::store::timers::any_due(&self.store, now)
            .await
            .context("looking for due timers")?
        {
            return Ok(false);
        }
        let mut tx = self
            .store
            .pool()
            .begin()
            .await
            .context("starting a transaction")?;
        let sql = format!(
            "SELECT id FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= $1 \
             ORDER BY due_at LIMIT 1{}",
            self.store.dialect().for_update()
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(crate::domain::clock::to_micros(now))
            .fetch_optional(&mut *tx)
            .await
            .context("waiting for timers held by another replica")?;
        tx.rollback().await.context("ending the wait")?;
        Ok(true)
    }

    /// Runs the scheduler in the background until `shutdown` turns true: a catch-up run at
    /// start (timers due while every server was down), then a poll every `interval`. The
    /// returned receiver turns true once the catch-up run is over.
    pub fn spawn(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
        interval: Duration,
    ) -> (JoinHandle<()>, watch::Receiver<bool>) {
        let (caught_up, caught_up_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                if *shutdown.borrow() {
                    break;
                }
                if let Err(e) = self.run_until_idle().await {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "the timer scheduler failed a step"
                    );
                }
                caught_up.send_replace(true);
                tokio::select! {
                    _ = shutdown.wait_for(|s| *s) => break,
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        });
        (task, caught_up_rx)
    }
}

/// The daily roll-up of the statistics' day counters into weeks and months
/// ([`crate::store::statistics::roll_up`]): every day that ended more than a day ago. Every
/// replica runs it; the first to move the mark rolls a day, the others find it moved.
pub struct StatisticsRollUp;

#[tonic::async_trait]
impl DailyCheck for StatisticsRollUp {
    async fn run(&self, store: &Store, now: DateTime<Utc>) -> anyhow::Result<()> {
        let Some(through) = local_date(now).checked_sub_days(chrono::Days::new(2)) else {
            return Ok(());
        };
        let days = crate::store::statistics::roll_up(store, through)
            .await
            .context("rolling up the statistics")?;
        if days > 0 {
            tracing::info!(days, %through, "statistics rolled up into weeks and months");
        }
        Ok(())
    }
}

/// The daily retention sweep ([`crate::store::retention`]; 2009 mechanism Art. 10). Every
/// replica runs it; a second sweep of the same day finds nothing left to remove.
pub struct RetentionSweep {
    pub retention_days: u32,
}

#[tonic::async_trait]
impl DailyCheck for RetentionSweep {
    async fn run(&self, store: &Store, now: DateTime<Utc>) -> anyhow::Result<()> {
        let removed = crate::store::retention::sweep(store, now, self.retention_days)
            .await
            .context("the retention sweep")?;
        if removed != crate::store::retention::Removed::default() {
            tracing::info!(
                retention_days = self.retention_days,
                threats = removed.threats,
                sightings = removed.sightings,
                identifications = removed.identifications,
                feed_events = removed.feed_events,
                "retention removed what aged out"
            );
        }
        Ok(())
    }
}
