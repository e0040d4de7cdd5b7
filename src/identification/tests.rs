//! The identification rules without a server: a real SQLite file, a threat stored by the
//! intake's own function, the workflow called directly.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::*;
use crate::auth::policy::Scope;
use crate::domain::clock::ManualClock;
use crate::domain::organisation::Role;
use crate::store::threats::IngestOutcome;

struct Fixture {
    workflow: Identifications,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-03T02:00:00Z")
        .expect("a fixed instant")
        .with_timezone(&Utc)
}

fn caller(organisation_id: &str, role: Role) -> Caller {
    Caller::for_test(organisation_id, role, "beijing", Scope::Allow)
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::connect(&url).await.expect("a SQLite store");
    let (shutdown, rx) = tokio::sync::watch::channel(false);
    let feed = crate::delivery::NoticeSignal::start(&url, store.dialect(), rx);
    Fixture {
        workflow: Identifications {
            store,
            clock: Arc::new(ManualClock::new(now())),
            grading: GradeThresholds::default(),
            feed,
            // The 2009 mechanism's limits, which give institutions their tasks.
            policy: Arc::new(
                DeadlinePolicy::shipped_with("reporting_profile = \"mechanism_2009\"")
                    .expect("the shipped policy"),
            ),
        },
        _dir: dir,
        _shutdown: shutdown,
    }
}

/// Stores a botnet control server reported with `bots` bots; its threat's id.
async fn threat_with_bots(f: &Fixture, bots: u64) -> String {
    let report = pb::ThreatReport {
        discovered_at: Some(pb::timestamp(to_micros(now()))),
        tlp: pb::Tlp::Green as i32,
        kind: pb::SubmissionKind::AboutOthers as i32,
        information: Some(pb::threat_report::Information::Event(
            pb::EventInformation {
                grade: pb::EventGrade::Major as i32,
                affected_unit: "Example Hosting Ltd".into(),
                occurred_at: Some(pb::timestamp(to_micros(now()))),
                brief_course: "Observed by passive DNS".into(),
                estimated_harm_and_impact: "many bots".into(),
                measures_taken: "none yet".into(),
                other: String::new(),
            },
        )),
        category: Some(pb::threat_report::Category::MaliciousResource(
            pb::MaliciousResource {
                kind: pb::MaliciousResourceKind::Ip as i32,
                value: "45.33.32.170".into(),
                purpose: pb::MaliciousResourcePurpose::BotnetControlServer as i32,
                control_server: Some(pb::ControlServer {
                    port: 8080,
                    transport: pb::TransportProtocol::Tcp as i32,
                    application_protocol: "HTTP".into(),
                    malware_family: "Mirai".into(),
                    bot_count: bots,
                    domains: vec!["cc.evil-example.com".into()],
                    ..Default::default()
                }),
                message: None,
            },
        )),
        ..Default::default()
    };
    let request = pb::SubmitThreatRequest {
        submission_id: "s-1".into(),
        report: Some(report),
    };
    let submission = crate::intake::report::validate(&request, now()).expect("a valid submission");
    let item = crate::intake::item(
        &caller("vendor", Role::SecurityVendor),
        &crate::domain::routing::RoutingTable::default(),
        submission,
    );
    let outcomes = threats::ingest(&f.workflow.store, &f.workflow.policy, now(), &[item])
        .await
        .expect("stored");
    match &outcomes[..] {
        [IngestOutcome::Stored { threat_id, .. }] => threat_id.clone(),
        other => panic!("not stored: {other:?}"),
    }
}

fn confirm(threat_id: &str, grade: EventGrade, grade_reason: &str) -> IdentifyThreat {
    IdentifyThreat {
        threat_id: threat_id.into(),
        verdict: Verdict::Confirmed {
            grade,
            grade_reason: grade_reason.into(),
            potential_harm: String::new(),
            measures: Vec::new(),
        },
        reason: String::new(),
        request_sha256: format!("{grade:?}/{grade_reason}"),
    }
}

#[tokio::test]
async fn a_grade_other_than_the_thresholds_give_needs_a_reason() {
    let f = fixture().await;
    let threat = threat_with_bots(&f, 120_000).await;
    let cert = caller("cncert", Role::Institution);
    let by_thresholds = f.workflow.grading.grade(120_000);
    let other = if by_thresholds == EventGrade::General {
        EventGrade::Major
    } else {
        EventGrade::General
    };
    let e = f
        .workflow
        .identify(&cert, confirm(&threat, other, ""))
        .await
        .expect_err("a grade against the thresholds without a reason");
    match e {
        IdentifyError::GradeNeedsReason {
            bots,
            by_thresholds: b,
            given,
        } => assert_eq!((bots, b, given), (120_000, by_thresholds, other)),
        e => panic!("{e:?}"),
    }
    let done = f
        .workflow
        .identify(&cert, confirm(&threat, other, "the bots are honeypots"))
        .await
        .expect("a grade with its reason");
    assert!(!done.replayed);
}

#[tokio::test]
async fn the_same_request_again_gets_the_first_identification_and_another_is_refused() {
    let f = fixture().await;
    let threat = threat_with_bots(&f, 120_000).await;
    let cert = caller("cncert", Role::Institution);
    let grade = f.workflow.grading.grade(120_000);
    let first = f
        .workflow
        .identify(&cert, confirm(&threat, grade, ""))
        .await
        .expect("confirmed");
    let again = f
        .workflow
        .identify(&cert, confirm(&threat, grade, ""))
        .await
        .expect("the same request");
    assert!(again.replayed);
    assert_eq!(again.row.id, first.row.id);
    let e = f
        .workflow
        .identify(
            &cert,
            IdentifyThreat {
                threat_id: threat.clone(),
                verdict: Verdict::Rejected,
                reason: "a sinkhole".into(),
                request_sha256: "other".into(),
            },
        )
        .await
        .expect_err("a second, different identification");
    match e {
        IdentifyError::AlreadyIdentified {
            institution, at, ..
        } => assert_eq!((institution.as_str(), at), ("cncert", now())),
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn an_unknown_threat_is_not_found_and_a_confirmation_creates_the_institutions_tasks() {
    let f = fixture().await;
    let cert = caller("cncert", Role::Institution);
    let missing = uuid::Uuid::now_v7().to_string();
    let e = f
        .workflow
        .identify(&cert, confirm(&missing, EventGrade::General, ""))
        .await
        .expect_err("no such threat");
    assert!(matches!(e, IdentifyError::ThreatNotFound { ref threat_id } if *threat_id == missing));

    let threat = threat_with_bots(&f, 120_000).await;
    let grade = f.workflow.grading.grade(120_000);
    f.workflow
        .identify(&cert, confirm(&threat, grade, ""))
        .await
        .expect("confirmed");
    let listed = tasks::list(
        &f.workflow.store,
        &caller("cncert", Role::Institution),
        crate::store::reporting::TaskFilter::default(),
        100,
    )
    .await
    .expect("tasks");
    assert!(
        !listed.is_empty()
            && listed
                .iter()
                .all(|t| t.institution_org == "cncert" && t.done_at.is_none()),
        "{listed:?}"
    );
}
