//! `fenghuo bench …`: measurements recorded in BENCHMARKS.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};

use fenghuo::domain::clock::Clock;
use fenghuo::domain::clock::{ManualClock, SystemClock};
use fenghuo::store::{Store, Tx};
use fenghuo::timers::{DueTimer, Scheduler, TimerHandler, TimerHandlers};

const KIND: &str = "bench.noop";

/// `fenghuo bench notices`: prints the fan-out line; fails when any notice never arrived.
pub async fn notices(options: fenghuo::bench::NoticeBench) -> anyhow::Result<()> {
    let result = fenghuo::bench::notices(options).await?;
    println!("{}", result.line);
    if !result.missing.is_empty() {
        for id in result.missing.iter().take(20) {
            eprintln!("missing: {id}");
        }
        anyhow::bail!(
            "{} issued notices never arrived on their addressee's stream",
            result.missing.len()
        );
    }
    Ok(())
}

/// Counts firings; does nothing else.
struct Count(Arc<AtomicUsize>);

#[tonic::async_trait]
impl TimerHandler for Count {
    async fn fire(&self, _tx: &mut Tx, _t: &DueTimer, _now: DateTime<Utc>) -> anyhow::Result<()> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// `fenghuo bench timers`: inserts `count` open timers, a fraction due, and times the
/// scheduler finding and firing the due ones.
pub async fn timers(
    count: usize,
    due_fraction: f64,
    database_url: Option<String>,
) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&due_fraction) {
        anyhow::bail!("--due-fraction must lie between 0 and 1");
    }
    let temp = std::env::temp_dir().join(format!("fenghuo-bench-{}", std::process::id()));
    let url = match &database_url {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&temp)?;
            format!("sqlite://{}?mode=rwc", temp.join("bench.db").display())
        }
    };
    let store = Store::connect(&url).await?;
    let result = measure(&store, count, due_fraction).await;
    if database_url.is_some() {
        // A database of the operator's: leave it as found.
        sqlx::query("DELETE FROM timers WHERE kind = $1")
            .bind(KIND)
            .execute(store.pool())
            .await
            .context("removing the benchmark's timers")?;
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(&temp);
    result
}

async fn measure(store: &Store, count: usize, due_fraction: f64) -> anyhow::Result<()> {
    let now = SystemClock.now();
    let every = if due_fraction > 0.0 {
        (1.0 / due_fraction).round().max(1.0) as usize
    } else {
        usize::MAX
    };
    let rows: Vec<(DateTime<Utc>, String, String)> = (0..count)
        .map(|i| {
            // Due ones spread over the past day, the rest over the coming year.
            let due = if i % every == 0 {
                now - Duration::seconds((i % 86_400) as i64 + 1)
            } else {
                now + Duration::seconds(3600 + (i as i64 * 7919) % (365 * 86_400))
            };
            (due, KIND.to_owned(), format!("bench/{i}"))
        })
        .collect();
    let expected = rows.iter().filter(|(due, ..)| *due <= now).count();

    let started = Instant::now();
    let mut tx = store.begin().await?;
    fenghuo::store::timers::insert_many(&mut tx, &rows).await?;
    tx.commit().await?;
    let inserted = started.elapsed();
    drop(rows);
    // Fresh statistics, as a production table would have.
    let analyze = match store.dialect() {
        fenghuo::store::Dialect::Sqlite => "ANALYZE",
        fenghuo::store::Dialect::Postgres => "ANALYZE timers",
    };
    sqlx::query(analyze).execute(store.pool()).await?;

    let fired = Arc::new(AtomicUsize::new(0));
    let handlers = TimerHandlers::new().with(KIND, Count(fired.clone()));
    let scheduler = Scheduler::new(store.clone(), Arc::new(ManualClock::new(now)), handlers);
    let started = Instant::now();
    let first = scheduler.step().await?;
    let first_step = started.elapsed();
    let rest = scheduler.run_until_idle().await?;
    let total = started.elapsed();
    let n = fired.load(Ordering::Relaxed);
    if n != expected {
        anyhow::bail!("fired {n} timers, expected {expected} ({first:?}, then {rest})");
    }
    let backend = match store.dialect() {
        fenghuo::store::Dialect::Sqlite => "SQLite",
        fenghuo::store::Dialect::Postgres => "PostgreSQL",
    };
    println!(
        "timers ({backend}): {count} open, {expected} due: found and fired all due in {:.2} s \
         ({:.0} timers/s; first batch of {} in {:.1} ms); inserting took {:.1} s",
        total.as_secs_f64(),
        expected as f64 / total.as_secs_f64().max(1e-9),
        fenghuo::timers::DEFAULT_BATCH.min(expected as u32),
        first_step.as_secs_f64() * 1000.0,
        inserted.as_secs_f64()
    );
    Ok(())
}

