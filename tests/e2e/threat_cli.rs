//! A unit's threat files from the CLI (issue #13): `threat submit`, `threat template`,
//! `threat tlp`, the binary run as a process over real mTLS.

use std::path::Path;

use fenghuo::domain::clock::Clock;
use serde_json::Value;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};

/// The binary as a process, as `org` of the dev PKI: (exit code, stdout, stderr).
pub(crate) fn cli(app: &TestApp, org: &str, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(args)
        .args(["--endpoint", &app.endpoint, "--org", org])
        .arg("--data-dir")
        .arg(&app.data_dir)
        .env_remove("FENGHUO_PKI_DIR")
        .env_remove("FENGHUO_TOKEN")
        .output()
        .expect("runs fenghuo");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The binary as a process, for a command that connects to nothing.
fn offline(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(args)
        .output()
        .expect("runs fenghuo");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn submit(app: &TestApp, file: &Path, extra: &[&str]) -> (i32, Vec<Value>, String) {
    let mut args = vec!["threat", "submit", file.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let (code, out, err) = cli(app, "vendor-bj", &args);
    (code, json_lines(&out), err)
}

fn summary(lines: &[Value]) -> &Value {
    lines
        .last()
        .filter(|l| l["summary"] == true)
        .expect("a summary line last")
}

fn at(app: &TestApp) -> String {
    (app.clock.now() - chrono::Duration::minutes(30))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

const HEADER: &str = "category,tlp,discovered_at,grade,affected_unit,occurred_at,brief_course,estimated_harm_and_impact,measures_taken,kind,value,purpose,port,no_known_domains";

/// A control-server report of `ip`, as a CSV row under HEADER.
fn row(at: &str, tlp: &str, ip: &str) -> String {
    format!(
        "malicious-resource,{tlp},{at},major,Example Hosting Ltd,{at},seen by our sensors,about 500 bots,none,ip,{ip},botnet-control-server,8080,true"
    )
}

async fn sightings(app: &TestApp, ip: &str) -> u64 {
    let found = app.client("cncert").await.search(ip).await.unwrap();
    found.iter().map(|t| t.sighting_count).sum()
}

on_both_backends!(
    a_file_s_refused_lines_go_to_its_rejects_file_with_line_field_and_reason_and_a_rerun_stores_nothing_twice
);

async fn a_file_s_refused_lines_go_to_its_rejects_file_with_line_field_and_reason_and_a_rerun_stores_nothing_twice(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let at = at(&app);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("threats.csv");
    let text = [
        HEADER.to_owned(),
        row(&at, "amber", "58.60.9.1"),
        row(&at, "amber", "10.0.0.1"),
        row(&at, "purple", "58.60.9.2"),
        row(&at, "", "58.60.9.3"),
    ]
    .join("\n");
    std::fs::write(&file, text + "\n").unwrap();

    let (code, lines, err) = submit(&app, &file, &["--tlp", "green"]);
    assert_eq!(code, 1, "some lines refused: exit 1; {err}");
    let line = |n: u64| {
        lines
            .iter()
            .find(|l| l["line"] == n)
            .expect("a line per row")
    };
    assert_eq!(line(2)["outcome"], "accepted");
    assert!(
        line(2)["sighting_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(line(3)["outcome"], "refused");
    assert_eq!(line(3)["field"], "report.malicious_resource.value");
    assert_eq!(line(4)["field"], "tlp");
    assert_eq!(
        line(5)["outcome"],
        "accepted",
        "--tlp fills an empty tlp column"
    );
    let s = summary(&lines);
    assert_eq!(
        (
            s["read"].as_u64(),
            s["accepted"].as_u64(),
            s["refused"].as_u64()
        ),
        (Some(4), Some(2), Some(2))
    );

    let rejects_path = dir.path().join("threats.csv.rejects.jsonl");
    let mut rejects = json_lines(&std::fs::read_to_string(&rejects_path).unwrap());
    // Local refusals are written as read, the server's as acknowledged.
    rejects.sort_by_key(|r| r["line"].as_u64());
    assert_eq!(rejects.len(), 2);
    assert_eq!(rejects[0]["line"], 3);
    assert!(
        rejects[0]["reason"]
            .as_str()
            .unwrap()
            .contains("private-use"),
        "{rejects:?}"
    );
    assert_eq!(rejects[0]["code"], 3);
    assert_eq!(rejects[1]["line"], 4);
    assert_eq!(rejects[1]["field"], "tlp");

    // Re-run: every line settled, nothing sent; still exit 1, as the rejects stand.
    let (code, lines, _) = submit(&app, &file, &[]);
    assert_eq!(code, 1);
    let s = summary(&lines);
    assert_eq!(s["already_acknowledged"], 4);
    assert_eq!(s["refused_before"], 2);
    assert_eq!(
        (s["accepted"].as_u64(), s["replayed"].as_u64()),
        (Some(0), Some(0))
    );

    // Without the state file every line goes again: the server replays, stores nothing.
    std::fs::remove_file(dir.path().join("threats.csv.fenghuo-acked")).unwrap();
    let (_, lines, _) = submit(&app, &file, &["--tlp", "green"]);
    let s = summary(&lines);
    assert_eq!(
        (
            s["replayed"].as_u64(),
            s["accepted"].as_u64(),
            s["merged"].as_u64()
        ),
        (Some(2), Some(0), Some(0))
    );
    assert_eq!(sightings(&app, "58.60.9.1").await, 1);
    assert_eq!(sightings(&app, "58.60.9.3").await, 1);
    assert_eq!(
        std::fs::read_to_string(&rejects_path)
            .unwrap()
            .lines()
            .count(),
        2
    );
}

on_both_backends!(
    an_interrupted_submission_resumes_with_the_unacknowledged_lines_and_stores_each_once
);

async fn an_interrupted_submission_resumes_with_the_unacknowledged_lines_and_stores_each_once(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let at = at(&app);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.jsonl");
    let ips: Vec<String> = (1..=6).map(|i| format!("58.60.8.{i}")).collect();
    let text: String = ips
        .iter()
        .map(|ip| {
            serde_json::json!({
                "category": "malicious-resource", "tlp": "amber", "discovered_at": at,
                "grade": "major", "affected_unit": "Example Hosting Ltd", "occurred_at": at,
                "brief_course": "seen", "estimated_harm_and_impact": "small",
                "measures_taken": "none", "kind": "ip", "value": ip,
                "purpose": "botnet-control-server", "port": 8080, "domains": ["cc.evil-example.com"],
            })
            .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(&file, text).unwrap();

    let (code, lines, err) = submit(&app, &file, &["--stop-after", "2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stopped after 2 acknowledgements"), "{err}");
    assert_eq!(lines.len(), 2, "two acks, no summary");

    let (code, lines, err) = submit(&app, &file, &[]);
    assert_eq!(code, 0, "{err}");
    let s = summary(&lines);
    assert_eq!(s["already_acknowledged"], 2);
    // Rows committed after the interruption but not acknowledged come back as replays.
    assert_eq!(
        s["accepted"].as_u64().unwrap() + s["replayed"].as_u64().unwrap(),
        4,
        "{s}"
    );
    for ip in &ips {
        assert_eq!(sightings(&app, ip).await, 1, "{ip} stored once");
    }
}

on_both_backends!(every_category_s_template_is_accepted_in_both_formats);

async fn every_category_s_template_is_accepted_in_both_formats(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for category in [
        "malicious-resource",
        "malicious-program",
        "hazard",
        "incident",
        "other",
    ] {
        for format in ["csv", "jsonl"] {
            let (code, text, err) = offline(&[
                "threat",
                "template",
                "--category",
                category,
                "--format",
                format,
            ]);
            assert_eq!(code, 0, "{err}");
            let file = dir.path().join(format!("{category}.{format}"));
            std::fs::write(&file, text).unwrap();
            let (code, lines, err) = submit(&app, &file, &[]);
            assert_eq!(code, 0, "{category} {format}: {lines:?} {err}");
            let s = summary(&lines);
            assert_eq!(
                s["accepted"].as_u64().unwrap() + s["merged"].as_u64().unwrap(),
                1,
                "{category} {format}: {s}"
            );
        }
    }
    let (code, _, err) = offline(&["threat", "template", "--category", "spam"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("malicious-resource, malicious-program"),
        "{err}"
    );
}

on_both_backends!(a_unit_re_marks_its_sighting_from_the_cli_and_bad_input_names_the_field);

async fn a_unit_re_marks_its_sighting_from_the_cli_and_bad_input_names_the_field(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.csv");
    std::fs::write(
        &file,
        format!("{HEADER}\n{}\n", row(&at(&app), "green", "58.60.7.9")),
    )
    .unwrap();
    let (_, lines, _) = submit(&app, &file, &[]);
    let sighting = lines[0]["sighting_id"].as_str().unwrap().to_owned();

    let vendor = |args: &[&str]| cli(&app, "vendor-bj", args);
    let (code, out, err) = vendor(&[
        "threat",
        "tlp",
        &sighting,
        "--tlp",
        "red",
        "--reason",
        "victim named",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = &json_lines(&out)[0];
    assert_eq!(
        (v["sighting_id"].as_str(), v["tlp"].as_str()),
        (Some(&*sighting), Some("TLP_RED"))
    );

    let (code, _, err) = vendor(&[
        "threat", "tlp", &sighting, "--tlp", "purple", "--reason", "x",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--tlp \"purple\""), "{err}");
    let (code, _, err) = vendor(&[
        "threat", "tlp", &sighting, "--tlp", "amber", "--reason", " ",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("InvalidArgument") && err.contains("field reason"),
        "{err}"
    );
    let (code, _, err) = vendor(&[
        "threat",
        "tlp",
        "not-an-id",
        "--tlp",
        "amber",
        "--reason",
        "x",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("field sighting_id"), "{err}");
}
