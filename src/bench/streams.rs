//! `fenghuo bench streams` (issue #17 §4): the server's memory with thousands of open streams
//! and one subscriber that never reads, while a unit ingests, and what other callers wait
//! meanwhile.
//!
//! The server runs as a child process (`fenghuo serve` on a scratch data directory), so the
//! resident memory sampled from `/proc/<pid>/status` is the server's alone: the bench's own
//! 2,000 client streams are not counted.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use fenghuo_client::{Client, ClientPki, pb};
use futures::StreamExt;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::{COMMIT, Scratch, item, percentile};

/// The organisations holding the open streams: units, which see none of the bench's AMBER
/// reports (they are responsible for none), so their feeds carry heartbeats only.
const FOLLOWERS: [&str; 3] = ["telecom-gd", "registrar-bj", "party-gd"];
/// The unit that ingests, and the organisation whose unary calls are timed.
const INGESTER: &str = "vendor-bj";
const OTHER_CALLER: &str = "cncert";
/// The subscriber that never reads: the national regulator sees every report.
const UNREAD: &str = "miit";
/// Streams opened at once while setting up.
const OPENING: usize = 64;

#[derive(Debug, Clone)]
pub struct StreamsBench {
    /// Open streams besides the unread one: feed subscribers and notice followers.
    pub streams: usize,
    /// How many of them are feed subscribers (the rest follow notices).
    pub feeds: usize,
    /// Streams per mTLS connection.
    pub per_connection: usize,
    /// Items the ingesting unit submits over SubmitThreatBatches.
    pub items: u64,
    /// Items per SubmitThreatBatch message.
    pub batch: usize,
    /// `[streams] feed_page` for the server (None: its default).
    pub feed_page: Option<u32>,
    /// A PostgreSQL server; a scratch database is created and dropped.
    pub database_url: Option<String>,
}

