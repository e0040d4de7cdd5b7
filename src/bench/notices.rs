//! `fenghuo bench notices`: fan-out of signed notices to many subscribed units
//! (Art. 8 electronic delivery), measured from IssueDecision's answer to the
//! notice's arrival on the addressee's own mTLS stream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use fenghuo_client::{Client, ClientPki, pb};
use futures::StreamExt;
use prost::Message;

use super::{COMMIT, Scratch, percentile};
use crate::app::Application;
use crate::config::Settings;
use crate::domain::clock::{SystemClock, to_micros};
use crate::domain::organisation::Role;
use crate::pki::dev::DEMO_OFFICER;
use crate::pki::{ClientCertificate, DevPki};
use crate::store::audit::{self, Actor};
use crate::store::registry::{self, CertificateRow, OrganisationRow};
use crate::store::{Store, Tx};

/// The units' province: Guangdong, like the demo telecom operator.
const PROVINCE: &str = "440000";
/// Organisations and certificates per registration transaction.
const REGISTER_BATCH: usize = 100;
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
    /// IssueDecision answered.
    answered: Option<Instant>,
    arrived: Option<Instant>,
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
    fn answered(&self, notice_id: String, addressee: &str, at: Instant) {
        let mut slots = self.slots.lock().expect("ledger lock");
        let slot = slots.entry(notice_id).or_default();
        slot.answered = Some(at);
        slot.addressee = addressee.to_owned();
    }

    fn arrived(&self, notice_id: String, at: Instant) {
        let mut slots = self.slots.lock().expect("ledger lock");
        let slot = slots.entry(notice_id).or_default();
        if slot.arrived.is_some() {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        } else {
            slot.arrived = Some(at);
            self.delivered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One bench unit: its id and its own client identity from the dev CA.
struct Unit {
    id: String,
    pki: ClientPki,
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
        let endpoint = endpoints[i % endpoints.len()].clone();
        async move { subscribe(&endpoint, unit).await }
    }))
    .buffer_unordered(CONNECTING)
    .collect::<Vec<_>>()
    .await;
    let mut readers = Vec::with_capacity(units.len());
    for stream in connecting {
        let (unit, stream) = stream?;
        readers.push(tokio::spawn(read(unit, stream, ledger.clone())));
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
    let mut latencies = Vec::with_capacity(slots.len());
    let (mut early, mut unexpected) = (0u64, 0u64);
    let mut missing = Vec::new();
    for (id, slot) in &slots {
        match (slot.answered, slot.arrived) {
            (Some(answered), Some(arrived)) => {
                if arrived < answered {
                    early += 1;
                }
                latencies.push(arrived.saturating_duration_since(answered).as_micros() as u64);
            }
            (Some(_), None) => missing.push(format!("{id} (to {})", slot.addressee)),
            (None, _) => unexpected += 1,
        }
    }
    latencies.sort_unstable();
    missing.sort();
    let backend = if opts.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let line = format!(
        "notice fan-out: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} notices to {} units over {} s, {backend}, {} replica{}; \
         {} delivered, {} missing, {} duplicates, {} misaddressed, {} before IssueDecision answered, {} not issued by the bench, \
         {} stream errors; IssueDecision p50 {:.1} ms, p99 {:.1} ms, {:.1} decisions/s achieved; commit {COMMIT})",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
        issued.count,
        units.len(),
        opts.seconds,
        opts.replicas,
        if opts.replicas == 1 { "" } else { "s" },
        latencies.len(),
        missing.len(),
        ledger.duplicates.load(Ordering::Relaxed),
        ledger.misaddressed.load(Ordering::Relaxed),
        early,
        unexpected,
        ledger.stream_errors.load(Ordering::Relaxed),
        percentile(&issued.round_trips, 0.50),
        percentile(&issued.round_trips, 0.99),
        issued.count as f64 / issued.elapsed.as_secs_f64().max(1e-9),
    );
    Ok(NoticeFanOut { line, missing })
}

