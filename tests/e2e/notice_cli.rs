//! `fenghuo notice get` and `fenghuo notice verify`: a notice fetched as it
//! travels verifies offline, and any altered byte or another CA fails.

use fenghuo_client::pb;

use crate::support::{Backend, TestApp, spawn_app};
use crate::threats::{ip, report};

fn fenghuo(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(args)
        .env_remove("FENGHUO_TOKEN")
        .env_remove("FENGHUO_PKI_DIR")
        .env_remove("FENGHUO_ENDPOINT")
        .output()
        .expect("runs fenghuo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A disposal notice from MIIT to telecom-gd on a threat CNCERT confirmed.
async fn issue_notice(app: &TestApp) -> pb::Notice {
    let ack = app
        .client("vendor-bj")
        .await
        .unit()
        .submit(
            "notice-cli-1",
            report(app, pb::Tlp::Green, ip("45.33.32.156")),
        )
        .await
        .unwrap();
    let block = |value: &str| pb::MeasureTarget {
        kind: pb::MeasureTargetKind::Ip as i32,
        value: value.into(),
    };
    app.officer("cncert")
        .await
        .identification()
        .identify(pb::IdentifyRequest {
            threat_id: ack.threat_id.clone(),
            outcome: pb::IdentificationOutcome::Confirmed as i32,
            grade: pb::EventGrade::Major as i32,
            reason: String::new(),
            grade_reason: String::new(),
            potential_harm: String::new(),
            recommended_measures: vec![pb::RecommendedMeasure {
                measure_type: pb::MeasureType::StopServiceOrBlock as i32,
                targets: vec![block("45.33.32.156")],
                rationale: "Botnet control server".into(),
            }],
        })
        .await
        .unwrap();
    let decision = app
        .officer("miit")
        .await
        .disposal()
        .issue_decision(pb::IssueDecisionRequest {
            request_id: "notice-cli-decision".into(),
            threat_id: ack.threat_id,
            measures: vec![pb::DecisionMeasure {
                measure_type: pb::MeasureType::StopServiceOrBlock as i32,
                targets: vec![block("45.33.32.156")],
                instructions: "Block the control server at the border".into(),
                addressee_organisation_id: "telecom-gd".into(),
                ..Default::default()
            }],
            resolves_review_item_ids: vec![],
            public_security_referral: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decision.notices.len(), 1);
    decision.notices.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_notice_verifies_offline_and_an_altered_byte_or_another_ca_fails() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let notice = issue_notice(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notice.pb");
    let file = file.to_str().unwrap();
    let pki = app.pki().client_dir("telecom-gd");
    let ca = app.pki().ca_cert();
    let ca = ca.to_str().unwrap();

    // The addressee fetches it as it travels.
    let (ok, out, err) = fenghuo(&[
        "notice",
        "get",
        &notice.notice_id,
        "--out",
        file,
        "--endpoint",
        &app.endpoint,
        "--pki",
        pki.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains(&notice.notice_id), "{out}");
    let saved = std::fs::read(file).unwrap();
    let signed = notice.signed.unwrap();
    assert_eq!(
        <pb::SignedNotice as prost::Message>::decode(saved.as_slice())
            .unwrap()
            .body,
        signed.body,
        "the body is kept byte for byte"
    );

    // Offline, with the platform CA only.
    let (ok, out, err) = fenghuo(&["notice", "verify", file, "--ca", ca]);
    assert!(ok, "{err}");
    for expected in [
        format!("notice {} kind NOTICE_KIND_DISPOSAL", notice.notice_id),
        "issuer miit".into(),
        "addressee telecom-gd".into(),
        format!("key id {}", signed.key_id),
        "covers the issue time".into(),
        "verified".into(),
    ] {
        assert!(out.contains(&expected), "{expected:?} missing from:\n{out}");
    }

    // One byte of the body altered (inside the instructions, so it still decodes).
    let at = find(&saved, b"Block the control server").expect("instructions in the file");
    let mut altered = saved.clone();
    altered[at] ^= 0x20;
    let altered_file = dir.path().join("altered.pb");
    std::fs::write(&altered_file, &altered).unwrap();
    let (ok, out, err) = fenghuo(&[
        "notice",
        "verify",
        altered_file.to_str().unwrap(),
        "--ca",
        ca,
    ]);
    assert!(!ok, "an altered notice verified:\n{out}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("the signature does not match the notice body"),
        "{err}"
    );

    // The genuine file against another CA.
    let (other, _) = fenghuo::pki::CertificateAuthority::generate("another CA").unwrap();
    let other_ca = dir.path().join("other-ca.crt");
    std::fs::write(&other_ca, &other.cert_pem).unwrap();
    let (ok, _, err) = fenghuo(&["notice", "verify", file, "--ca", other_ca.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("the signer certificate was not issued by the platform CA"),
        "{err}"
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
