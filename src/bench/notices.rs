//! `fenghuo bench notices`: fan-out of signed notices to many subscribed units
//! (Art. 8 electronic delivery), measured from IssueDecision's answer to the
//! notice's arrival on the addressee's own mTLS stream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use fenghuo_client::{Client, pb};
use futures::StreamExt;
use prost::Message;

mod setup;

use self::setup::{TARGET_IP, Unit, confirmed_threat, officer, register_units};
use super::{COMMIT, Scratch, percentile};
use crate::app::Application;
use crate::config::Settings;
use crate::domain::clock::SystemClock;
use crate::pki::DevPki;

/// TLS handshakes in flight while the subscribers connect.
const CONNECTING: usize = 32;
/// IssueDecision calls in flight; more means the server is not keeping up.
const ISSUING: usize = 256;
/// How long stragglers may take after the last decision: longer than the
/// subscribers' fallback poll, so a lost wake-up shows as latency, not as loss.
const GRACE: Duration = Duration::from_secs(10);
/// Officer tokens live at most 15 minutes; a fresh one every 5.
const TOKEN_REFRESH: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct NoticeBench {
    pub units: usize,
    /// Decisions (one notice each) per second.
    pub rate: u32,
    pub seconds: u64,
    /// A PostgreSQL server; a scratch database is created and dropped.
    pub database_url: Option<String>,
    /// 1, or 2 on PostgreSQL: decisions on replica A, half the subscribers on B.
    pub replicas: usize,
}

/// The result line, and the notices that never arrived (a non-empty list is a failure).
pub struct NoticeFanOut {
    pub line: String,
    pub missing: Vec<String>,
}

/// What the bench knows of one notice.
#[derive(Default)]
struct Slot {
    /// IssueDecision sent, and answered.
    sent: Option<Instant>,
    answered: Option<Instant>,
    arrived: Option<Instant>,
    /// The replica whose stream delivered it (1: B, woken by LISTEN/NOTIFY).
    replica: usize,
    addressee: String,
}

#[derive(Default)]
struct Ledger {
    slots: Mutex<HashMap<String, Slot>>,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    misaddressed: AtomicU64,
    stream_errors: AtomicU64,
}

impl Ledger {
    fn answered(&self, notice_id: String, addressee: &str, sent: Instant, at: Instant) {
        let mut slots = self.slots.lock().expect("ledger lock");
        let slot = slots.entry(notice_id).or_default();
        slot.sent = Some(sent);
        slot.answered = Some(at);
        slot.addressee = addressee.to_owned();
    }

