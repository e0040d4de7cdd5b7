//! The `fenghuo calendar` commands, run as a binary: the answer alone on stdout, or a non-zero
//! exit with the reason on stderr and nothing on stdout.

use std::process::{Command, Output};

fn fenghuo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(args)
        .env_remove("FENGHUO_DATABASE_URL")
        .env_remove("FENGHUO_CONFIG")
        .env("FENGHUO_LOG", "error")
        .output()
        .expect("the fenghuo binary runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn refused(out: &Output) -> String {
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn calendar_deadline_prints_the_date_alone_across_spring_festival_and_labour_day() {
    let out = fenghuo(&[
        "calendar",
        "deadline",
        "--from",
        "2024-02-06",
        "--working-days",
        "10",
    ]);
    assert_eq!(stdout(&out), "2024-02-26\n");
    // Labour Day 2025: May 1–5 off, Sunday April 27 worked.
    let out = fenghuo(&[
        "calendar",
        "deadline",
        "--from",
        "2025-04-25",
        "--working-days",
        "2",
    ]);
    assert_eq!(stdout(&out), "2025-04-28\n");
    let out = fenghuo(&[
        "calendar",
        "deadline",
        "--from",
        "2025-04-29",
        "--working-days",
        "2",
    ]);
    assert_eq!(stdout(&out), "2025-05-06\n");
}

#[test]
fn calendar_is_working_day_prints_true_or_false() {
    assert_eq!(
        stdout(&fenghuo(&["calendar", "is-working-day", "2024-02-18"])),
        "true\n"
    );
    assert_eq!(
        stdout(&fenghuo(&["calendar", "is-working-day", "2024-02-12"])),
        "false\n"
    );
}

#[test]
fn calendar_dump_prints_one_line_per_day() {
    let out = fenghuo(&[
        "calendar",
        "dump",
        "--from",
        "2023-09-28",
        "--to",
        "2023-10-08",
    ]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 11);
    assert_eq!(lines[0], "2023-09-28 true");
    assert_eq!(lines[1], "2023-09-29 false");
    assert_eq!(lines[10], "2023-10-08 true");
}

#[test]
fn outside_the_data_the_calendar_cli_exits_non_zero_with_the_reason_on_stderr_only() {
    let err = refused(&fenghuo(&["calendar", "is-working-day", "2027-01-04"]));
    assert!(
        err.contains("2027-01-04") && err.contains("2018–2026"),
        "{err}"
    );
    let err = refused(&fenghuo(&[
        "calendar",
        "deadline",
        "--from",
        "2026-12-20",
        "--working-days",
        "30",
    ]));
    assert!(err.contains("calendar of 2027"), "{err}");
    let err = refused(&fenghuo(&[
        "calendar",
        "deadline",
        "--from",
        "2024-03-04",
        "--working-days",
        "0",
    ]));
    assert!(err.contains("0 working days"), "{err}");
    let err = refused(&fenghuo(&[
        "calendar",
        "dump",
        "--from",
        "2026-12-30",
        "--to",
        "2027-01-02",
    ]));
    assert!(err.contains("2027-01-01"), "{err}");
    refused(&fenghuo(&["calendar", "is-working-day", "2024-02-30"]));
}

#[test]
fn calendar_load_stores_an_audited_year_that_database_url_queries_then_see() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("f.db").display());
    let file = dir.path().join("2027.json");
    std::fs::write(
        &file,
        r#"{"year": 2027, "holidays": ["2027-01-01", "2027-01-04", "2027-05-01", "2027-10-01"], "makeup_workdays": ["2027-01-09"]}"#,
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let out = fenghuo(&["calendar", "load", file, "--database-url", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = |day: &str| {
        stdout(&fenghuo(&[
            "calendar",
            "is-working-day",
            day,
            "--database-url",
            &url,
        ]))
    };
    assert_eq!(answer("2027-01-04"), "false\n");
    assert_eq!(answer("2027-01-09"), "true\n");
    assert_eq!(answer("2027-01-05"), "true\n");
    let out = fenghuo(&[
        "calendar",
        "deadline",
        "--from",
        "2026-12-31",
        "--working-days",
        "1",
        "--database-url",
        &url,
    ]);
    assert_eq!(stdout(&out), "2027-01-05\n");
    // Without the database, only the shipped years.
    refused(&fenghuo(&["calendar", "is-working-day", "2027-01-05"]));
    // Audited as the system actor, and the chain verifies.
    let out = fenghuo(&["audit", "verify", "--database-url", &url]);
    assert_eq!(stdout(&out), "audit chain intact: 1 records\n");
    // A bad file changes nothing.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"year": 2028, "holidays": ["2028-01-01"], "makeup_workdays": []}"#,
    )
    .unwrap();
    let err = refused(&fenghuo(&[
        "calendar",
        "load",
        bad.to_str().unwrap(),
        "--database-url",
        &url,
    ]));
    assert!(err.contains("2028-05-01"), "{err}");
    refused(&fenghuo(&[
        "calendar",
        "is-working-day",
        "2028-01-05",
        "--database-url",
        &url,
    ]));
}

#[test]
fn bench_timers_fires_exactly_the_due_ones_and_reports_the_time() {
    let out = fenghuo(&[
        "bench",
        "timers",
        "--count",
        "2000",
        "--due-fraction",
        "0.1",
    ]);
    let text = stdout(&out);
    assert!(
        text.starts_with("timers (SQLite): 2000 open, 200 due: found and fired all due in "),
        "{text}"
    );
}
