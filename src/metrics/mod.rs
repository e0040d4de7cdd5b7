//! Prometheus metrics: a plain-HTTP `/metrics` endpoint on `metrics_listen` (off by default).
//!
//! Counters and histograms are kept in this process (each replica reports its own calls and
//! intake); gauges of the shared state (notices, appeals, timers, alerts, the audit chain) are
//! read from the database at each scrape, so every replica reports the same platform-wide
//! values. No label carries a secret or a caller's data beyond the RPC's name.

pub mod feed_lag;
pub mod grpc;
pub mod otlp;

use std::net::SocketAddr;
use std::sync::OnceLock;

use anyhow::Context as _;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use feed_lag::FeedLag;
pub use grpc::GrpcMetricsLayer;

use crate::domain::clock::SharedClock;
use crate::store::Store;
use crate::store::threats::IngestOutcome;

/// Latency buckets (seconds): from a cached look-up to a long-lived stream.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 3600.0,
];

/// The process's recorder, installed on first use. A process that already has another global
/// recorder (an embedding program) still gets a handle: its scrape then shows only gauges.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .expect("the bucket list is not empty")
        };
        let handle = match builder().install_recorder() {
            Ok(handle) => handle,
            Err(e) => {
                tracing::warn!(error = %e, "another metrics recorder is installed; /metrics shows gauges only");
                builder().build_recorder().handle()
            }
        };
        describe();
        handle
    })
}

fn describe() {
    describe_counter!(
        "grpc_server_started_total",
        "RPCs started, including those refused by authentication or authorization."
    );
    describe_counter!(
        "grpc_server_handled_total",
        "RPCs completed, by status code (CANCELLED when the client left first)."
    );
    describe_histogram!(
        "grpc_server_handling_seconds",
        "Time from a call's start to its status (a stream's whole life)."
    );
    describe_counter!(
        "grpc_server_msg_received_total",
        "gRPC messages received from clients."
    );
    describe_counter!(
        "grpc_server_msg_sent_total",
        "gRPC messages sent to clients."
    );
    describe_counter!(
        "fenghuo_threats_ingested_total",
        "Reports committed by this replica's intake, by outcome: new_threat (a new threat), sighting (a new sighting of a known one), replay (an idempotent retry), refused."
    );
    describe_counter!(
        "fenghuo_intake_batches_failed_total",
        "Intake transactions that failed (nothing of them was stored or acknowledged)."
    );
    describe_gauge!(
        "fenghuo_notices",
        "Disposal notices by state (NoticeState)."
    );
    describe_gauge!(
        "fenghuo_non_compliance_open",
        "Missed deadlines not fulfilled since (Art. 12), by kind (NonComplianceKind)."
    );
    describe_gauge!(
        "fenghuo_appeals_open",
        "Appeals awaiting an answer (Art. 10)."
    );
    describe_gauge!(
        "fenghuo_appeals_overdue",
        "Open appeals past their 30-working-day answer date."
    );
    describe_gauge!(
        "fenghuo_timers_open",
        "Durable timers not fired or cancelled."
    );
    describe_gauge!("fenghuo_timers_overdue", "Open timers whose time has come.");
    describe_gauge!(
        "fenghuo_timers_pending_calendar",
        "Timers waiting for next year's official calendar to be loaded."
    );
    describe_gauge!(
        "fenghuo_timers_failing",
        "Open timers whose last firing failed."
    );
    describe_gauge!(
        "fenghuo_operator_alerts_open",
        "Unresolved operator alerts by kind."
    );
    describe_gauge!(
        "fenghuo_audit_chain_length",
        "Records in the hash-chained audit log."
    );
    describe_gauge!(
        "fenghuo_feed_head_position",
        "Position of the newest feed event."
    );
    describe_gauge!(
        "fenghuo_feed_subscriptions",
        "Open feed subscriptions (SubscribeFeed) on this replica."
    );
    describe_gauge!(
        "fenghuo_feed_lag_events",
        "How many feed events this replica's open subscriptions are behind the feed head, counted from the last event each one's transport took: the median (quantile 0.5), quantile 0.99 and the furthest behind (quantile 1)."
    );
    describe_gauge!(
        "fenghuo_feed_lag_seconds",
        "The same subscriptions' lag in time: seconds since the oldest feed event each one has not taken was committed (0 when it has taken every one), at quantiles 0.5, 0.99 and 1."
    );
    describe_gauge!(
        "fenghuo_db_pool_connections",
        "This replica's database connections, by state (idle, busy)."
    );
}

