//! The operator CLI over the Rust client against a real server.

use fenghuo::domain::clock::Clock;
use fenghuo_client::pb;

use crate::support::{Backend, spawn_app};
use crate::threats::{ip, report};

fn fenghuo(args: &[&str]) -> (bool, String, String) {
    run_cli(None, args)
}

/// The binary as a process; `token` is exported as FENGHUO_TOKEN, as the README does.
fn run_cli(token: Option<&str>, args: &[&str]) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"));
    command.args(args).env_remove("FENGHUO_PKI_DIR");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_shows_identity_threats_and_the_feed() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let vendor = app.client("vendor-bj").await;
    let ack = vendor
        .unit()
        .submit("cli-1", report(&app, pb::Tlp::Green, ip("45.33.32.156")))
        .await
        .unwrap();
    let pki = app.pki().client_dir("telecom-gd");
    let pki = pki.to_str().unwrap();
    let endpoint = app.endpoint.as_str();

    let (ok, out, err) = fenghuo(&["whoami", "--endpoint", endpoint, "--pki", pki]);
    assert!(ok, "{err}");
    assert!(out.starts_with("telecom-gd "), "{out}");
    assert!(out.contains("ROLE_BASIC_TELECOM"), "{out}");

    let (ok, out, err) = fenghuo(&[
        "threat",
        "search",
        "45.33.32.156",
        "--endpoint",
        endpoint,
        "--pki",
        pki,
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&ack.threat_id) && out.contains("ip:45.33.32.156"),
        "{out}"
    );

    let (ok, out, err) = fenghuo(&["feed", "--limit", "1", "--endpoint", endpoint, "--pki", pki]);
    assert!(ok, "{err}");
    assert!(out.contains("new_threat 45.33.32.156"), "{out}");

    let (ok, _, err) = fenghuo(&[
        "threat",
        "get",
        "not-a-threat",
        "--endpoint",
        endpoint,
        "--pki",
        pki,
    ]);
    assert!(!ok);
    assert!(err.contains("threat_id"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_officer_token_goes_only_to_its_own_organisation_and_to_decisions() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    app.client("vendor-bj")
        .await
        .unit()
        .submit(
            "cli-token-1",
            report(&app, pb::Tlp::Green, ip("45.33.32.156")),
        )
        .await
        .unwrap();
    let data_dir = app.data_dir.to_str().unwrap();
    let endpoint = app.endpoint.as_str();
    let connect =
        |org: &'static str| ["--endpoint", endpoint, "--data-dir", data_dir, "--org", org];
    let miit_token = app.token("miit", "duty-officer");

    // Another organisation's token is not sent at all, and the CLI says so.
    let (ok, out, err) = run_cli(
        Some(&miit_token),
        &[&["whoami"][..], &connect("telecom-gd")].concat(),
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("telecom-gd "), "{out}");
    assert!(err.contains("is for miit; not sent as telecom-gd"), "{err}");
    let (ok, out, err) = run_cli(
        Some(&miit_token),
        &[
            &["threat", "search", "45.33.32.156"][..],
            &connect("registrar-bj"),
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("ip:45.33.32.156"), "{out}");

    // Its own organisation's token names the officer on WhoAmI ...
    let (ok, out, err) = run_cli(
        Some(&miit_token),
        &[&["whoami"][..], &connect("miit")].concat(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("officer duty-officer"), "{out}");

    // ... and once expired it no longer breaks a call that needs no officer.
    let expired = app.token_with(
        "miit",
        "duty-officer",
        app.clock.now() - chrono::Duration::minutes(20),
        900,
    );
    let (ok, out, err) = run_cli(
        Some(&expired),
        &[&["threat", "search", "45.33.32.156"][..], &connect("miit")].concat(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("ip:45.33.32.156"), "{out}");
    assert!(
        err.contains("not sent to ThreatService.SearchThreats"),
        "{err}"
    );
}

/// `fenghuo serve` as a process with its log going to a file, as an operator runs it.
struct ServedProcess {
    child: std::process::Child,
    log: std::path::PathBuf,
    endpoint: String,
    data_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl ServedProcess {
    // The child is waited for by Drop once it is moved into the struct.
    #[allow(clippy::zombie_processes)]
    fn start() -> ServedProcess {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let log = dir.path().join("serve.log");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .env_remove("FENGHUO_LOG")
            .env_remove("FENGHUO_CONFIG")
            .env_remove("FENGHUO_DATABASE_URL")
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        // Start-up only (PKI, migrations): the wait ends as soon as the line is written.
        for _ in 0..600 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(rest) = text.split("fenghuo listening on ").nth(1) {
                let addr = rest.split_whitespace().next().unwrap().to_owned();
                return ServedProcess {
                    child,
                    log,
                    endpoint: format!("https://{addr}"),
                    data_dir,
                    _dir: dir,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "the server did not start: {}",
            std::fs::read_to_string(&log).unwrap()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for ServedProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_log_file_gets_plain_text_with_one_line_per_state_change_and_empty_answers_are_said() {
    let server = ServedProcess::start();
    let log = server.log();
    assert!(!log.contains('\u{1b}'), "ANSI escapes in a log file: {log}");
    assert!(
        log.contains("state change") && log.contains("registry.seed_demo"),
        "{log}"
    );
    let data_dir = server.data_dir.to_str().unwrap();
    let connect = |org: &'static str| {
        [
            "--endpoint",
            server.endpoint.as_str(),
            "--data-dir",
            data_dir,
            "--org",
            org,
        ]
    };
    let (ok, out, err) = fenghuo(
        &[
            &["threat", "search", "45.33.32.156"][..],
            &connect("telecom-gd"),
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("no threats match 45.33.32.156"), "{err}");

    // A feed with nothing in it yet says that it is following.
    let mut feed = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .arg("feed")
        .args(connect("registrar-bj"))
        .env_remove("FENGHUO_TOKEN")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(feed.stderr.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let _ = feed.kill();
    let _ = feed.wait();
    assert!(
        first.contains("following the feed from the oldest retained event"),
        "{first}"
    );
}
