//! `fenghuo bench stats`: threats loaded through the real intake over `--days` days (a
//! manual clock steps an in-process server a day at a time), the intake with and without
//! the counters on the loaded database, then the same database served by `fenghuo serve` in
//! a child process: every statistics query timed over mTLS, and the server's own memory
//! while it answers them and while a unit ingests.

use std::sync::Arc;
use std::time::Instant;

use fenghuo_client::pb::threat_report::Category as Payload;
use fenghuo_client::{Client, pb};
use tokio_stream::StreamExt;

use super::{COMMIT, Scratch, item, percentile};
use crate::app::Application;
use crate::domain::clock::{Clock, ManualClock};

pub struct StatsBench {
    pub threats: u64,
    pub days: u32,
    /// Items of each arm of the with/without-counters comparison.
    pub compare: u64,
    /// Calls per query.
    pub calls: usize,
    pub database_url: Option<String>,
}

/// The intake bench's item, with many more ports and families, so that the counters hold
/// hundreds of keys a day as a national platform's would.
fn varied(i: u64, discovered: prost_types::Timestamp) -> pb::SubmitThreatRequest {
    let mut req = item(i, discovered);
    req.submission_id = format!("s-{i}");
    let k = if i % 5 == 4 { i - 2 } else { i };
    if let Some(r) = req.report.as_mut() {
        match r.category.as_mut() {
            Some(Payload::MaliciousResource(m)) => {
                if let Some(cs) = m.control_server.as_mut() {
                    cs.port = 1 + (k % 2000) as u32;
                    cs.transport = if k % 3 == 0 {
                        pb::TransportProtocol::Udp
                    } else {
                        pb::TransportProtocol::Tcp
                    } as i32;
                    cs.malware_family = format!("family-{}", k % 500);
                    cs.bot_count = 10u64.pow((k % 7) as u32);
                    cs.country = ["US", "KR", "HK", "NL", "DE"][(k % 5) as usize].into();
                }
            }
            Some(Payload::MaliciousProgram(p)) => p.family = format!("family-{}", k % 500),
            _ => {}
        }
    }
    req
}

/// Streams items `range` over one stream; the clock steps a day every `per_day` items when
/// given. Returns the items acknowledged and the seconds taken.
async fn stream(
    client: &Client,
    range: std::ops::Range<u64>,
    clock: Arc<ManualClock>,
    per_day: Option<u64>,
) -> anyhow::Result<(u64, f64)> {
    let start = Instant::now();
    let requests = tokio_stream::iter(range.clone()).map(move |i| {
        if let Some(n) = per_day
            && i > 0
            && i % n == 0
        {
            clock.advance(chrono::Duration::days(1));
        }
        let now = clock.now() - chrono::Duration::hours(1);
        varied(
            i,
            prost_types::Timestamp {
                seconds: now.timestamp(),
                nanos: 0,
            },
        )
    });
    let mut acks = client
        .threats()
        .submit_threat_stream(requests)
        .await?
        .into_inner();
    let mut n = 0u64;
    while let Some(ack) = acks.next().await {
        let ack = ack?;
        anyhow::ensure!(
            ack.outcome != pb::SubmissionOutcome::Refused as i32,
            "refused: {:?}",
            ack.refusal
        );
        n += 1;
    }
    anyhow::ensure!(n == range.end - range.start, "{n} acks");
    Ok((n, start.elapsed().as_secs_f64()))
}

pub(crate) fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (kb("VmRSS:") / 1024, kb("VmHWM:") / 1024)
}

