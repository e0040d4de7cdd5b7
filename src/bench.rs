//! `fenghuo bench …`: measurements on the production path, printed as the
//! lines BENCHMARKS.md records. Never part of the tests: tests do not time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use fenghuo_client::pb::threat_report::Category as Payload;
use fenghuo_client::{Client, pb};
use tokio_stream::StreamExt;

use crate::app::Application;
use crate::config::Settings;
use crate::domain::clock::SystemClock;

mod notices;
pub mod stats;
mod streams;
mod taxii;
mod taxii_compare;

pub use notices::{NoticeBench, NoticeFanOut, notices};
pub use streams::{StreamsBench, streams};
pub use taxii::{TaxiiBench, taxii};
pub use taxii_compare::CompareWith;

pub const COMMIT: &str = env!("FENGHUO_COMMIT");

/// A scratch database for the run: SQLite in the temp dir, or a fresh
/// PostgreSQL database on the given server, dropped afterwards.
struct Scratch {
    url: String,
    admin: Option<(String, String)>,
}

impl Scratch {
    async fn new(database_url: Option<&str>, dir: &std::path::Path) -> anyhow::Result<Scratch> {
        match database_url {
            None => Ok(Scratch {
                url: format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
                admin: None,
            }),
            Some(admin_url) => {
                use sqlx::Connection;
                let mut admin = sqlx::PgConnection::connect(admin_url)
                    .await
                    .context("connecting to PostgreSQL")?;
                let name = format!("fenghuo_bench_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await?;
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(b, _)| b)
                    .unwrap_or(admin_url);
                Ok(Scratch {
                    url: format!("{base}/{name}"),
                    admin: Some((admin_url.to_owned(), name)),
                })
            }
        }
    }

    async fn drop_database(self) {
        use sqlx::Connection;
        if let Some((admin_url, name)) = self.admin
            && let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await;
        }
    }

    fn backend(&self) -> &'static str {
        if self.admin.is_some() {
            "postgres synchronous_commit=on"
        } else {
            "sqlite WAL synchronous=FULL"
        }
    }
}

/// The bench's items: the five categories, every fifth a duplicate of an
/// item two back, so 20% merge into sightings (but "other", which never merges).
fn item(i: u64, discovered: prost_types::Timestamp) -> pb::SubmitThreatRequest {
    let k = if i % 5 == 4 { i - 2 } else { i };
    let octets = |k: u64| {
        format!(
            "{}.{}.{}.{}",
            45 + (k >> 24) % 10,
            (k >> 16) & 255,
            (k >> 8) & 255,
            (k & 255).max(1)
        )
    };
    let category = match k % 10 {
        0..=3 => Payload::MaliciousResource(pb::MaliciousResource {
            kind: pb::MaliciousResourceKind::Ip as i32,
            value: octets(k),
            purpose: pb::MaliciousResourcePurpose::BotnetControlServer as i32,
            control_server: Some(pb::ControlServer {
                port: 443,
                no_known_domains: true,
                malware_family: "Mirai".into(),
                bot_count: 1000,
                ..Default::default()
            }),
            message: None,
        }),
        4 => Payload::MaliciousResource(pb::MaliciousResource {
            kind: pb::MaliciousResourceKind::Domain as i32,
            value: format!("c2-{k}.bench-example.com"),
            ..Default::default()
        }),
        5 => Payload::MaliciousResource(pb::MaliciousResource {
            kind: pb::MaliciousResourceKind::Url as i32,
            value: format!("http://phish-{k}.bench-example.com/login"),
            ..Default::default()
        }),
        6 => Payload::MaliciousProgram(pb::MaliciousProgram {
            sha256: format!("{:064x}", k),
            family: "Emotet".into(),
            kind: pb::MalwareKind::Trojan as i32,
            ..Default::default()
        }),
        7 => Payload::SecurityHazard(pb::SecurityHazard {
            kind: pb::HazardKind::CodeVulnerability as i32,
            // At most 7 digits (the intake's rule): from item 9,990,000 on, ids repeat.
            cve_id: format!("CVE-2024-{}", 10000 + k % 9_990_000),
            product: "Bench CMS".into(),
            ..Default::default()
        }),
        8 => Payload::SecurityIncident(pb::SecurityIncident {
            kind: pb::IncidentKind::HostControlled as i32,
            asset: Some(pb::AffectedAsset {
                asset: Some(pb::affected_asset::Asset::Ip(octets(k))),
            }),
            ..Default::default()
        }),
        _ => Payload::Other(pb::OtherThreat {
            title: format!("Bench observation {k}"),
            description: String::new(),
        }),
    };
    pb::SubmitThreatRequest {
        submission_id: format!("b-{i}"),
        report: Some(pb::ThreatReport {
            discovered_at: Some(discovered),
            tlp: pb::Tlp::Green as i32,
            kind: pb::SubmissionKind::AboutOthers as i32,
            information: Some(pb::threat_report::Information::Event(
                pb::EventInformation {
                    grade: pb::EventGrade::General as i32,
                    affected_unit: "Bench Hosting Ltd".into(),
                    occurred_at: Some(discovered),
                    brief_course: "Seen by the bench's sensors".into(),
                    estimated_harm_and_impact: "unknown".into(),
                    measures_taken: "none".into(),
                    other: String::new(),
                },
            )),
            category: Some(category),
            ..Default::default()
        }),
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx] as f64 / 1000.0
}

