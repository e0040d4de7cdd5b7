//! The monthly bulletin (2009 reporting measures Art. 19) as published: rendered in both
//! languages, signed by the institution's key, stored, audited, and verifiable offline
//! against the platform CA; an altered PDF or a forged publisher fails the check.

use std::sync::Arc;

use fenghuo::bulletin::figures::MonthFigures;
use fenghuo::bulletin::pdf::{DEFAULT_FONT_DIRS, Fonts};
use fenghuo::bulletin::publish::{self, BulletinVerifyError, PublishError};
use fenghuo::domain::clock::Clock;
use fenghuo::pki::keyring::SigningKeyring;
use fenghuo::pki::signing::Signature;
use fenghuo::store::{audit, bulletins};

use crate::on_both_backends;
use crate::support::{Backend, spawn_app};

on_both_backends!(a_published_bulletin_is_signed_stored_and_verifiable_offline);

fn fonts() -> Option<Arc<Fonts>> {
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
    let listed = bulletins::list(&store, None, 10).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|b| (b.month.as_str(), b.language.as_str()))
            .collect::<Vec<_>>(),
        [("2026-11", "en"), ("2026-11", "zh-CN")]
    );
    assert_eq!(listed[1].pdf_bytes, zh.pdf.len() as i64);

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