    fn arrived(&self, notice_id: String, replica: usize, at: Instant) {
        let mut slots = self.slots.lock().expect("ledger lock");
        let slot = slots.entry(notice_id).or_default();
        if slot.arrived.is_some() {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        } else {
            slot.arrived = Some(at);
            slot.replica = replica;
            self.delivered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub async fn notices(opts: NoticeBench) -> anyhow::Result<NoticeFanOut> {
    anyhow::ensure!(opts.units >= 1, "--units must be at least 1");
    anyhow::ensure!(opts.rate >= 1, "--rate must be at least 1 notice/s");
    anyhow::ensure!(opts.seconds >= 1, "--seconds must be at least 1");
    anyhow::ensure!(matches!(opts.replicas, 1 | 2), "--replicas is 1 or 2");
    anyhow::ensure!(
        opts.replicas == 1 || opts.database_url.is_some(),
        "--replicas 2 needs PostgreSQL (--database-url): SQLite serves one replica"
    );
    let dir = tempfile::tempdir()?;
    let scratch = Scratch::new(opts.database_url.as_deref(), dir.path()).await?;
    let result = run(&opts, dir.path(), &scratch.url).await;
    scratch.drop_database().await;
    result
}

async fn run(opts: &NoticeBench, dir: &std::path::Path, url: &str) -> anyhow::Result<NoticeFanOut> {
    let data_dir = dir.join("data");
    let settings = Settings::development(&data_dir, url);
    let mut apps = vec![Application::build(settings.clone(), Arc::new(SystemClock)).await?];
    if opts.replicas == 2 {
        apps.push(Application::build(settings, Arc::new(SystemClock)).await?);
    }
    let endpoints: Vec<String> = apps
        .iter()
        .map(|a| format!("https://127.0.0.1:{}", a.local_addr().port()))
        .collect();
    let result = measure(opts, &apps[0], &endpoints, &DevPki::new(&data_dir)).await;
    for app in apps {
        app.stop().await?;
    }
    result
}

async fn measure(
    opts: &NoticeBench,
    app: &Application,
    endpoints: &[String],
    pki: &DevPki,
) -> anyhow::Result<NoticeFanOut> {
    let started = Instant::now();
    let units = register_units(app.store(), pki, opts.units).await?;
    eprintln!(
        "notices: {} units registered in {:.1} s",
        units.len(),
        started.elapsed().as_secs_f64()
    );
    let threat_id = confirmed_threat(&endpoints[0], pki).await?;

    // Every unit subscribes over its own connection; odd ones on replica B when there is one.
    let ledger = Arc::new(Ledger::default());
    let started = Instant::now();
    let connecting = futures::stream::iter(units.iter().enumerate().map(|(i, unit)| {
        let replica = i % endpoints.len();
        let endpoint = endpoints[replica].clone();
        async move { (replica, subscribe(&endpoint, unit).await) }
    }))
    .buffer_unordered(CONNECTING)
    .collect::<Vec<_>>()
    .await;
    let mut readers = Vec::with_capacity(units.len());
    for (replica, stream) in connecting {
        let (unit, stream) = stream?;
        readers.push(tokio::spawn(read(unit, replica, stream, ledger.clone())));
    }
    eprintln!(
        "notices: {} subscribers connected in {:.1} s",
        readers.len(),
        started.elapsed().as_secs_f64()
    );

    let issued = issue(opts, &endpoints[0], pki, &threat_id, &units, &ledger).await;
    // Stragglers: wait until everything answered has arrived, or the grace period ends.
    let answered = ledger
        .slots
        .lock()
        .expect("ledger lock")
        .values()
        .filter(|s| s.answered.is_some())
        .count() as u64;
    let deadline = Instant::now() + GRACE;
    while ledger.delivered.load(Ordering::Relaxed) < answered && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for r in &readers {
        r.abort();
    }
    let issued = issued?;

    let slots = std::mem::take(&mut *ledger.slots.lock().expect("ledger lock"));
    // From the answer (the brief's measure; 0 when the notice came first), and from
    // the request (an upper bound: it includes the decision's own commit).
    let (mut from_answer, mut from_request) = (Vec::new(), Vec::new());
    let (mut b_from_answer, mut b_from_request) = (Vec::new(), Vec::new());
    let (mut early, mut unexpected) = (0u64, 0u64);
    let mut missing = Vec::new();
    for (id, slot) in &slots {
        match (slot.sent, slot.answered, slot.arrived) {
            (Some(sent), Some(answered), Some(arrived)) => {
                early += u64::from(arrived < answered);
                let (answer, request) = (
                    micros(arrived.saturating_duration_since(answered)),
                    micros(arrived.saturating_duration_since(sent)),
                );
                from_answer.push(answer);
                from_request.push(request);
                if slot.replica == 1 {
                    b_from_answer.push(answer);
                    b_from_request.push(request);
                }
            }
            (Some(_), _, None) => missing.push(format!("{id} (to {})", slot.addressee)),
            _ => unexpected += 1,
        }
    }
    missing.sort();
    let backend = if opts.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let mut round_trips = issued.round_trips;
    let via_b = if b_from_answer.is_empty() {
        String::new()
    } else {
        format!(
            "; the {} on replica B's streams (woken by LISTEN/NOTIFY): {} from the answer, {} from the request",
            b_from_answer.len(),
            spread(&mut b_from_answer),
            spread(&mut b_from_request)
        )
    };
    let line = format!(
        "notice fan-out: {} ({} notices to {} units over {} s, {backend}, {} replica{}); \
         measured from IssueDecision's answer, 0 for the {early} notices that arrived before it; \
         from the IssueDecision request: {}{via_b}; {} delivered, {} missing, {} duplicates, {} misaddressed, \
         {unexpected} not issued by the bench, {} stream errors; IssueDecision round trip {}, \
         {:.1} decisions/s achieved; commit {COMMIT}",
        spread(&mut from_answer),
        issued.count,
        units.len(),
        opts.seconds,
        opts.replicas,
        if opts.replicas == 1 { "" } else { "s" },
        spread(&mut from_request),
        from_answer.len(),
        missing.len(),
        ledger.duplicates.load(Ordering::Relaxed),
        ledger.misaddressed.load(Ordering::Relaxed),
        ledger.stream_errors.load(Ordering::Relaxed),
        spread(&mut round_trips),
        issued.count as f64 / issued.elapsed.as_secs_f64().max(1e-9),
    );
    Ok(NoticeFanOut { line, missing })
}

fn micros(d: Duration) -> u64 {
    d.as_micros() as u64
}

/// `p50 …, p99 …, max …` of microsecond samples.
fn spread(samples: &mut [u64]) -> String {
    samples.sort_unstable();
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(samples, 0.50),
        percentile(samples, 0.99),
        samples.last().copied().unwrap_or(0) as f64 / 1000.0
    )
}

type NoticeStream = tonic::codec::Streaming<pb::NoticeDelivery>;

async fn subscribe(endpoint: &str, unit: &Unit) -> anyhow::Result<(String, NoticeStream)> {
    let client = Client::connect(endpoint, &unit.pki)
        .await
        .with_context(|| format!("connecting {}", unit.id))?;
    let stream = client
        .disposal()
        .subscribe_notices(pb::SubscribeNoticesRequest {
            cursor: String::new(),
        })
        .await
        .with_context(|| format!("subscribing {}", unit.id))?
        .into_inner();
    Ok((unit.id.clone(), stream))
}

/// Stamps each delivery as it comes off the unit's stream.
async fn read(unit: String, replica: usize, mut stream: NoticeStream, ledger: Arc<Ledger>) {
    loop {
        match stream.message().await {
            Ok(Some(delivery)) => {
                let at = Instant::now();
                let Some(notice) = delivery.notice else {
                    ledger.misaddressed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let addressee = notice
                    .signed
                    .as_ref()
                    .and_then(|s| pb::NoticeBody::decode(s.body.as_slice()).ok())
                    .map(|b| b.addressee_organisation_id);
                if addressee.as_deref() != Some(unit.as_str()) {
                    ledger.misaddressed.fetch_add(1, Ordering::Relaxed);
                }
                ledger.arrived(notice.notice_id, replica, at);
            }
            Ok(None) => return,
            Err(e) => {
                ledger.stream_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(unit, error = %e, "notice stream ended");
                return;
            }
        }
    }
}

struct Issued {
    count: u64,
    elapsed: Duration,
    /// IssueDecision round trips, microseconds.
    round_trips: Vec<u64>,
}

/// Issues `rate` decisions a second for `seconds`, round-robin over the units,
/// each one measure with one target addressed to one unit.
async fn issue(
    opts: &NoticeBench,
    endpoint: &str,
    pki: &DevPki,
    threat_id: &str,
    units: &[Unit],
    ledger: &Arc<Ledger>,
) -> anyhow::Result<Issued> {
    let total = u64::from(opts.rate) * opts.seconds;
    let mut miit = officer(endpoint, pki, "miit").await?;
    let mut token_at = Instant::now();
    let progress = indicatif::ProgressBar::new(total).with_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} decisions {elapsed}")
            .expect("template"),
    );
    let in_flight = Arc::new(tokio::sync::Semaphore::new(ISSUING));
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(opts.rate)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut calls = tokio::task::JoinSet::new();
    let mut round_trips = Vec::with_capacity(total as usize);
    let started = Instant::now();
    for k in 0..total {
        ticks.tick().await;
        if token_at.elapsed() > TOKEN_REFRESH {
            miit = officer(endpoint, pki, "miit").await?;
            token_at = Instant::now();
        }
        let permit = in_flight.clone().acquire_owned().await?;
        let addressee = units[(k % units.len() as u64) as usize].id.clone();
        let request = pb::IssueDecisionRequest {
            request_id: format!("bench-{run}-{k}"),
            threat_id: threat_id.to_owned(),
            measures: vec![pb::DecisionMeasure {
                measure_type: pb::MeasureType::StopServiceOrBlock as i32,
                targets: vec![pb::MeasureTarget {
                    kind: pb::MeasureTargetKind::Ip as i32,
                    value: TARGET_IP.into(),
                }],
                addressee_organisation_id: addressee.clone(),
                ..Default::default()
            }],
            resolves_review_item_ids: vec![],
            public_security_referral: None,
        };
        let mut client = miit.disposal();
        let ledger = ledger.clone();
        let progress = progress.clone();
        calls.spawn(async move {
            let sent = Instant::now();
            let response = client.issue_decision(request).await;
            let answered = Instant::now();
            drop(permit);
            progress.inc(1);
            let response = response
                .with_context(|| format!("IssueDecision for {addressee}"))?
                .into_inner();
            for n in response.notices {
                ledger.answered(n.notice_id, &addressee, sent, answered);
            }
            anyhow::Ok(micros(answered.duration_since(sent)))
        });
        // Collect finished calls as we go so that errors surface early.
        while let Some(done) = calls.try_join_next() {
            round_trips.push(done??);
        }
    }
    while let Some(done) = calls.join_next().await {
        round_trips.push(done??);
    }
    let elapsed = started.elapsed();
    progress.finish_and_clear();
    Ok(Issued {
        count: total,
        elapsed,
        round_trips,
    })
}
