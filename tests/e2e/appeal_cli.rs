//! The institution's and the appeal jobs from the CLI, the binary run as a process over real
//! mTLS: identify a threat and verify the results reported on its notices; an affected party
//! finds the measure on its resource and appeals; the regulator answers.

use fenghuo::domain::clock::Clock;
use fenghuo_client::pb;

use crate::disposal::{confirmed_threat, decision, measure, target};
use crate::disposal_cli::{cli, json_lines};
use crate::on_both_backends;
use crate::routing_rules::{holding, import};
use crate::support::{Backend, spawn_app};
use crate::threats::{ip, report};

on_both_backends!(an_institution_identifies_and_an_affected_party_appeals_from_the_cli);

async fn an_institution_identifies_and_an_affected_party_appeals_from_the_cli(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // The institution's queue and identification.
    let submitted = app
        .client("vendor-bj")
        .await
        .unit()
        .submit(
            "cli-identify-1",
            report(&app, pb::Tlp::Green, ip("45.33.32.156")),
        )
        .await
        .unwrap()
        .threat_id;
    let cncert_token = app.token("cncert", "duty-officer");
    let cncert = |args: &[&str]| cli(&app, "cncert", Some(&cncert_token), args);
    let (ok, out, err) = cncert(&["identify", "queue", "--json"]);
    assert!(ok, "{err}");
    assert!(
        json_lines(&out)
            .iter()
            .any(|t| t["threat_id"] == submitted.as_str()),
        "{out}"
    );
    let (ok, _, err) = cncert(&["identify", "confirm", "not-a-threat", "--grade", "serious"]);
    assert!(!ok);
    assert!(err.contains("field threat_id"), "{err}");
    let (ok, out, err) = cncert(&[
        "identify",
        "confirm",
        &submitted,
        "--grade",
        "serious",
        "--grade-reason",
        "three botnets of one family this week",
        "--potential-harm",
        "controls about 40,000 hosts in the province",
        "--recommend",
        "block",
        "--target",
        "ip:45.33.32.156",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        json_lines(&out)[0]["outcome"],
        "IDENTIFICATION_OUTCOME_CONFIRMED"
    );
    let (ok, _, err) = cncert(&["identify", "reject", &submitted, "--reason", "again"]);
    assert!(!ok, "a threat is identified once");
    assert!(err.contains("FailedPrecondition"), "{err}");

    // A serious event is reported to MIIT within 2 h of its identification (2009 mechanism
    // Art. 8(3)): the institution's task, completed with a note.
    let (ok, out, err) = cncert(&[
        "identify", "tasks", "--open", "--threat", &submitted, "--json",
    ]);
    assert!(ok, "{err}");
    let tasks = json_lines(&out);
    assert_eq!(tasks.len(), 1, "{out}");
    assert_eq!(tasks[0]["kind"], "INSTITUTION_TASK_KIND_REPORT_TO_MIIT");
    let task = tasks[0]["id"].as_str().unwrap().to_owned();
    let (ok, _, err) = cncert(&["identify", "complete-task", &task, "--note", " "]);
    assert!(!ok);
    assert!(err.contains("field note"), "{err}");
    let (ok, out, err) = cncert(&[
        "identify",
        "complete-task",
        &task,
        "--note",
        "reported to MIIT by phone, file 2026-17",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(json_lines(&out)[0]["done_at"].is_string(), "{out}");
    let (ok, out, err) = cncert(&["identify", "tasks", "--overdue", "--json"]);
    assert!(ok, "{err}");
    assert!(json_lines(&out).is_empty(), "{out}");

    // A block on an address party-gd holds.
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    import(
        &app.client("party-gd").await,
        vec![holding(
            pb::OwnershipKind::IpPrefix,
            "58.60.1.0/24",
            "party-gd",
        )],
    )
    .await
    .unwrap();
    let notices = app
        .officer("miit")
        .await
        .disposal()
        .issue_decision(decision(
            "cli-appeal-1",
            &threat,
            vec![measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![target(pb::MeasureTargetKind::Ip, "58.60.1.1")],
            )],
        ))
        .await
        .unwrap()
        .into_inner()
        .notices;
    let notice = &notices[0].notice_id;

    let party = |args: &[&str]| cli(&app, "party-gd", None, args);
    let (ok, out, err) = party(&["appeal", "measures", "ip:58.60.1.0/24", "--json"]);
    assert!(ok, "{err}");
    let measures = json_lines(&out);
    assert_eq!(measures.len(), 1, "{out}");
    assert_eq!(measures[0]["notice_id"], notice.as_str());
    assert_eq!(measures[0]["appealable"], true);
    assert!(measures[0]["appeal_window_closes_on"].is_string(), "{out}");
    let target_id = measures[0]["target_id"].as_str().unwrap().to_owned();

    let file = || {
        party(&[
            "appeal",
            "file",
            notice,
            "--target",
            &target_id,
            "--grounds",
            "the address serves our public portal, not a botnet",
            "--contact",
            "IT office",
            "--json",
        ])
    };
    let (ok, out, err) = file();
    assert!(ok, "{err}");
    let appeal = &json_lines(&out)[0];
    assert_eq!(appeal["state"], "APPEAL_STATE_OPEN");
    assert_eq!(appeal["deciding_regulator"], "miit");
    let appeal_id = appeal["appeal_id"].as_str().unwrap().to_owned();
    let (ok, _, err) = file();
    assert!(!ok, "one open appeal per appellant and target");
    assert!(err.contains("AlreadyExists"), "{err}");
    // The operator sees the appeal's answer timer: due, or waiting for next year's calendar
    // with an alert when the 30th working day lies past the loaded years.
    let miit_token = app.token("miit", "duty-officer");
    let (ok, out, err) = cli(&app, "miit", None, &["status", "--json"]);
    assert!(ok, "{err}");
    let status = &json_lines(&out)[0];
    assert!(
        status["calendar_years"]
            .as_array()
            .is_some_and(|y| !y.is_empty()),
        "{out}"
    );
    assert!(status["timers_open"].as_u64().unwrap() >= 1, "{out}");
    let (ok, out, err) = cli(&app, "miit", None, &["alerts", "list", "--json"]);
    assert!(ok, "{err}");
    let alerts = json_lines(&out);
    if appeal["answer_due_on"].is_null() {
        assert!(
            status["timers_pending_calendar"].as_u64().unwrap() >= 1,
            "{status}"
        );
        assert!(
            alerts.iter().any(|a| a["kind"] == "calendar.year_missing"),
            "{out}"
        );
    }
    let (ok, _, err) = cli(&app, "party-gd", None, &["status"]);
    assert!(!ok);
    assert!(err.contains("PermissionDenied"), "{err}");

    let (ok, out, _) = party(&["appeal", "list", "--open", "--json"]);
    assert!(ok);
    assert_eq!(json_lines(&out).len(), 1);
    let (ok, out, err) = party(&["appeal", "watch", &appeal_id, "--exit-after", "1", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(json_lines(&out)[0]["kind"], "APPEAL_EVENT_KIND_FILED");

    // The deciding regulator answers: revoked.
    let (ok, _, err) = cli(
        &app,
        "miit",
        Some(&miit_token),
        &["appeal", "answer", &appeal_id, "--reasons", "x"],
    );
    assert!(!ok);
    assert!(err.contains("--upheld, --revoked or --modified"), "{err}");
    let (ok, out, err) = cli(
        &app,
        "miit",
        Some(&miit_token),
        &[
            "appeal",
            "answer",
            &appeal_id,
            "--revoked",
            "--reasons",
            "the portal was misattributed",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let answered = &json_lines(&out)[0];
    assert_eq!(answered["state"], "APPEAL_STATE_ANSWERED");
    assert_eq!(answered["decision"], "APPEAL_DECISION_REVOKED");
}

on_both_backends!(the_identifying_institution_verifies_reported_results_from_the_cli);

async fn the_identifying_institution_verifies_reported_results_from_the_cli(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let miit_token = app.token("miit", "duty-officer");
    let (ok, out, err) = cli(
        &app,
        "miit",
        Some(&miit_token),
        &[
            "decision",
            "issue",
            "--threat",
            &threat,
            "--target",
            "ip:58.60.1.1",
            "--target",
            "ip:58.60.1.2",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let notice = json_lines(&out)[1].clone();
    let notice_id = notice["notice_id"].as_str().unwrap().to_owned();
    let targets: Vec<String> = notice["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target_id"].as_str().unwrap().to_owned())
        .collect();
    let (ok, out, err) = cli(
        &app,
        "telecom-gd",
        None,
        &["notices", "ack", &notice_id, "--json"],
    );
    assert!(ok, "{err}");
    assert!(json_lines(&out)[0]["received_at"].is_string(), "{out}");
    for t in &targets {
        let (ok, _, err) = cli(
            &app,
            "telecom-gd",
            None,
            &["notices", "result", &notice_id, "--target", t, "--disposed"],
        );
        assert!(ok, "{err}");
    }

    let token = app.token("cncert", "duty-officer");
    let cncert = |args: &[&str]| cli(&app, "cncert", Some(&token), args);
    // Not effective needs what was seen; only the identifying institution verifies.
    let (ok, _, err) = cncert(&[
        "identify",
        "verify",
        &notice_id,
        "--target",
        &targets[1],
        "--not-effective",
    ]);
    assert!(!ok);
    assert!(
        err.contains("InvalidArgument") && err.contains("field verifications[0].details"),
        "{err}"
    );
    let (ok, _, err) = cli(
        &app,
        "telecom-gd",
        None,
        &[
            "identify",
            "verify",
            &notice_id,
            "--target",
            &targets[0],
            "--effective",
        ],
    );
    assert!(!ok);
    assert!(err.contains("PermissionDenied"), "{err}");

    let at = (app.clock.now() - chrono::Duration::minutes(1)).to_rfc3339();
    let (ok, out, err) = cncert(&[
        "identify",
        "verify",
        &notice_id,
        "--target",
        &targets[0],
        "--effective",
        "--at",
        &at,
        "--json",
    ]);
    assert!(ok, "{err}");
    let verified = &json_lines(&out)[0];
    assert_eq!(verified["outcome"], "VERIFICATION_OUTCOME_EFFECTIVE");
    assert!(verified["review_item_ids"].as_array().unwrap().is_empty());
    let (ok, out, err) = cncert(&[
        "identify",
        "verify",
        &notice_id,
        "--target",
        &targets[1],
        "--not-effective",
        "--details",
        "still resolves to 203.0.113.7",
        "--json",
    ]);
    assert!(ok, "{err}");
    let items = json_lines(&out)[0]["review_item_ids"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{out}");
    let (ok, out, err) = cli(&app, "miit", None, &["review", "list", "--json"]);
    assert!(ok, "{err}");
    let queue = json_lines(&out);
    assert_eq!(queue.len(), 1, "{out}");
    assert_eq!(queue[0]["id"], items[0]);
    assert_eq!(queue[0]["why"], "still resolves to 203.0.113.7");
}
