//! The monthly bulletin (2009 reporting measures Art. 19) as published: rendered in both
//! languages, signed by the institution's key, stored, audited, and verifiable offline
//! against the platform CA; an altered PDF or a forged publisher fails the check.

use std::sync::Arc;

use chrono::Datelike;
use fenghuo::bulletin::figures::MonthFigures;
use fenghuo::bulletin::pdf::{DEFAULT_FONT_DIRS, Fonts};
use fenghuo::bulletin::publish::{self, BulletinVerifyError, PublishError};
use fenghuo::bulletin::source::{Publisher, month_figures};
use fenghuo::domain::clock::Clock;
use fenghuo::pki::keyring::SigningKeyring;
use fenghuo::pki::signing::Signature;
use fenghuo::store::{audit, bulletins};
use fenghuo_client::pb;

use crate::on_both_backends;
use crate::support::{Backend, spawn_app};
use crate::threats::{ip, report};

on_both_backends!(a_published_bulletin_is_signed_stored_and_verifiable_offline);

pub(crate) fn fonts() -> Option<Arc<Fonts>> {
    let dirs: Vec<_> = DEFAULT_FONT_DIRS
        .iter()
        .map(std::path::PathBuf::from)
        .collect();
    match Fonts::load(&dirs) {
        Ok(f) => Some(Arc::new(f)),
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "{e}");
            eprintln!("skipped: {e}");
            None
        }
    }
}

async fn a_published_bulletin_is_signed_stored_and_verifiable_offline(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(fonts) = fonts() else { return };
    let store = app.application().store().clone();
    let keyring = SigningKeyring::new(app.data_dir.join("pki").join("clients"));
    let now = app.clock.now();
    let figures = MonthFigures {
        month: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        publisher_id: "cncert".into(),
        publisher: "国家互联网应急中心".into(),
        published_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        received_by_category: vec![("恶意程序".into(), 7)],
        ..Default::default()
    };
    let rows = publish::publish(
        &store,
        &keyring,
        fonts.clone(),
        &figures,
        &audit::Actor::system(),
        now,
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "Chinese and English");

    // Stored, and read back as published.
    let zh = bulletins::get(&store, "2026-11", "zh-CN")
        .await
        .unwrap()
        .unwrap();
    assert!(zh.pdf.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&zh.html).contains("公共互联网网络安全威胁月报（2026年11月）"));
    let listed = bulletins::list(&store, &Default::default(), 10)
        .await
        .unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|b| (b.month.as_str(), b.language.as_str()))
            .collect::<Vec<_>>(),
        [("2026-11", "zh-CN"), ("2026-11", "en")]
    );
    assert_eq!(listed[0].pdf_bytes, zh.pdf.len() as i64);

    // Offline: the signature chains to the platform CA and names cncert.
    let ca = std::fs::read_to_string(app.data_dir.join("pki").join("ca.crt")).unwrap();
    let signature = Signature {
        signature: zh.signature.clone(),
        key_id: zh.key_id.clone(),
        chain_der: publish::decode_chain(&zh.chain_der).unwrap(),
    };
    let manifest =
        publish::verify(&zh.manifest, &signature, Some(&zh.html), Some(&zh.pdf), &ca).unwrap();
    assert_eq!(
        (manifest.month.as_str(), manifest.publisher.as_str()),
        ("2026-11", "cncert")
    );

    // One altered byte of the PDF is caught.
    let mut altered = zh.pdf.clone();
    let last = altered.len() - 10;
    altered[last] ^= 1;
    assert!(matches!(
        publish::verify(&zh.manifest, &signature, None, Some(&altered), &ca),
        Err(BulletinVerifyError::Altered {
            document: "PDF",
            ..
        })
    ));
    // A manifest claiming another publisher does not verify with cncert's key.
    let forged = String::from_utf8(zh.manifest.clone())
        .unwrap()
        .replace("\"cncert\"", "\"miit\"");
    assert!(matches!(
        publish::verify(forged.as_bytes(), &signature, None, None, &ca),
        Err(BulletinVerifyError::Signature(_))
    ));

    // Audited, and the chain still verifies.
    let published = audit::query(
        &store,
        &audit::AuditFilter {
            subject: Some("bulletin:2026-11".into()),
            ..Default::default()
        },
        10,
    )
    .await
    .unwrap();
    assert_eq!(published.len(), 1);
    assert!(audit::verify_chain(&store).await.unwrap().intact());

    // A unit holds no signing key: nothing is published in its name.
    let err = publish::publish(
        &store,
        &keyring,
        fonts,
        &MonthFigures {
            publisher_id: "telecom-gd".into(),
            ..figures
        },
        &audit::Actor::system(),
        now,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PublishError::NoSigningKey { .. }), "{err}");

    app.stop().await;
}

on_both_backends!(the_bulletins_numbers_are_the_statistics_numbers);