fn date(d: chrono::NaiveDate) -> pb::Date {
    use chrono::Datelike;
    pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

fn range(
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    province: &str,
    org: &str,
) -> pb::StatisticsRequest {
    pb::StatisticsRequest {
        period: Some(pb::StatisticsPeriod {
            span: Some(pb::statistics_period::Span::Range(pb::DateRange {
                from: Some(date(from)),
                to: Some(date(to)),
            })),
        }),
        province: province.into(),
        organisation_id: org.into(),
    }
}

pub async fn stats(b: StatsBench) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let scratch = Scratch::new(b.database_url.as_deref(), dir.path()).await?;
    let mut settings = super::server_settings(&dir.path().join("data"), &scratch.url)?;
    let sqlite_cache_mib = settings.sqlite_cache_mib;
    // The clock walks through --days days: nothing may age out meanwhile.
    settings.retention_days = 3650;
    let start = chrono::Utc::now() - chrono::Duration::days(i64::from(b.days));
    let clock = Arc::new(ManualClock::new(start));
    let app = Application::build(settings, clock.clone()).await?;
    let endpoint = format!("https://127.0.0.1:{}", app.local_addr().port());
    let clients = dir.path().join("data/pki/clients");
    let vendor = Client::connect_dir(&endpoint, clients.join("vendor-bj")).await?;
    let mut out = Vec::new();

    let per_day = (b.threats / u64::from(b.days.max(1))).max(1);
    let (n, secs) = stream(&vendor, 0..b.threats, clock.clone(), Some(per_day)).await?;
    out.push(format!(
        "loaded {n} items ({:.0} items/s with counters, {per_day} a day over {} days; 20% merge into existing threats)",
        n as f64 / secs,
        b.days
    ));

    let to = crate::domain::calendar::local_date(clock.now());
    // What the daily roll-up has not yet done while the clock raced through the days.
    let through = to - chrono::Days::new(2);
    let t = Instant::now();
    let days = crate::store::statistics::roll_up(app.store(), through).await?;
    out.push(format!(
        "rolled the day counters into weeks and months through {through}: {days} days left to roll, {:.2} s",
        t.elapsed().as_secs_f64()
    ));
    // The intake with and without the counters, on the loaded database, in eight rounds
    // ordered off-on-on-off twice, so a drift (the database growing, the OS cache warming)
    // weighs on both arms alike: four halves in plain alternation left ±13% of noise.
    const ROUNDS: u64 = 8;
    let mut arms = [(0u64, 0f64), (0u64, 0f64)];
    let mut next = b.threats;
    let per_round = (b.compare * 2 / ROUNDS).max(1);
    for round in 0..ROUNDS {
        let on = matches!(round % 4, 1 | 2);
        crate::store::statistics::set_counting(on);
        let (n, secs) = stream(&vendor, next..next + per_round, clock.clone(), None).await?;
        next += per_round;
        arms[usize::from(on)].0 += n;
        arms[usize::from(on)].1 += secs;
    }
    crate::store::statistics::set_counting(true);
    let (off, on) = (arms[0].0 as f64 / arms[0].1, arms[1].0 as f64 / arms[1].1);
    out.push(format!(
        "intake without counters {off:.0} items/s, with {on:.0} items/s ({:+.1}%; {} items each, in {ROUNDS} rounds of {per_round} ordered off-on-on-off)",
        (on - off) / off * 100.0,
        per_round * ROUNDS / 2
    ));
    app.stop().await?;

    // The same database served by `fenghuo serve` in a child process, so that the memory
    // measured is the server's alone.
    let config = dir.path().join("bench.toml");
    std::fs::write(
        &config,
        format!("retention_days = 3650\nsqlite_cache_mib = {sqlite_cache_mib}\n"),
    )?;
    let port = super::streams::free_port()?;
    let endpoint = format!("https://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("server.log"))?;
    let mut server = super::streams::Server(
        std::process::Command::new(std::env::current_exe()?)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--database-url")
            .arg(&scratch.url)
            .env("FENGHUO_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting `fenghuo serve`: {e}"))?,
    );
    let pid = server.0.id();
    let started = Instant::now();
    let miit = loop {
        if let Ok(c) = Client::connect_dir(&endpoint, clients.join("miit")).await
            && c.registry().who_am_i(pb::WhoAmIRequest {}).await.is_ok()
        {
            break c;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            anyhow::bail!("the server exited ({status}): see its server.log");
        }
        anyhow::ensure!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "the server did not answer within 5 minutes"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let vendor = Client::connect_dir(&endpoint, clients.join("vendor-bj")).await?;
    let peak = Arc::new(std::sync::Mutex::new(0f64));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(m) = super::streams::rss_mib(pid) {
                    let mut p = peak.lock().expect("rss");
                    *p = p.max(m);
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        })
    };
    let at_start = super::streams::rss_mib(pid).unwrap_or(0.0);
    let from_year = to - chrono::Days::new(u64::from(b.days.saturating_sub(1)).min(365));
    let from_month = to - chrono::Days::new(29);
    let queries: Vec<(&str, pb::StatisticsRequest)> = vec![
        ("threats, national, one day", range(to, to, "", "")),
        ("threats, national, 30 days", range(from_month, to, "", "")),
        ("threats, national, 366 days", range(from_year, to, "", "")),
        (
            "threats, province 110000, 366 days",
            range(from_year, to, "110000", ""),
        ),
        (
            "threats, unit vendor-bj, 366 days",
            range(from_year, to, "", "vendor-bj"),
        ),
        ("disposal, national, 366 days", range(from_year, to, "", "")),
        ("appeals, national, 366 days", range(from_year, to, "", "")),
    ];
    let mut stats = miit.statistics();
    for (name, req) in queries {
        let mut lat = Vec::with_capacity(b.calls);
        let mut answer = String::new();
        for _ in 0..b.calls {
            let t = Instant::now();
            if name.starts_with("threats") {
                let s = stats.get_threat_statistics(req.clone()).await?.into_inner();
                answer = format!("{} threats, {} sightings", s.threats, s.sightings);
            } else if name.starts_with("disposal") {
                stats.get_disposal_statistics(req.clone()).await?;
            } else {
                stats.get_appeal_statistics(req.clone()).await?;
            }
            lat.push(t.elapsed().as_micros() as u64);
        }
        lat.sort_unstable();
        out.push(format!(
            "{name}: p50 {:.1} ms, p99 {:.1} ms ({} calls over mTLS{}{answer})",
            percentile(&lat, 0.50),
            percentile(&lat, 0.99),
            b.calls,
            if answer.is_empty() { "" } else { "; " },
        ));
    }

    let after_queries = super::streams::rss_mib(pid).unwrap_or(0.0);
    let peak_queries = *peak.lock().expect("rss");
    // A unit ingests into the served database (counters on) while memory is sampled.
    let (n, secs) = stream(&vendor, next..next + b.compare / 2, clock.clone(), None).await?;
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.await;
    let peak_all = *peak.lock().expect("rss");
    out.push(format!(
        "server RSS (child process): {at_start:.1} MiB at start, {after_queries:.1} MiB after the queries (peak {peak_queries:.1}), \
         peak {peak_all:.1} MiB while vendor-bj ingested {n} more items at {:.0} items/s",
        n as f64 / secs
    ));
    drop(server);
    let backend = scratch.backend();
    scratch.drop_database().await;
    Ok(format!(
        "{}\n(stats bench: {}, SQLite page cache {sqlite_cache_mib} MiB; commit {COMMIT})",
        out.join("\n"),
        backend
    ))
}