/// Registers `n` basic telecom units of Guangdong, each with a client
/// certificate from the dev CA, in the rows the auth layer reads.
async fn register_units(store: &Store, pki: &DevPki, n: usize) -> anyhow::Result<Vec<Unit>> {
    let ca = pki.authority()?;
    let ca_pem = std::fs::read_to_string(pki.ca_cert())?;
    let now = Utc::now();
    let mut units = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("bench-unit-{i:05}");
        let (cert_pem, key_pem) = ca.issue_client(&id, &format!("{id} (bench)"))?;
        units.push(Unit {
            id,
            pki: ClientPki {
                ca_pem: ca_pem.clone(),
                cert_pem,
                key_pem,
            },
        });
    }
    for batch in units.chunks(REGISTER_BATCH) {
        let mut tx = store.begin().await?;
        for unit in batch {
            register(&mut tx, store, unit, now).await?;
        }
        tx.commit().await?;
    }
    Ok(units)
}

/// One unit with its certificate, as RegistryService's create and register calls store them.
async fn register(
    tx: &mut Tx,
    store: &Store,
    unit: &Unit,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let cert = ClientCertificate::from_pem(&unit.pki.cert_pem)?;
    let at = to_micros(now);
    registry::insert_organisation(
        tx,
        &OrganisationRow {
            id: unit.id.clone(),
            name: format!("{} (bench)", unit.id),
            roles: Role::BasicTelecom.as_str().into(),
            province: PROVINCE.into(),
            parent_id: None,
            enabled: 1,
            contacts_json: "[]".into(),
            created_at: at,
            contacts_updated_at: None,
        },
    )
    .await
    .with_context(|| format!("registering {}", unit.id))?;
    registry::insert_certificate(
        tx,
        &CertificateRow {
            fingerprint: cert.fingerprint.clone(),
            org_id: unit.id.clone(),
            subject: cert.subject.clone(),
            not_before: to_micros(cert.not_before),
            not_after: to_micros(cert.not_after),
            registered_at: at,
            revoked_at: None,
            revocation_reason: None,
            pem: unit.pki.cert_pem.trim().into(),
        },
    )
    .await?;
    audit::append(
        tx,
        store.dialect(),
        now,
        &Actor::system(),
        "registry.bench_unit",
        &format!("organisation:{}", unit.id),
        serde_json::json!({"role": Role::BasicTelecom.as_str(), "province": PROVINCE, "certificate": cert.fingerprint}),
    )
    .await?;
    Ok(())
}

async fn officer(endpoint: &str, pki: &DevPki, org: &str) -> anyhow::Result<Client> {
    let token = crate::seed::demo_officer_token(pki, org, DEMO_OFFICER, Utc::now(), 900)?;
    Client::connect_dir(endpoint, pki.client_dir(org))
        .await?
        .with_token(&token)
}

/// A threat reported by the demo vendor and confirmed by CNCERT (Art. 7), so
/// that decisions may be taken on it (Art. 8).
async fn confirmed_threat(endpoint: &str, pki: &DevPki) -> anyhow::Result<String> {
    let vendor = Client::connect_dir(endpoint, pki.client_dir("vendor-bj")).await?;
    let discovered = prost_types::Timestamp {
        seconds: Utc::now().timestamp() - 3600,
        nanos: 0,
    };
    let ack = vendor
        .threats()
        .submit_threat(super::item(0, discovered))
        .await
        .context("submitting the bench threat")?
        .into_inner()
        .ack
        .context("no acknowledgement")?;
    let target = pb::MeasureTarget {
        kind: pb::MeasureTargetKind::Ip as i32,
        value: TARGET_IP.into(),
    };
    officer(endpoint, pki, "cncert")
        .await?
        .identification()
        .identify(pb::IdentifyRequest {
            threat_id: ack.threat_id.clone(),
            outcome: pb::IdentificationOutcome::Confirmed as i32,
            grade: pb::EventGrade::Major as i32,
            reason: String::new(),
            recommended_measures: vec![pb::RecommendedMeasure {
                measure_type: pb::MeasureType::StopServiceOrBlock as i32,
                targets: vec![target],
                rationale: "Botnet control server (bench)".into(),
            }],
        })
        .await
        .context("confirming the bench threat")?;
    Ok(ack.threat_id)
}

/// The IP of `super::item(0, …)`.
const TARGET_IP: &str = "45.0.0.1";

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
async fn read(unit: String, mut stream: NoticeStream, ledger: Arc<Ledger>) {
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
                ledger.arrived(notice.notice_id, at);
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
    /// IssueDecision round trips, microseconds, sorted.
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
                ledger.answered(n.notice_id, &addressee, answered);
            }
            anyhow::Ok(answered.duration_since(sent).as_micros() as u64)
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
    round_trips.sort_unstable();
    Ok(Issued {
        count: total,
        elapsed,
        round_trips,
    })
}
