//! The disposal jobs from the CLI, the binary run as a process over real mTLS: a regulator
//! issues a decision and works its review queue and compliance; a unit follows, verifies,
//! acknowledges and answers its notices.

use chrono::Timelike;
use fenghuo_client::pb;
use serde_json::Value;

use crate::disposal::confirmed_threat;
use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};

/// The binary as a process, as `org` of the dev PKI, with `token` exported as FENGHUO_TOKEN.
pub fn cli(app: &TestApp, org: &str, token: Option<&str>, args: &[&str]) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"));
    command
        .args(args)
        .args(["--endpoint", &app.endpoint, "--org", org])
        .arg("--data-dir")
        .arg(&app.data_dir)
        .env_remove("FENGHUO_PKI_DIR");
    match token {
        Some(t) => command.env("FENGHUO_TOKEN", t),
        None => command.env_remove("FENGHUO_TOKEN"),
    };
    let out = command.output().expect("runs fenghuo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

on_both_backends!(a_regulator_decides_and_a_unit_follows_acknowledges_and_answers_from_the_cli);

async fn a_regulator_decides_and_a_unit_follows_acknowledges_and_answers_from_the_cli(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let token = app.token("miit", "duty-officer");
    let miit = |args: &[&str]| cli(&app, "miit", Some(&token), args);

    // Bad input: refused locally, or by the server with its status and field on stderr.
    let (ok, _, err) = miit(&[
        "decision", "issue", "--threat", &threat, "--target", "ftp:x",
    ]);
    assert!(!ok);
    assert!(err.contains("unknown kind \"ftp\""), "{err}");
    let (ok, _, err) = miit(&[
        "decision",
        "issue",
        "--threat",
        &threat,
        "--target",
        "ip:58.60.1.1",
        "--time-limit",
        "0h",
    ]);
    assert!(!ok);
    assert!(err.contains("InvalidArgument"), "{err}");
    assert!(err.contains("field measures[0].time_limit"), "{err}");

    // The regulator orders a block of two addresses, routed to telecom-gd.
    let (ok, out, err) = miit(&[
        "decision",
        "issue",
        "--threat",
        &threat,
        "--target",
        "ip:58.60.1.1",
        "--target",
        "ip:58.60.1.2",
        "--instructions",
        "null-route both",
        "--json",
    ]);
    assert!(ok, "{err}");
    let lines = json_lines(&out);
    assert!(lines[0]["decision_id"].is_string(), "{out}");
    let notice = &lines[1];
    assert_eq!(notice["addressee"], "telecom-gd");
    assert_eq!(notice["kind"], "NOTICE_KIND_DISPOSAL");
    let notice_id = notice["notice_id"].as_str().unwrap().to_owned();
    let targets: Vec<String> = notice["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target_id"].as_str().unwrap().to_owned())
        .collect();

    // The unit follows into a directory: verified, kept, acknowledged, handed to its hook.
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("notices");
    let hook_log = dir.path().join("hook.log");
    let hook = format!(
        "echo \"$FENGHUO_NOTICE_ID $FENGHUO_NOTICE_KIND\" >> {}",
        hook_log.display()
    );
    let follow = |n: &str| {
        cli(
            &app,
            "telecom-gd",
            None,
            &[
                "notices",
                "follow",
                "--out",
                out_dir.to_str().unwrap(),
                "--ack",
                "--hook",
                &hook,
                "--exit-after",
                n,
            ],
        )
    };
    let (ok, out, err) = follow("1");
    assert!(ok, "{err}");
    assert!(out.contains(&notice_id), "{out}");
    assert!(out_dir.join(format!("{notice_id}.notice")).exists());
    let summary = std::fs::read_to_string(out_dir.join(format!("{notice_id}.txt"))).unwrap();
    assert!(summary.contains("verified"), "{summary}");
    assert!(
        std::fs::read_to_string(&hook_log)
            .unwrap()
            .contains(&format!("{notice_id} NOTICE_KIND_DISPOSAL"))
    );
    let status = app
        .client("telecom-gd")
        .await
        .disposal()
        .get_notice(pb::GetNoticeRequest {
            notice_id: notice_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .notice
        .unwrap()
        .status
        .unwrap();
    assert!(status.received_at.is_some(), "acknowledged by follow --ack");

    // Restarted, it resumes after its cursor: only the new notice arrives.
    let (ok, out, _) = miit(&[
        "decision",
        "issue",
        "--threat",
        &threat,
        "--target",
        "ip:58.60.1.3",
        "--json",
    ]);
    assert!(ok);
    let second = json_lines(&out)[1]["notice_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ok, out, err) = follow("1");
    assert!(ok, "{err}");
    assert!(out.contains(&second) && !out.contains(&notice_id), "{out}");
    assert_eq!(
        std::fs::read_to_string(&hook_log).unwrap().lines().count(),
        2
    );

    // Results: a reason is required for not disposed; then one not disposed, one disposed.
    let unit = |args: &[&str]| cli(&app, "telecom-gd", None, args);
    let (ok, _, err) = unit(&[
        "notices",
        "result",
        &notice_id,
        "--target",
        &targets[0],
        "--not-disposed",
    ]);
    assert!(!ok);
    assert!(err.contains("field results[0].reason"), "{err}");
    let (ok, _, err) = unit(&[
        "notices",
        "result",
        &notice_id,
        "--target",
        &targets[0],
        "--not-disposed",
        "--reason",
        "address reallocated to another operator",
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = unit(&[
        "notices",
        "result",
        &notice_id,
        "--target",
        &targets[1],
        "--disposed",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        json_lines(&out)[0]["state"],
        "NOTICE_STATE_RESULTS_REPORTED"
    );
    let (ok, out, _) = unit(&["notices", "list", "--json"]);
    assert!(ok);
    assert_eq!(json_lines(&out).len(), 2);

    // The regulator's review queue holds the not-disposed target; it accepts the reason.
    let (ok, out, err) = miit(&["review", "list", "--json"]);
    assert!(ok, "{err}");
    let items = json_lines(&out);
    assert_eq!(items.len(), 1, "{out}");
    assert_eq!(items[0]["reason"], "REVIEW_REASON_NOT_DISPOSED");
    assert_eq!(items[0]["why"], "address reallocated to another operator");
    let item = items[0]["id"].as_str().unwrap();
    let (ok, out, err) = miit(&[
        "review",
        "accept",
        item,
        "--note",
        "confirmed with the registry",
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("accepted "), "{out}");
    let (ok, _, err) = miit(&["review", "list"]);
    assert!(ok);
    assert!(err.contains("empty"), "{err}");

    // Compliance: the not-disposed target is its own column; enforcement has its rules.
    let (ok, out, err) = miit(&["compliance", "summary", "--unit", "telecom-gd", "--json"]);
    assert!(ok, "{err}");
    let unit_summary = &json_lines(&out)[0];
    assert_eq!(unit_summary["results"]["not_disposed"], 1);
    assert_eq!(unit_summary["results"]["on_time"], 1);
    let (ok, _, err) = miit(&[
        "compliance",
        "enforce",
        "--unit",
        "registrar-bj",
        "--kind",
        "warning",
        "--legal-basis",
        "Cybersecurity Law Art. 56",
        "--description",
        "no notice was ever addressed to it",
    ]);
    assert!(!ok);
    assert!(err.contains("precondition NOT_AN_ADDRESSEE"), "{err}");
    let (ok, out, err) = miit(&["compliance", "records", "--unit", "telecom-gd", "--json"]);
    assert!(ok, "{err}");
    assert!(json_lines(&out).is_empty(), "nothing is overdue yet: {out}");
}

on_both_backends!(
    an_emergency_call_from_the_cli_runs_the_limit_from_the_call_and_notices_filter_by_state
);

async fn an_emergency_call_from_the_cli_runs_the_limit_from_the_call_and_notices_filter_by_state(
    backend: Backend,
) {
    use fenghuo::domain::clock::Clock;
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let token = app.token("miit", "duty-officer");
    let miit = |args: &[&str]| cli(&app, "miit", Some(&token), args);
    let issue = |call: &str| {
        miit(&[
            "decision",
            "issue",
            "--threat",
            &threat,
            "--target",
            "ip:58.60.1.1",
            "--emergency-call",
            call,
            "--json",
        ])
    };
    let (ok, _, err) = issue("telecom-gd");
    assert!(!ok);
    assert!(
        err.contains("emergency call \"telecom-gd\": write ORG,CALLED_AT[,PERSON]"),
        "{err}"
    );
    let (ok, _, err) = issue("telecom-gd,yesterday,Zhang San");
    assert!(!ok);
    assert!(
        err.contains("CALLED_AT \"yesterday\" is not RFC 3339"),
        "{err}"
    );

    let called = (app.clock.now() - chrono::Duration::minutes(10))
        .with_nanosecond(0)
        .unwrap();
    let (ok, out, err) = issue(&format!("telecom-gd,{},Zhang San", called.to_rfc3339()));
    assert!(ok, "{err}");
    let notice_id = json_lines(&out)[1]["notice_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let notices = app
        .client("telecom-gd")
        .await
        .disposal()
        .list_notices(pb::ListNoticesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .notices;
    let body = crate::disposal::verified_body(&app, &notices[0]);
    assert!(body.emergency, "the notice records the phoned emergency");
    assert_eq!(
        body.emergency_called_at.unwrap().seconds,
        called.timestamp(),
        "the time limit runs from the call"
    );

    // notices list --state: issued (not yet acknowledged) shows it, received does not.
    let telecom = |args: &[&str]| cli(&app, "telecom-gd", None, args);
    let (ok, out, err) = telecom(&["notices", "list", "--state", "issued", "--json"]);
    assert!(ok, "{err}");
    let ids: Vec<_> = json_lines(&out)
        .iter()
        .map(|n| n["notice_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [notice_id]);
    let (ok, out, err) = telecom(&["notices", "list", "--state", "received", "--json"]);
    assert!(ok, "{err}");
    assert!(out.trim().is_empty(), "{out}");
    let (ok, _, err) = telecom(&["notices", "list", "--state", "done"]);
    assert!(!ok);
    assert!(err.contains("unknown notice state \"done\""), "{err}");
}
