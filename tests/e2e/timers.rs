//! Durable timers: exactly once across two PostgreSQL replicas, fired after a restart when
//! due while the server was down, effects rolled back with a failing handler, and deadlines
//! pending the calendar scheduled when the year loads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use fenghuo::domain::clock::Clock;
use fenghuo::domain::policy::TimeLimit;
use fenghuo::store::{Store, Tx};
use fenghuo::timers::{DueTimer, Scheduled, TimerHandler, TimerHandlers};

use crate::calendar::year_2027;
use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app_with};

const KIND: &str = "test.record";

/// Records each firing in `test_fired`, inside the firing transaction, with the replica's name.
struct Record(&'static str);

#[tonic::async_trait]
impl TimerHandler for Record {
    async fn fire(&self, tx: &mut Tx, timer: &DueTimer, now: DateTime<Utc>) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO test_fired (timer_id, subject, fired_at, replica) VALUES ($1, $2, $3, $4)",
        )
        .bind(&timer.id)
        .bind(&timer.subject)
        .bind(now.timestamp_micros())
        .bind(self.0)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Writes its effect, then fails while `failing` is set.
struct FailWhile {
    failing: Arc<AtomicBool>,
}

#[tonic::async_trait]
impl TimerHandler for FailWhile {
    async fn fire(&self, tx: &mut Tx, timer: &DueTimer, now: DateTime<Utc>) -> anyhow::Result<()> {
        Record("a").fire(tx, timer, now).await?;
        if self.failing.load(Ordering::SeqCst) {
            anyhow::bail!("the effect's downstream is unavailable");
        }
        Ok(())
    }
}

async fn create_log(store: &Store) {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS test_fired (timer_id TEXT NOT NULL, subject TEXT NOT NULL, fired_at BIGINT NOT NULL, replica TEXT NOT NULL)",
    )
    .execute(store.pool())
    .await
    .unwrap();
}