/// The development settings of a bench's in-process server, with the SQLite page cache of
/// `FENGHUO_SQLITE_CACHE_MIB` when set (to measure memory against speed).
pub fn server_settings(data_dir: &std::path::Path, url: &str) -> anyhow::Result<Settings> {
    let mut settings = Settings::development(data_dir, url);
    if let Ok(v) = std::env::var("FENGHUO_SQLITE_CACHE_MIB") {
        settings.sqlite_cache_mib = v.parse().map_err(|_| {
            anyhow::anyhow!("FENGHUO_SQLITE_CACHE_MIB={v:?} is not a number of MiB")
        })?;
    }
    Ok(settings)
}

/// Streams `items` over one mTLS stream into a fresh server; prints the result line.
pub async fn ingest(items: u64, database_url: Option<&str>) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let scratch = Scratch::new(database_url, dir.path()).await?;
    let settings = server_settings(&dir.path().join("data"), &scratch.url)?;
    let sqlite_cache_mib = settings.sqlite_cache_mib;
    let app = Application::build(settings, Arc::new(SystemClock)).await?;
    let endpoint = format!("https://127.0.0.1:{}", app.local_addr().port());
    let client =
        Client::connect_dir(&endpoint, dir.path().join("data/pki/clients/vendor-bj")).await?;

    let discovered = prost_types::Timestamp {
        seconds: chrono::Utc::now().timestamp() - 3600,
        nanos: 0,
    };
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..items).map(|_| AtomicU64::new(0)).collect());
    let start = Instant::now();
    let stamps = sent.clone();
    let requests = tokio_stream::iter(0..items).map(move |i| {
        stamps[i as usize].store(start.elapsed().as_micros() as u64, Ordering::Relaxed);
        item(i, discovered)
    });
    let mut acks = client
        .threats()
        .submit_threat_stream(requests)
        .await?
        .into_inner();
    let mut latencies = Vec::with_capacity(items as usize);
    let (mut accepted, mut merged, mut refused) = (0u64, 0u64, 0u64);
    while let Some(ack) = acks.next().await {
        let ack = ack?;
        let now = start.elapsed().as_micros() as u64;
        let i: usize = ack.submission_id.trim_start_matches("b-").parse()?;
        latencies.push(now.saturating_sub(sent[i].load(Ordering::Relaxed)));
        match pb::SubmissionOutcome::try_from(ack.outcome) {
            Ok(pb::SubmissionOutcome::Accepted) => accepted += 1,
            Ok(pb::SubmissionOutcome::Merged) => merged += 1,
            _ => refused += 1,
        }
    }
    let elapsed = start.elapsed();
    let (_, peak_rss) = stats::rss();
    latencies.sort_unstable();
    app.stop().await?;
    let backend = scratch.backend();
    scratch.drop_database().await;
    anyhow::ensure!(
        latencies.len() as u64 == items,
        "{} acks for {items} items",
        latencies.len()
    );
    anyhow::ensure!(refused == 0, "{refused} items refused");
    Ok(format!(
        "ingest: {:.0} items/s, ack latency p50 {:.1} ms, p99 {:.1} ms ({items} items: {accepted} new threats, {merged} merged; \
         one mTLS stream; {backend}; group commit <= {} items; validation, idempotency, dedup, sightings, audit on; \
         process peak RSS {peak_rss} MB, server and client in one process, SQLite page cache {sqlite_cache_mib} MiB; commit {COMMIT})",
        items as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        crate::intake::MAX_BATCH,
    ))
}