/// A seeded month: the bulletin built from it carries exactly what StatisticsService
/// answers for that month, in its figures and on its page.
async fn the_bulletins_numbers_are_the_statistics_numbers(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let Some(fonts) = fonts() else { return };
    let vendor = app.client("vendor-bj").await;
    for (i, addr) in ["61.135.1.7", "61.135.1.8", "114.114.1.9"]
        .iter()
        .enumerate()
    {
        vendor
            .threats()
            .submit_threat(pb::SubmitThreatRequest {
                submission_id: format!("bulletin-{i}"),
                report: Some(report(&app, pb::Tlp::Green, ip(addr))),
            })
            .await
            .unwrap();
    }
    let now = app.clock.now();
    let today = fenghuo::domain::calendar::local_date(now);
    let month = today.with_day(1).unwrap();
    let key = month.format("%Y-%m").to_string();
    let stats = app
        .client("miit")
        .await
        .statistics()
        .get_threat_statistics(pb::StatisticsRequest {
            period: Some(pb::StatisticsPeriod {
                span: Some(pb::statistics_period::Span::Month(key.clone())),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.threats, 3);

    let store = app.application().store().clone();
    let publisher = Publisher {
        id: "cncert".into(),
        name: "CNCERT".into(),
    };
    let figures = month_figures(&store, month, &publisher, today)
        .await
        .unwrap();
    let by_category: Vec<(String, u64)> = stats
        .by_category
        .iter()
        .map(|r| (r.key.clone(), r.threats))
        .collect();
    assert_eq!(figures.received_by_category, by_category);
    let per_day: u64 = figures.received_by_day.iter().map(|(_, n)| n).sum();
    assert_eq!(per_day, stats.sightings);

    let keyring = SigningKeyring::new(app.data_dir.join("pki").join("clients"));
    publish::publish(
        &store,
        &keyring,
        fonts,
        &figures,
        &audit::Actor::system(),
        now,
    )
    .await
    .unwrap();
    let page = bulletins::get(&store, &key, "zh-CN")
        .await
        .unwrap()
        .unwrap();
    let html = String::from_utf8(page.html).unwrap();
    assert!(
        html.contains(&format!(
            "共接收各单位报送的网络安全威胁{}起",
            stats.threats
        )),
        "the page states the month's total"
    );
    app.stop().await;
}

on_both_backends!(the_daily_check_publishes_on_the_first_working_day_and_alerts_when_overdue);

/// The daily check, on the injected instants: on the first working day of December it builds
/// November's bulletin once; a publisher that cannot sign raises `bulletin.failed`, and past
/// the 10th working day (Art. 19) `bulletin.overdue`.
async fn the_daily_check_publishes_on_the_first_working_day_and_alerts_when_overdue(
    backend: Backend,
) {
    use fenghuo::bulletin::check::BulletinCheck;
    use fenghuo::timers::DailyCheck;
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    if fonts().is_none() {
        return;
    }
    let store = app.application().store().clone();
    let check = |publisher: &str| BulletinCheck {
        publisher: publisher.into(),
        keyring: Arc::new(SigningKeyring::new(
            app.data_dir.join("pki").join("clients"),
        )),
        font_dirs: DEFAULT_FONT_DIRS
            .iter()
            .map(std::path::PathBuf::from)
            .collect(),
        fonts: std::sync::OnceLock::new(),
    };
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };

    // Monday 30 November 2026 (Shanghai): October's bulletin is the one due; November's waits.
    let cncert = check("cncert");
    cncert
        .run(&store, at("2026-11-30T01:00:00Z"))
        .await
        .unwrap();
    assert!(bulletins::is_published(&store, "2026-10").await.unwrap());
    assert!(!bulletins::is_published(&store, "2026-11").await.unwrap());
    // Tuesday 1 December, the first working day: November's, once however often it runs.
    cncert
        .run(&store, at("2026-12-01T01:00:00Z"))
        .await
        .unwrap();
    cncert
        .run(&store, at("2026-12-01T09:00:00Z"))
        .await
        .unwrap();
    assert!(bulletins::is_published(&store, "2026-11").await.unwrap());
    let published = audit::query(
        &store,
        &audit::AuditFilter {
            subject: Some("bulletin:2026-11".into()),
            ..Default::default()
        },
        10,
    )
    .await
    .unwrap();
    assert_eq!(published.len(), 1, "built once");

    // September's bulletin by a publisher without a signing key, on 21 October 2026: due by
    // 20 October (Oct 1-7 holiday, the make-up Saturday 10th counted), so both alerts.
    let unit = check("telecom-gd");
    let err = unit
        .run(&store, at("2026-10-21T01:00:00Z"))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("signing key"), "{err:#}");
    let alerts = fenghuo::store::timers::open_alerts(&store).await.unwrap();
    let kinds: Vec<(&str, &str)> = alerts
        .iter()
        .filter(|a| a.subject == "bulletin:2026-09")
        .map(|a| (a.kind.as_str(), a.subject.as_str()))
        .collect();
    assert!(
        kinds.contains(&("bulletin.failed", "bulletin:2026-09")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("bulletin.overdue", "bulletin:2026-09")),
        "{kinds:?}"
    );
    let overdue = alerts
        .iter()
        .find(|a| a.kind == "bulletin.overdue")
        .unwrap();
    assert!(
        overdue.message.contains("2026-10-20"),
        "{}",
        overdue.message
    );
    app.stop().await;
}