/// Rows per transaction: the intake's group commit (`fenghuo::intake::MAX_BATCH`).
const LIMIT_TX_ROWS: usize = fenghuo::intake::MAX_BATCH;
/// Rows per INSERT statement (6 binds each, under SQLite's 32,766 bind limit).
const LIMIT_STMT_ROWS: usize = 512;

/// `fenghuo bench limits`: what the database alone allows the intake, so `bench ingest` can be
/// read as a fraction of it.
pub async fn limits(rows: usize, database_url: Option<String>) -> anyhow::Result<()> {
    let temp = std::env::temp_dir().join(format!("fenghuo-limits-{}", std::process::id()));
    let url = match &database_url {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&temp)?;
            format!("sqlite://{}?mode=rwc", temp.join("limits.db").display())
        }
    };
    let store = Store::connect(&url).await?;
    let table = format!("bench_limits_{}", std::process::id());
    let result = insert_rows(&store, &table, rows).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
        .execute(store.pool())
        .await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&temp);
    let (elapsed, backend) = result?;
    println!(
        "limits: {:.0} rows/s ({rows} sighting-shaped rows, multi-row INSERTs of {LIMIT_STMT_ROWS}, \
         {LIMIT_TX_ROWS} rows per transaction, {backend}, {:.2} s; commit {})",
        rows as f64 / elapsed,
        elapsed,
        fenghuo::bench::COMMIT
    );
    Ok(())
}

async fn insert_rows(
    store: &Store,
    table: &str,
    rows: usize,
) -> anyhow::Result<(f64, &'static str)> {
    let blob = if store.dialect() == fenghuo::store::Dialect::Sqlite {
        "BLOB"
    } else {
        "BYTEA"
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} (id TEXT PRIMARY KEY, threat_id TEXT NOT NULL, \
         reporter TEXT NOT NULL, submission_id TEXT NOT NULL, received_at BIGINT NOT NULL, \
         body {blob} NOT NULL, UNIQUE (submission_id, reporter))"
    )))
    .execute(store.pool())
    .await
    .context("creating the scratch table")?;
    let body = vec![7u8; 300];
    let started = Instant::now();
    let mut written = 0;
    while written < rows {
        let tx_end = (written + LIMIT_TX_ROWS).min(rows);
        let mut tx = store.begin().await?;
        while written < tx_end {
            let n = LIMIT_STMT_ROWS.min(tx_end - written);
            let values = (0..n)
                .map(|i| {
                    let b = i * 6;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO {table} (id, threat_id, reporter, submission_id, received_at, body) VALUES {values}"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in written..written + n {
                q = q
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind("vendor-bj")
                    .bind(format!("limits-{i:010}"))
                    .bind(i as i64)
                    .bind(body.clone());
            }
            q.execute(&mut *tx).await.context("inserting rows")?;
            written += n;
        }
        tx.commit().await.context("committing")?;
    }
    let backend = match store.dialect() {
        fenghuo::store::Dialect::Sqlite => "SQLite WAL synchronous=FULL",
        fenghuo::store::Dialect::Postgres => "PostgreSQL synchronous_commit=on",
    };
    Ok((started.elapsed().as_secs_f64(), backend))
}