/// Counts one committed intake batch's outcomes.
pub fn record_intake(outcomes: &[IngestOutcome]) {
    let (mut new, mut sighting, mut replay, mut refused) = (0u64, 0u64, 0u64, 0u64);
    for o in outcomes {
        match o {
            IngestOutcome::Stored { replayed: true, .. } => replay += 1,
            IngestOutcome::Stored {
                created_threat: true,
                ..
            } => new += 1,
            IngestOutcome::Stored { .. } => sighting += 1,
            IngestOutcome::Refused(_) => refused += 1,
        }
    }
    for (outcome, n) in [
        ("new_threat", new),
        ("sighting", sighting),
        ("replay", replay),
        ("refused", refused),
    ] {
        if n > 0 {
            counter!("fenghuo_threats_ingested_total", "outcome" => outcome).increment(n);
        }
    }
}

/// Reads the platform-wide gauges from the database.
async fn refresh_gauges(
    store: &Store,
    clock: &SharedClock,
    feeds: &FeedLag,
) -> Result<(), sqlx::Error> {
    let now = clock.now();
    let pool = store.pool();
    let notices: Vec<(i64, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM notices GROUP BY state")
            .fetch_all(pool)
            .await?;
    // Every state has a series, zero included: a state that empties must not keep its count.
    for state in (1..).map_while(|k| crate::pb::NoticeState::try_from(k).ok()) {
        let n = notices
            .iter()
            .find(|(s, _)| *s == state as i64)
            .map_or(0, |(_, n)| *n);
        gauge!("fenghuo_notices", "state" => state.as_str_name()).set(n as f64);
    }
    let open: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT kind, COUNT(*) FROM non_compliance WHERE fulfilled_at IS NULL GROUP BY kind",
    )
    .fetch_all(pool)
    .await?;
    for kind in (1..).map_while(|k| crate::pb::NonComplianceKind::try_from(k).ok()) {
        let n = open
            .iter()
            .find(|(k, _)| *k == kind as i64)
            .map_or(0, |(_, n)| *n);
        gauge!("fenghuo_non_compliance_open", "kind" => kind.as_str_name()).set(n as f64);
    }
    let (appeals_open, appeals_overdue): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN overdue <> 0 THEN 1 ELSE 0 END), 0) \
         FROM appeals WHERE state = 1",
    )
    .fetch_one(pool)
    .await?;
    gauge!("fenghuo_appeals_open").set(appeals_open as f64);
    gauge!("fenghuo_appeals_overdue").set(appeals_overdue as f64);
    let (timers, overdue, pending, failing) = crate::store::timers::open_counts(store, now).await?;
    gauge!("fenghuo_timers_open").set(timers as f64);
    gauge!("fenghuo_timers_overdue").set(overdue as f64);
    gauge!("fenghuo_timers_pending_calendar").set(pending as f64);
    gauge!("fenghuo_timers_failing").set(failing as f64);
    let alerts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, COUNT(*) FROM operator_alerts WHERE resolved_at IS NULL GROUP BY kind",
    )
    .fetch_all(pool)
    .await?;
    // Known kinds, and every kind seen since start, have a series (zero included), so a
    // resolved alert's count falls back to zero.
    {
        static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        for kind in [
            crate::store::timers::ALERT_CALENDAR_MISSING,
            crate::store::calendar::ALERT_CALENDAR_ENDING,
        ]
        .into_iter()
        .map(str::to_owned)
        .chain(alerts.iter().map(|(k, _)| k.clone()))
        {
            if !seen.contains(&kind) {
                seen.push(kind);
            }
        }
        for kind in seen.iter() {
            let n = alerts
                .iter()
                .find(|(k, _)| k == kind)
                .map_or(0, |(_, n)| *n);
            gauge!("fenghuo_operator_alerts_open", "kind" => kind.clone()).set(n as f64);
        }
    }
    let (audit,): (i64,) = sqlx::query_as("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    gauge!("fenghuo_audit_chain_length").set(audit as f64);
    let (feed,): (i64,) = sqlx::query_as("SELECT position FROM feed_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    gauge!("fenghuo_feed_head_position").set(feed as f64);
    let behind = feeds.behind(feed);
    gauge!("fenghuo_feed_subscriptions").set(behind.len() as f64);
    for (label, q) in [("0.5", 0.5), ("0.99", 0.99), ("1", 1.0)] {
        let events = feed_lag::quantile(&behind, q);
        gauge!("fenghuo_feed_lag_events", "quantile" => label).set(events as f64);
        // In time: how long ago the oldest event such a subscription has not taken was
        // committed (0 when it has taken every one).
        let seconds = if events == 0 {
            0.0
        } else {
            let oldest: Option<i64> = sqlx::query_scalar(
                "SELECT committed_at FROM feed_events WHERE position > $1 \
                 ORDER BY position LIMIT 1",
            )
            .bind(feed - events)
            .fetch_optional(pool)
            .await?;
            oldest.map_or(0.0, |at| {
                ((crate::domain::clock::to_micros(now) - at).max(0) as f64) / 1e6
            })
        };
        gauge!("fenghuo_feed_lag_seconds", "quantile" => label).set(seconds);
    }
    let idle = pool.num_idle() as f64;
    gauge!("fenghuo_db_pool_connections", "state" => "idle").set(idle);
    gauge!("fenghuo_db_pool_connections", "state" => "busy").set(f64::from(pool.size()) - idle);
    Ok(())
}

/// Serves `GET /metrics` in plain HTTP/1.1 on `addr` until `stop`.
pub async fn serve(
    addr: SocketAddr,
    store: Store,
    clock: SharedClock,
    feeds: FeedLag,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<(JoinHandle<()>, SocketAddr)> {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::service::service_fn;

    let handle = handle();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics port {addr}"))?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.wait_for(|s| *s) => break,
            };
            let Ok((tcp, _)) = accepted else { continue };
            let (store, clock, feeds) = (store.clone(), clock.clone(), feeds.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (store, clock, feeds) = (store.clone(), clock.clone(), feeds.clone());
                    async move {
                        if req.uri().path() != "/metrics" {
                            hyper::Response::builder().status(404).body(Full::new(
                                Bytes::from_static(b"only /metrics is served here\n"),
                            ))
                        } else if req.method() != hyper::Method::GET {
                            hyper::Response::builder()
                                .status(405)
                                .body(Full::new(Bytes::from_static(b"GET /metrics\n")))
                        } else {
                            if let Err(e) = refresh_gauges(&store, &clock, &feeds).await {
                                // The counters are still worth scraping; the gauges keep their
                                // last values and the failure is counted.
                                tracing::warn!(error = %e, "reading the metrics gauges failed");
                                counter!("fenghuo_metrics_gauge_refresh_failed_total").increment(1);
                            }
                            hyper::Response::builder()
                                .header("content-type", "text/plain; version=0.0.4")
                                .body(Full::new(Bytes::from(handle.render())))
                        }
                    }
                });
                let io = hyper_util::rt::TokioIo::new(tcp);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    tracing::info!(%bound, "Prometheus metrics (plain HTTP, GET /metrics) are serving");
    Ok((task, bound))
}
