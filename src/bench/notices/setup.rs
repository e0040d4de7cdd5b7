//! Setting the stage for `bench notices`: the units with their certificates,
//! and a confirmed threat to decide on.

use anyhow::Context;
use chrono::{DateTime, Utc};
use fenghuo_client::{Client, ClientPki, pb};

use crate::domain::clock::to_micros;
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

/// One bench unit: its id and its own client identity from the dev CA.
pub struct Unit {
    pub id: String,
    pub pki: ClientPki,
}

/// Registers `n` basic telecom units of Guangdong, each with a client
/// certificate from the dev CA, in the rows the auth layer reads.
pub async fn register_units(store: &Store, pki: &DevPki, n: usize) -> anyhow::Result<Vec<Unit>> {
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
        &OrganisationRow::new(
            &unit.id,
            &format!("{} (bench)", unit.id),
            &[Role::BasicTelecom],
            PROVINCE,
            at,
        ),
    )
    .await
    .with_context(|| format!("registering {}", unit.id))?;
    registry::insert_certificate(
        tx,
        &CertificateRow::new(&cert, &unit.id, &unit.pki.cert_pem, at),
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

pub async fn officer(endpoint: &str, pki: &DevPki, org: &str) -> anyhow::Result<Client> {
    let token = crate::seed::demo_officer_token(pki, org, DEMO_OFFICER, Utc::now(), 900)?;
    Client::connect_dir(endpoint, pki.client_dir(org))
        .await?
        .with_token(&token)
}

/// A threat reported by the demo vendor and confirmed by CNCERT (Art. 7), so
/// that decisions may be taken on it (Art. 8).
pub async fn confirmed_threat(endpoint: &str, pki: &DevPki) -> anyhow::Result<String> {
    let vendor = Client::connect_dir(endpoint, pki.client_dir("vendor-bj")).await?;
    let discovered = prost_types::Timestamp {
        seconds: Utc::now().timestamp() - 3600,
        nanos: 0,
    };
    let ack = vendor
        .threats()
        .submit_threat(crate::bench::item(0, discovered))
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
            // The bench times notice fan-out, so its threat is graded for short limits.
            grade_reason: "bench: graded major for the fan-out scenario".into(),
            potential_harm: String::new(),
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

/// The IP of `crate::bench::item(0, …)`.
pub const TARGET_IP: &str = "45.0.0.1";