/// The child server, killed when the bench ends however it ends.
pub(super) struct Server(pub(super) std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server's resident memory, sampled every second.
#[derive(Default)]
struct Rss {
    samples: Mutex<Vec<f64>>,
}

pub(super) fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

pub(super) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A connection as the organisation in `dir`; `window` limits what each stream may receive
/// before it is read (the unread subscriber's 64 KiB).
async fn connection(endpoint: &str, dir: &Path, window: Option<u32>) -> anyhow::Result<Channel> {
    fenghuo_client::install_crypto_provider();
    let pki = ClientPki::from_dir(dir)?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .identity(Identity::from_pem(&pki.cert_pem, &pki.key_pem));
    let mut e = Endpoint::from_shared(endpoint.to_owned())?.tls_config(tls)?;
    if let Some(w) = window {
        e = e.initial_stream_window_size(w);
    }
    Ok(e.connect().await?)
}

/// Runs the bench; returns the result line.
pub async fn streams(opts: StreamsBench) -> anyhow::Result<String> {
    anyhow::ensure!(opts.feeds <= opts.streams, "--feeds exceeds --streams");
    anyhow::ensure!(
        opts.per_connection >= 1 && opts.per_connection <= 200,
        "--per-connection lies between 1 and 200 (the server's HTTP/2 concurrent-stream limit)"
    );
    let dir = tempfile::tempdir()?;
    let scratch = Scratch::new(opts.database_url.as_deref(), dir.path()).await?;
    let result = run(&opts, dir.path(), &scratch.url).await;
    let backend = scratch.backend();
    scratch.drop_database().await;
    Ok(format!("{}; {backend}; commit {COMMIT}", result?))
}

async fn run(opts: &StreamsBench, dir: &Path, url: &str) -> anyhow::Result<String> {
    // Every follower organisation holds its share of both kinds; the cap is raised to fit.
    let cap = opts.streams.div_ceil(FOLLOWERS.len());
    let config = dir.join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[streams]\nmax_per_organisation = {}\n{}",
            cap.max(32),
            opts.feed_page
                .map(|p| format!("feed_page = {p}\n"))
                .unwrap_or_default()
        ),
    )?;
    let data = dir.join("data");
    let port = free_port()?;
    let endpoint = format!("https://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("server.log"))?;
    let mut server = Server(
        std::process::Command::new(std::env::current_exe()?)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--database-url")
            .arg(url)
            .env("FENGHUO_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting `fenghuo serve`")?,
    );
    let pid = server.0.id();
    let clients = data.join("pki/clients");
    let started = Instant::now();
    let other = loop {
        if let Ok(c) = Client::connect_dir(&endpoint, clients.join(OTHER_CALLER)).await
            && c.registry().who_am_i(pb::WhoAmIRequest {}).await.is_ok()
        {
            break c;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            anyhow::bail!(
                "the server exited ({status}): see {}",
                dir.join("server.log").display()
            );
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "the server did not answer within 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let rss = Arc::new(Rss::default());
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (rss, sampling) = (rss.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Some(m) = rss_mib(pid) {
                    rss.samples.lock().expect("rss").push(m);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start_rss = rss_mib(pid).context("reading the server's RSS")?;

    // The open streams, the organisations in turn, `per_connection` to a connection.
    let received = Arc::new(AtomicU64::new(0));
    let ended = Arc::new(AtomicU64::new(0));
    let mut channels: Vec<Vec<Channel>> = Vec::new();
    for org in FOLLOWERS {
        let mut own = Vec::new();
        for _ in 0..cap.div_ceil(opts.per_connection) {
            own.push(connection(&endpoint, &clients.join(org), None).await?);
        }
        channels.push(own);
    }
    let connections: usize = channels.iter().map(Vec::len).sum();
    let opened = futures::stream::iter(0..opts.streams)
        .map(|i| {
            let (org, j) = (i % FOLLOWERS.len(), i / FOLLOWERS.len());
            let channel = channels[org][j / opts.per_connection].clone();
            let (received, ended) = (received.clone(), ended.clone());
            let feed = i < opts.feeds;
            async move {
                follow(channel, feed, received, ended).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(OPENING)
        .collect::<Vec<_>>()
        .await;
    for r in opened {
        r?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let streams_rss = rss_mib(pid).context("reading the server's RSS")?;

    // The subscriber that never reads, on a connection granting each stream 64 KiB.
    let unread_channel = connection(&endpoint, &clients.join(UNREAD), Some(65_535)).await?;
    let mut unread = pb::threat_service_client::ThreatServiceClient::new(unread_channel)
        .subscribe_feed(pb::SubscribeFeedRequest {
            from_now: true,
            ..Default::default()
        })
        .await?
        .into_inner();

    // Another organisation's unary calls, timed throughout the ingest.
    let seed = other
        .threats()
        .submit_threat(pb::SubmitThreatRequest {
            submission_id: "bench-streams-other-seed".into(),
            report: amber(item(500_000_000, discovered())).report,
        })
        .await?
        .into_inner()
        .ack
        .context("an ack")?
        .threat_id;
    let ingesting = Arc::new(AtomicBool::new(true));
    let caller = {
        let ingesting = ingesting.clone();
        tokio::spawn(async move { time_other_calls(other, seed, ingesting).await })
    };

    let ingest_rss_from = rss.samples.lock().expect("rss").len();
    let ingest_start = Instant::now();
    let acked = ingest(&endpoint, &clients.join(INGESTER), opts.items, opts.batch).await;
    let ingest_secs = ingest_start.elapsed().as_secs_f64();
    ingesting.store(false, Ordering::Relaxed);
    let acked = acked?;
    let (get, submit) = caller.await??;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end_rss = rss_mib(pid).context("reading the server's RSS")?;
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let peak_rss = rss.samples.lock().expect("rss")[ingest_rss_from..]
        .iter()
        .copied()
        .fold(end_rss, f64::max);

    // The unread subscriber: what reached it, and how it ended.
    let unread_end = match tokio::time::timeout(Duration::from_secs(60), async {
        let mut n = 0u64;
        loop {
            match unread.next().await {
                Some(Ok(_)) => n += 1,
                Some(Err(status)) => return (n, Some(status)),
                None => return (n, None),
            }
        }
    })
    .await
    {
        Ok((n, Some(s))) if s.code() == tonic::Code::ResourceExhausted => {
            format!("dropped with RESOURCE_EXHAUSTED after {n} events reached it")
        }
        Ok((n, Some(s))) => format!("ended with {:?} after {n} events", s.code()),
        Ok((n, None)) => format!("ended OK after {n} events"),
        Err(_) => "still open".into(),
    };
    let still_open = opts.streams as u64 - ended.load(Ordering::Relaxed);
    drop(server);

    anyhow::ensure!(acked == opts.items, "{acked} acks for {} items", opts.items);
    let per_stream_kib = (streams_rss - start_rss) * 1024.0 / opts.streams as f64;
    Ok(format!(
        "streams: server RSS {start_rss:.1} MiB at start, {streams_rss:.1} MiB with {} streams open \
         ({per_stream_kib:.1} KiB per stream), peak {peak_rss:.1} MiB while ingesting, {end_rss:.1} MiB after; \
         ingest {:.0} items/s ({} items over SubmitThreatBatches, {} per message, AMBER); \
         other callers ({OTHER_CALLER}, one call at a time): GetThreat p50 {:.1} ms p99 {:.1} ms ({} calls), \
         SubmitThreat p50 {:.1} ms p99 {:.1} ms ({} calls); \
         unread feed: {unread_end}; {still_open} of {} streams open at the end ({} feeds, {} notice followers, \
         {connections} connections, {} organisations, streams.max_per_organisation raised to {}, feed_page {}); \
         {} feed messages received; server in a child process",
        opts.streams,
        opts.items as f64 / ingest_secs,
        opts.items,
        opts.batch,
        get.0,
        get.1,
        get.2,
        submit.0,
        submit.1,
        submit.2,
        opts.streams,
        opts.feeds,
        opts.streams - opts.feeds,
        FOLLOWERS.len(),
        cap.max(32),
        opts.feed_page
            .unwrap_or(crate::config::StreamLimits::default().feed_page),
        received.load(Ordering::Relaxed),
    ))
}

fn discovered() -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: chrono::Utc::now().timestamp() - 3600,
        nanos: 0,
    }
}

/// The bench item, marked AMBER: only the reporter, those responsible and regulators see it.
fn amber(mut req: pb::SubmitThreatRequest) -> pb::SubmitThreatRequest {
    if let Some(r) = req.report.as_mut() {
        r.tlp = pb::Tlp::Amber as i32;
    }
    req
}

/// Opens one feed (from now) or notice stream and reads it in a task until it ends.
async fn follow(
    channel: Channel,
    feed: bool,
    received: Arc<AtomicU64>,
    ended: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    if feed {
        let mut s = pb::threat_service_client::ThreatServiceClient::new(channel)
            .subscribe_feed(pb::SubscribeFeedRequest {
                from_now: true,
                ..Default::default()
            })
            .await?
            .into_inner();
        tokio::spawn(async move {
            while let Some(Ok(_)) = s.next().await {
                received.fetch_add(1, Ordering::Relaxed);
            }
            ended.fetch_add(1, Ordering::Relaxed);
        });
    } else {
        let mut s = pb::disposal_service_client::DisposalServiceClient::new(channel)
            .subscribe_notices(pb::SubscribeNoticesRequest::default())
            .await?
            .into_inner();
        tokio::spawn(async move {
            while let Some(Ok(_)) = s.next().await {}
            ended.fetch_add(1, Ordering::Relaxed);
        });
    }
    Ok(())
}

/// Submits `items` in messages of `batch` over one SubmitThreatBatches stream; returns the
/// acknowledgements received.
async fn ingest(endpoint: &str, dir: &Path, items: u64, batch: usize) -> anyhow::Result<u64> {
    let client = Client::connect_dir(endpoint, dir).await?;
    let at = discovered();
    let batches = futures::stream::iter(0..items.div_ceil(batch as u64)).map(move |b| {
        let from = b * batch as u64;
        pb::SubmitThreatBatch {
            items: (from..(from + batch as u64).min(items))
                .map(|i| amber(item(i, at)))
                .collect(),
        }
    });
    let mut acks = client
        .threats()
        .submit_threat_batches(batches)
        .await?
        .into_inner();
    let mut n = 0u64;
    while let Some(batch) = acks.next().await {
        let batch = batch?;
        for ack in &batch.acks {
            anyhow::ensure!(
                ack.outcome != pb::SubmissionOutcome::Refused as i32,
                "refused: {:?}",
                ack.refusal
            );
        }
        n += batch.acks.len() as u64;
    }
    Ok(n)
}

/// (p50 ms, p99 ms, calls)
type Spread = (f64, f64, usize);

/// GetThreat and a small SubmitThreat in turn, one at a time, until the ingest ends.
async fn time_other_calls(
    client: Client,
    threat_id: String,
    ingesting: Arc<AtomicBool>,
) -> anyhow::Result<(Spread, Spread)> {
    let (mut get, mut submit) = (Vec::new(), Vec::new());
    let mut i = 0u64;
    while ingesting.load(Ordering::Relaxed) {
        let t = Instant::now();
        client
            .threats()
            .get_threat(pb::GetThreatRequest {
                threat_id: threat_id.clone(),
                ..Default::default()
            })
            .await?;
        get.push(t.elapsed().as_micros() as u64);
        let t = Instant::now();
        client
            .threats()
            .submit_threat(pb::SubmitThreatRequest {
                submission_id: format!("bench-streams-other-{i}"),
                report: amber(item(10 * (50_000_001 + i), discovered())).report,
            })
            .await?;
        submit.push(t.elapsed().as_micros() as u64);
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let spread = |mut v: Vec<u64>| {
        v.sort_unstable();
        (percentile(&v, 0.5), percentile(&v, 0.99), v.len())
    };
    Ok((spread(get), spread(submit)))
}