/// (firings recorded, distinct timers among them)
async fn firings(store: &Store) -> (i64, i64) {
    sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT timer_id) FROM test_fired")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn schedule_one(app: &TestApp, due: DateTime<Utc>, kind: &str, subject: &str) -> String {
    let store = app.application().store();
    let mut tx = store.begin().await.unwrap();
    let id = fenghuo::timers::schedule(&mut tx, due, kind, subject, serde_json::json!({"n": 1}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn spawn(backend: Backend, handlers: TimerHandlers) -> Option<TestApp> {
    let app = spawn_app_with(backend, handlers).await?;
    create_log(app.application().store()).await;
    Some(app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_postgres_replicas_fire_each_of_10000_due_timers_exactly_once() {
    let handlers = TimerHandlers::new().with(KIND, Record("a"));
    let Some(a) = spawn(Backend::Postgres, handlers).await else {
        return;
    };
    let b = a
        .spawn_replica_with(TimerHandlers::new().with(KIND, Record("b")))
        .await;
    let now = a.clock.now();
    let rows: Vec<_> = (0..10_000)
        .map(|i| {
            (
                now - Duration::seconds(i % 600),
                KIND.to_owned(),
                format!("t/{i}"),
            )
        })
        .collect();
    let store = a.application().store();
    let mut tx = store.begin().await.unwrap();
    fenghuo::store::timers::insert_many(&mut tx, &rows)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Both replicas step concurrently, alongside their own background schedulers.
    let (fired_a, fired_b) = tokio::join!(a.drive_timers_until_idle(), b.drive_timers_until_idle());
    assert!(fired_a + fired_b <= 10_000);
    assert_eq!(
        firings(store).await,
        (10_000, 10_000),
        "each timer fired exactly once"
    );
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM timers WHERE fired_at IS NULL")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(open, 0);
    assert_eq!(
        a.drive_timers_until_idle().await + b.drive_timers_until_idle().await,
        0
    );
    b.stop().await;
    a.stop().await;
}

on_both_backends!(
    a_server_stopped_across_a_deadline_fires_it_on_restart,
    a_failing_handler_rolls_back_its_effects_and_the_timer_fires_on_retry,
    a_cancelled_timer_never_fires,
    a_deadline_past_the_loaded_years_is_pending_and_scheduled_when_the_year_loads,
    a_policy_receipt_deadline_skips_spring_festival_and_lands_on_the_make_up_sunday,
);

async fn a_server_stopped_across_a_deadline_fires_it_on_restart(backend: Backend) {
    let Some(app) = spawn(backend, TimerHandlers::new().with(KIND, Record("a"))).await else {
        return;
    };
    let due = app.clock.now() + Duration::hours(1);
    let id = schedule_one(&app, due, KIND, "notice:1").await;
    assert_eq!(app.drive_timers_until_idle().await, 0, "not due yet");
    let stopped = app.stopped().await;
    stopped.clock().advance(Duration::hours(2));
    let app = stopped.restart().await;
    app.application().timers_caught_up().await;
    let store = app.application().store();
    assert_eq!(firings(store).await, (1, 1));
    let row = fenghuo::store::timers::get(store, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.fired_at, Some(app.clock.now().timestamp_micros()));
    app.stop().await;
}

async fn a_failing_handler_rolls_back_its_effects_and_the_timer_fires_on_retry(backend: Backend) {
    let failing = Arc::new(AtomicBool::new(true));
    let handlers = TimerHandlers::new()
        .with(
            "test.flaky",
            FailWhile {
                failing: failing.clone(),
            },
        )
        .with(KIND, Record("a"));
    let Some(app) = spawn(backend, handlers).await else {
        return;
    };
    let id = schedule_one(&app, app.clock.now(), "test.flaky", "notice:2").await;
    let orphan = schedule_one(&app, app.clock.now(), "test.unregistered", "notice:5").await;
    let neighbour = schedule_one(&app, app.clock.now(), KIND, "notice:6").await;
    app.drive_timers_until_idle().await;
    let store = app.application().store();
    let recorded: Vec<String> = sqlx::query_scalar("SELECT timer_id FROM test_fired")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(
        recorded,
        vec![neighbour],
        "the failing timer's effect rolled back; its batch-mate fired"
    );
    let row = fenghuo::store::timers::get(store, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.attempts, row.fired_at), (1, None));
    assert!(
        row.last_error
            .unwrap()
            .contains("downstream is unavailable")
    );
    let row = fenghuo::store::timers::get(store, &orphan)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.attempts, row.fired_at),
        (1, None),
        "a kind with no handler is kept, not lost"
    );
    assert!(row.last_error.unwrap().contains("no handler"));
    failing.store(false, Ordering::SeqCst);
    app.clock.advance(Duration::hours(1));
    app.drive_timers_until_idle().await;
    assert_eq!(firings(store).await, (2, 2));
    app.stop().await;
}

async fn a_cancelled_timer_never_fires(backend: Backend) {
    let Some(app) = spawn(backend, TimerHandlers::new().with(KIND, Record("a"))).await else {
        return;
    };
    let due = app.clock.now() + Duration::minutes(5);
    let keep = schedule_one(&app, due, KIND, "notice:3").await;
    schedule_one(&app, due, KIND, "notice:4").await;
    let store = app.application().store();
    let mut tx = store.begin().await.unwrap();
    let now = app.clock.now();
    assert_eq!(
        fenghuo::timers::cancel_for(&mut tx, KIND, "notice:4", now)
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();
    app.clock.advance(Duration::minutes(10));
    app.drive_timers_until_idle().await;
    let fired: Vec<String> = sqlx::query_scalar("SELECT timer_id FROM test_fired")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(fired, vec![keep.clone()]);
    let mut tx = store.begin().await.unwrap();
    assert!(
        !fenghuo::timers::cancel(&mut tx, &keep, now).await.unwrap(),
        "already fired"
    );
    tx.commit().await.unwrap();
    app.stop().await;
}

async fn a_deadline_past_the_loaded_years_is_pending_and_scheduled_when_the_year_loads(
    backend: Backend,
) {
    let Some(app) = spawn(backend, TimerHandlers::new().with(KIND, Record("a"))).await else {
        return;
    };
    let store = app.application().store();
    let now = app.clock.now();
    // Dec 20 2026 (Shanghai) + 10 working days runs into 2027, not yet loaded.
    let event: DateTime<Utc> = "2026-12-20T02:00:00Z".parse().unwrap();
    let mut tx = store.begin().await.unwrap();
    let (id, scheduled) = fenghuo::timers::schedule_after(
        &mut tx,
        now,
        event,
        TimeLimit::WorkingDays(10),
        KIND,
        "appeal:1",
        serde_json::json!({}),
    )
    .await
    .unwrap();
    // A deadline inside the loaded years is computed at once.
    let (_, inside) = fenghuo::timers::schedule_after(
        &mut tx,
        now,
        event,
        TimeLimit::WorkingDays(3),
        KIND,
        "appeal:2",
        serde_json::json!({}),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(scheduled, Scheduled::PendingCalendar { needs_year: 2027 });
    assert_eq!(
        inside,
        Scheduled::At("2026-12-23T16:00:00Z".parse().unwrap())
    );
    // Pending-calendar alerts only: the calendar-ending one depends on the real date.
    let pending_alerts = || async {
        let mut alerts = fenghuo::store::timers::open_alerts(store).await.unwrap();
        alerts.retain(|a| a.kind == fenghuo::store::timers::ALERT_CALENDAR_MISSING);
        alerts
    };
    let alerts = pending_alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].subject, format!("timer:{id}"));
    assert!(alerts[0].message.contains("2027"), "{}", alerts[0].message);
    let row = fenghuo::store::timers::get(store, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.due_at, None);

    let loaded = app
        .officer("miit")
        .await
        .calendar()
        .load_year(year_2027(&[]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(loaded.deadlines_scheduled, 1);
    // Dec 21–25, 28–31 are nine; Jan 1 and Monday Jan 4 are holidays: the tenth is Jan 5.
    let due: DateTime<Utc> = "2027-01-05T16:00:00Z".parse().unwrap();
    let row = fenghuo::store::timers::get(store, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.due_at, Some(due.timestamp_micros()));
    assert!(pending_alerts().await.is_empty());

    app.clock.set(due - Duration::seconds(1));
    app.drive_timers_until_idle().await;
    assert_eq!(firings(store).await, (1, 1), "only the 3-day deadline");
    app.clock.set(due);
    app.drive_timers_until_idle().await;
    assert_eq!(firings(store).await, (2, 2));
    app.stop().await;
}

async fn a_policy_receipt_deadline_skips_spring_festival_and_lands_on_the_make_up_sunday(
    backend: Backend,
) {
    use fenghuo::domain::policy::Level;
    let Some(app) = spawn(backend, TimerHandlers::new().with(KIND, Record("a"))).await else {
        return;
    };
    let policy = app.application().policy().clone();
    let store = app.application().store();
    // Friday Feb 9 2024, 10:00 Shanghai: Feb 10–17 are off, Sunday Feb 18 is worked.
    let issued: DateTime<Utc> = "2024-02-09T02:00:00Z".parse().unwrap();
    let mut tx = store.begin().await.unwrap();
    let mut schedule = async |level, emergency, subject| {
        let limit = policy.receipt_limit("440000", level, emergency).unwrap();
        fenghuo::timers::schedule_after(
            &mut tx,
            issued,
            issued,
            limit,
            KIND,
            subject,
            serde_json::json!({}),
        )
        .await
        .unwrap()
        .1
    };
    let general = schedule(Level::General, false, "notice:general").await;
    let major = schedule(Level::Major, false, "notice:major").await;
    let emergency = schedule(Level::General, true, "notice:emergency").await;
    tx.commit().await.unwrap();
    assert_eq!(
        general,
        Scheduled::At("2024-02-18T16:00:00Z".parse().unwrap())
    );
    assert_eq!(
        major,
        Scheduled::At("2024-02-09T03:00:00Z".parse().unwrap())
    );
    assert_eq!(emergency, major, "an emergency gets 1 h whatever its grade");
    app.stop().await;
}
