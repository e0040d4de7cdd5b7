//! The jobs issue #13 left to the CLI, the binary run as a process over real mTLS: a unit
//! reports a revoked measure lifted; a regulator marks a protected unit, issues a decision
//! from the README's example file and records the offline notification; appeals due within
//! N working days. And the README's job commands, each matched to a test invocation.

use chrono::{Datelike, Duration};
use fenghuo::domain::clock::Clock;
use fenghuo_client::pb;

use crate::appeals::{blocking_notice, by_party, file, report_disposed, shanghai};
use crate::disposal::confirmed_threat;
use crate::disposal_cli::{cli, json_lines};
use crate::on_both_backends;
use crate::support::{Backend, spawn_app};

on_both_backends!(a_unit_reports_a_revoked_measure_lifted_from_the_cli);

async fn a_unit_reports_a_revoked_measure_lifted_from_the_cli(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let token = app.token("miit", "duty-officer");
    let miit = |args: &[&str]| cli(&app, "miit", Some(&token), args);
    let unit = |args: &[&str]| cli(&app, "telecom-gd", None, args);
    let (ok, out, err) = miit(&[
        "decision",
        "issue",
        "--threat",
        &threat,
        "--target",
        "ip:58.60.1.1",
        "--target",
        "ip:58.60.1.2",
        "--json",
    ]);
    assert!(ok, "{err}");
    let notice = json_lines(&out)[1].clone();
    let notice_id = notice["notice_id"].as_str().unwrap().to_owned();
    let targets: Vec<String> = notice["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target_id"].as_str().unwrap().to_owned())
        .collect();

    // Nothing is lifted before a revocation.
    let (ok, _, err) = unit(&["notices", "lifted", &notice_id]);
    assert!(!ok);
    assert!(err.contains("precondition NOTHING_TO_LIFT"), "{err}");
    let (ok, _, err) = unit(&["notices", "lifted", &notice_id, "--target", &targets[0]]);
    assert!(!ok);
    assert!(err.contains("precondition NOT_REVOKED on target:"), "{err}");

    let (ok, out, err) = miit(&[
        "decision",
        "revoke",
        &notice_id,
        "--reason",
        "appeal upheld",
        "--target",
        &targets[0],
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(json_lines(&out)[0]["kind"], "NOTICE_KIND_REVOCATION");

    // Bad times: not RFC 3339 (refused locally), or in the future (by the server).
    let (ok, _, err) = unit(&["notices", "lifted", &notice_id, "--at", "yesterday"]);
    assert!(!ok);
    assert!(err.contains("is not an RFC 3339 time"), "{err}");
    let later = (app.clock.now() + Duration::hours(1)).to_rfc3339();
    let (ok, _, err) = unit(&["notices", "lifted", &notice_id, "--at", &later]);
    assert!(!ok);
    assert!(
        err.contains("InvalidArgument") && err.contains("field lifted_at: lies in the future"),
        "{err}"
    );

    let at = (app.clock.now() - Duration::minutes(5)).to_rfc3339();
    let (ok, out, err) = unit(&[
        "notices",
        "lifted",
        &notice_id,
        "--at",
        &at,
        "--details",
        "route withdrawn",
        "--json",
    ]);
    assert!(ok, "{err}");
    let lifted = &json_lines(&out)[0];
    let revoked = lifted["revoked"].as_array().unwrap();
    assert_eq!(revoked.len(), 1, "{out}");
    assert_eq!(revoked[0]["target_id"], targets[0].as_str());
    assert!(revoked[0]["lifted_at"].is_string(), "{out}");

    // The target still in force gets no result: two days on it is on record (Art. 12), and
    // the regulator answers the record with a warning.
    app.clock.advance(Duration::days(2));
    app.drive_timers_until_idle().await;
    let token = app.token("miit", "duty-officer");
    let miit = |args: &[&str]| cli(&app, "miit", Some(&token), args);
    let (ok, out, err) = miit(&[
        "compliance",
        "records",
        "--unit",
        "telecom-gd",
        "--unenforced",
        "--json",
    ]);
    assert!(ok, "{err}");
    let records = json_lines(&out);
    let missing = records
        .iter()
        .find(|r| r["kind"] == "NON_COMPLIANCE_KIND_MISSING_RESULT")
        .unwrap_or_else(|| panic!("a missing result: {out}"));
    assert_eq!(missing["target_id"], targets[1].as_str(), "{out}");
    let record = missing["id"].as_str().unwrap();
    let (ok, out, err) = miit(&[
        "compliance",
        "enforce",
        "--unit",
        "telecom-gd",
        "--kind",
        "warning",
        "--legal-basis",
        "Cybersecurity Law Art. 56",
        "--description",
        "no result for a blocking notice",
        "--record",
        record,
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(json_lines(&out)[0]["non_compliance_ids"][0], record);
    let (ok, out, err) = miit(&[
        "compliance",
        "records",
        "--unit",
        "telecom-gd",
        "--unenforced",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(
        json_lines(&out)
            .iter()
            .all(|r| r["kind"] != "NON_COMPLIANCE_KIND_MISSING_RESULT"),
        "{out}"
    );
}

on_both_backends!(
    a_regulator_marks_a_protected_unit_decides_from_a_file_and_records_the_offline_notice_from_the_cli
);

async fn a_regulator_marks_a_protected_unit_decides_from_a_file_and_records_the_offline_notice_from_the_cli(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let token = app.token("miit", "duty-officer");
    let miit = |args: &[&str]| cli(&app, "miit", Some(&token), args);

    // Critical information infrastructure needs both parties of Art. 8(3).
    let superior = "superior-authority:Guangdong Communications Administration:+86 20 8888 0000";
    let cac = "cyberspace-administration:Guangdong Cyberspace Administration:+86 20 8888 0001";
    let (ok, _, err) = miit(&[
        "decision",
        "protect",
        "telecom-gd",
        "--kind",
        "critical-information-infrastructure",
        "--system-name",
        "provincial backbone",
        "--informed-offline",
        superior,
    ]);
    assert!(!ok);
    assert!(
        err.contains("InvalidArgument") && err.contains("field mark.informed"),
        "{err}"
    );
    let (ok, _, err) = miit(&[
        "decision",
        "protect",
        "telecom-gd",
        "--kind",
        "critical-information-infrastructure",
        "--informed",
        "mayor:gov-gd",
    ]);
    assert!(!ok);
    assert!(err.contains("unknown kind \"mayor\""), "{err}");
    let (ok, out, err) = miit(&[
        "decision",
        "protect",
        "telecom-gd",
        "--kind",
        "critical-information-infrastructure",
        "--system-name",
        "provincial backbone",
        "--informed-offline",
        superior,
        "--informed-offline",
        cac,
        "--json",
    ]);
    assert!(ok, "{err}");
    let marked = &json_lines(&out)[0];
    assert_eq!(
        marked["protection"]["kind"],
        "PROTECTED_SYSTEM_KIND_CRITICAL_INFORMATION_INFRASTRUCTURE"
    );
    assert_eq!(
        marked["protection"]["informed"].as_array().unwrap().len(),
        2
    );

    // The README's example decision file, as it stands there.
    let example = include_str!("../../docs/examples/decision.toml");
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(example.trim_end()),
        "the README shows docs/examples/decision.toml verbatim"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("decision.json");
    std::fs::write(
        &bad,
        format!(r#"{{"threat": "{threat}", "measures": [{{"targets": ["ftp:x"]}}]}}"#),
    )
    .unwrap();
    let (ok, _, err) = miit(&["decision", "issue", "--file", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("measures[0].targets[0]: target \"ftp:x\": unknown kind"),
        "{err}"
    );
    let path = dir.path().join("decision.toml");
    std::fs::write(&path, example.replace("THREAT_ID", &threat)).unwrap();
    let (ok, out, err) = miit(&[
        "decision",
        "issue",
        "--file",
        path.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let lines = json_lines(&out);
    let disposal: Vec<_> = lines[1..]
        .iter()
        .filter(|n| n["kind"] == "NOTICE_KIND_DISPOSAL")
        .collect();
    let mut addressees: Vec<_> = disposal
        .iter()
        .map(|n| n["addressee"].as_str().unwrap())
        .collect();
    addressees.sort();
    assert_eq!(addressees, ["registrar-bj", "telecom-gd"], "{out}");
    let offline = lines[1..]
        .iter()
        .find(|n| n["kind"] == "NOTICE_KIND_INFORMATIONAL" && n["addressee"] == "")
        .unwrap_or_else(|| panic!("an informational notice off the platform: {out}"));
    let offline = offline["notice_id"].as_str().unwrap();

    // Only an informational notice off the platform is notified offline.
    let at = (app.clock.now() - Duration::minutes(1)).to_rfc3339();
    let (ok, _, err) = miit(&[
        "decision",
        "offline-notified",
        disposal[0]["notice_id"].as_str().unwrap(),
        "--channel",
        "phone",
        "--recipient",
        "Ms Li, duty office",
        "--officer",
        "duty-officer",
        "--at",
        &at,
    ]);
    assert!(!ok);
    assert!(err.contains("precondition NOT_OFFLINE"), "{err}");
    let (ok, _, err) = miit(&[
        "decision",
        "offline-notified",
        offline,
        "--channel",
        "pigeon",
        "--recipient",
        "Ms Li, duty office",
    ]);
    assert!(!ok);
    assert!(err.contains("invalid value 'pigeon'"), "{err}");
    let (ok, out, err) = miit(&[
        "decision",
        "offline-notified",
        offline,
        "--channel",
        "phone",
        "--recipient",
        "Ms Li, duty office",
        "--at",
        &at,
        "--note",
        "read the notice out; a copy follows by letter",
        "--json",
    ]);
    assert!(ok, "{err}");
    let record = &json_lines(&out)[0];
    assert_eq!(record["state"], "NOTICE_STATE_NOTIFIED_OFFLINE");
    assert_eq!(
        record["notifying_officer"], "duty-officer",
        "from the token"
    );
    assert_eq!(record["channel"], "OFFLINE_NOTIFICATION_CHANNEL_PHONE");

    let (ok, out, err) = miit(&["decision", "protect", "telecom-gd", "--clear", "--json"]);
    assert!(ok, "{err}");
    assert!(json_lines(&out)[0]["protection"].is_null(), "{out}");
}

on_both_backends!(appeals_whose_answer_is_due_within_n_working_days_are_listed_from_the_cli);

async fn appeals_whose_answer_is_due_within_n_working_days_are_listed_from_the_cli(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.clock.set(shanghai("2026-06-01", 10));
    let (notice, targets) = blocking_notice(&app, "due-within").await;
    report_disposed(&app, &notice, &targets).await;
    let appeal = file(
        &app.client("party-gd").await,
        by_party(&notice, &targets[0]),
    )
    .await
    .unwrap();
    let due = appeal.answer_due_on.expect("2026 is loaded");
    let due = chrono::NaiveDate::from_ymd_opt(due.year, due.month as u32, due.day as u32).unwrap();
    let miit = |args: &[&str]| cli(&app, "miit", None, args);
    let due_within = |n: &str| {
        let (ok, out, err) = miit(&["appeals", "list", "--due-within", n, "--json"]);
        assert!(ok, "{err}");
        json_lines(&out)
    };
    assert!(due_within("5wd").is_empty(), "due in 30 working days");

    let (ok, _, err) = miit(&["appeals", "list", "--due-within", "31wd"]);
    assert!(!ok);
    assert!(err.contains("1 to 30"), "{err}");
    let refused = app
        .client("miit")
        .await
        .appeals()
        .list_appeals(pb::ListAppealsRequest {
            answer_due_within_working_days: 31,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    {
        use tonic_types::StatusExt;
        let bad = refused.get_details_bad_request().expect("BadRequest");
        assert_eq!(
            bad.field_violations[0].field, "answer_due_within_working_days",
            "{refused:?}"
        );
    }

    // Three days before the answer date it is due within five working days, for both sides.
    let before = due - chrono::Days::new(3);
    app.clock.set(shanghai(&before.to_string(), 10));
    let listed = due_within("5wd");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["appeal_id"], appeal.id.as_str());
    assert_eq!(
        listed[0]["answer_due_on"],
        format!("{:04}-{:02}-{:02}", due.year(), due.month(), due.day()).as_str()
    );
    let (ok, out, err) = cli(
        &app,
        "party-gd",
        None,
        &[
            "appeals",
            "list",
            "--due-within",
            "5wd",
            "--state",
            "open",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(json_lines(&out).len(), 1, "{out}");
    let (ok, out, err) = miit(&["appeals", "list", "--state", "answered", "--json"]);
    assert!(ok, "{err}");
    assert!(json_lines(&out).is_empty(), "{out}");

    // Past its answer date it is overdue, and still due within any number of days.
    app.clock
        .set(shanghai(&(due + chrono::Days::new(1)).to_string(), 10));
    assert_eq!(due_within("1wd").len(), 1);

    // The party withdraws it: withdrawn, it is due no more; a second withdrawal is refused.
    let party = |args: &[&str]| cli(&app, "party-gd", None, args);
    let withdraw = || {
        party(&[
            "appeal",
            "withdraw",
            &appeal.id,
            "--reason",
            "settled with the provider",
            "--json",
        ])
    };
    let (ok, out, err) = withdraw();
    assert!(ok, "{err}");
    assert_eq!(json_lines(&out)[0]["state"], "APPEAL_STATE_WITHDRAWN");
    let (ok, _, err) = withdraw();
    assert!(!ok);
    assert!(err.contains("precondition APPEAL_CLOSED"), "{err}");
    assert!(due_within("30wd").is_empty());
    let (ok, out, err) = party(&["appeal", "measures", "ip:58.60.1.0/24", "--all", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(json_lines(&out).len(), 1, "{out}");
}

on_both_backends!(a_unit_s_contacts_change_is_recorded_from_the_cli);

async fn a_unit_s_contacts_change_is_recorded_from_the_cli(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = app.token("miit", "duty-officer");
    let miit = |args: &[&str]| cli(&app, "miit", Some(&token), args);
    let dir = tempfile::tempdir().unwrap();
    let entry = |role: &str| {
        format!(
            r#"{{"role": "{role}", "department": "Network security", "person": "Wang Fang", "phone": "+86 20 1234 5678", "email": "sec@telecom-gd.example"}}"#
        )
    };
    let one = dir.path().join("one.json");
    std::fs::write(&one, format!("[{}]", entry("leader_in_charge"))).unwrap();
    let all = dir.path().join("contacts.json");
    std::fs::write(
        &all,
        format!(
            "[{}, {}, {}, {}]",
            entry("leader_in_charge"),
            entry("responsible_department"),
            entry("responsible_person"),
            entry("day_to_day_contact")
        ),
    )
    .unwrap();
    let today = crate::support::today(&app);
    let today = format!("{:04}-{:02}-{:02}", today.year, today.month, today.day);

    // Art. 5: a unit holds every contact role.
    let (ok, _, err) = miit(&[
        "org",
        "contacts",
        "telecom-gd",
        "--contacts",
        one.to_str().unwrap(),
        "--effective-on",
        &today,
    ]);
    assert!(!ok);
    assert!(
        err.contains("InvalidArgument") && err.contains("field contacts"),
        "{err}"
    );
    let (ok, out, err) = miit(&[
        "org",
        "contacts",
        "telecom-gd",
        "--contacts",
        all.to_str().unwrap(),
        "--effective-on",
        &today,
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(json_lines(&out)[0]["contacts"], 4, "{out}");
}
