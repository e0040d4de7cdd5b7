//! The `fenghuo calendar` commands, run as a binary: the answer alone on stdout, or a non-zero
//! exit with the reason on stderr and nothing on stdout.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary in an empty directory (so `./fenghuo-data` is absent) with no settings.
fn fenghuo(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    fenghuo_in(dir.path(), &[], args)
}

/// Runs the binary in `cwd` with only the `FENGHUO_…` variables given.
fn fenghuo_in(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(args)
        .current_dir(cwd)
        .env_remove("FENGHUO_DATABASE_URL")
        .env_remove("FENGHUO_CONFIG")
        .env_remove("FENGHUO_DATA_DIR")
        .env("FENGHUO_LOG", "error")
        .envs(env.iter().copied())
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

/// A 2027 typed the weekdays-only way: Saturday May 1 left out, Monday May 3 off.
const WEEKDAYS_2027: &str = r#"{"year": 2027, "holidays": ["2027-01-01", "2027-01-04", "2027-05-03", "2027-10-01"], "makeup_workdays": []}"#;

#[test]
fn calendar_queries_read_the_database_the_server_is_configured_with_after_calendar_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2027.json");
    std::fs::write(&file, WEEKDAYS_2027).unwrap();
    let file = file.to_str().unwrap();
    let deadline = [
        "calendar",
        "deadline",
        "--from",
        "2026-12-20",
        "--working-days",
        "30",
    ];
    // Dec 21–25, 28–31 are nine; Jan 1 and 4 off; the 30th is Feb 2.
    let expected = "2027-02-02\n";

    // The default data directory, ./fenghuo-data, as `serve` run here would use.
    let cwd = dir.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    stdout(&fenghuo_in(&cwd, &[], &["calendar", "load", file]));
    assert_eq!(stdout(&fenghuo_in(&cwd, &[], &deadline)), expected);
    let shipped = [&deadline[..], &["--shipped"]].concat();
    let err = refused(&fenghuo_in(&cwd, &[], &shipped));
    assert!(err.contains("runs past 2026"), "{err}");

    // FENGHUO_DATA_DIR, as the server's environment names it.
    let data = dir.path().join("data");
    let data_env = [("FENGHUO_DATA_DIR", data.to_str().unwrap())];
    let elsewhere = tempfile::tempdir().unwrap();
    stdout(&fenghuo_in(
        elsewhere.path(),
        &data_env,
        &["calendar", "load", file],
    ));
    assert_eq!(
        stdout(&fenghuo_in(elsewhere.path(), &data_env, &deadline)),
        expected
    );
    assert_eq!(
        stdout(&fenghuo_in(
            elsewhere.path(),
            &data_env,
            &["calendar", "is-working-day", "2027-05-03"]
        )),
        "false\n"
    );

    // The server's TOML file naming its database (FENGHUO_CONFIG or --config).
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("conf.db").display());
    let config = dir.path().join("fenghuo.toml");
    std::fs::write(&config, format!("database_url = {url:?}\n")).unwrap();
    let config = config.to_str().unwrap();
    stdout(&fenghuo(&["calendar", "load", file, "--config", config]));
    assert_eq!(
        stdout(&fenghuo_in(
            elsewhere.path(),
            &[("FENGHUO_CONFIG", config)],
            &deadline
        )),
        expected
    );
    // FENGHUO_DATABASE_URL wins over the file, as for `serve`.
    let empty = format!("sqlite://{}?mode=rwc", dir.path().join("none.db").display());
    let err = refused(&fenghuo_in(
        elsewhere.path(),
        &[("FENGHUO_CONFIG", config), ("FENGHUO_DATABASE_URL", &empty)],
        &deadline,
    ));
    assert!(err.contains("runs past 2026"), "{err}");
    assert!(
        !dir.path().join("none.db").exists(),
        "a query creates no database"
    );
}

#[test]
fn calendar_status_warns_from_sixty_days_before_the_last_loaded_day() {
    let status = |cwd: &Path, today: &str| {
        stdout(&fenghuo_in(
            cwd,
            &[],
            &["calendar", "status", "--today", today],
        ))
    };
    let dir = tempfile::tempdir().unwrap();
    let early = status(dir.path(), "2026-10-31");
    assert_eq!(
        early,
        "loaded years: 2018–2026\nloaded by an administrator: none\n\
         last day covered: 2026-12-31\ndays left: 61 (as of 2026-10-31)\n"
    );
    let late = status(dir.path(), "2026-12-02");
    assert!(
        late.contains("days left: 29 (as of 2026-12-02)\n"),
        "{late}"
    );
    let warning = late.lines().last().unwrap();
    assert!(
        warning.starts_with("warning: the working-day calendar ends on 2026-12-31")
            && warning.contains("load the calendar of 2027"),
        "{late}"
    );
    assert!(status(dir.path(), "2026-11-01").contains("warning: "));

    let file = dir.path().join("2027.json");
    std::fs::write(&file, WEEKDAYS_2027).unwrap();
    stdout(&fenghuo_in(
        dir.path(),
        &[],
        &["calendar", "load", file.to_str().unwrap()],
    ));
    let loaded = status(dir.path(), "2026-12-02");
    assert_eq!(
        loaded,
        "loaded years: 2018–2027\nloaded by an administrator: 2027\n\
         last day covered: 2027-12-31\ndays left: 394 (as of 2026-12-02)\n"
    );
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
