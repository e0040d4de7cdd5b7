//! The operator CLI over the Rust client against a real server.

use fenghuo::domain::clock::Clock;
use fenghuo_client::pb;

use crate::support::{Backend, spawn_app};
use crate::threats::{ip, report};

fn fenghuo(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(args)
        .env_remove("FENGHUO_TOKEN")
        .env_remove("FENGHUO_PKI_DIR")
        .output()
        .expect("runs fenghuo");
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

fn fenghuo_with_token(token: &str, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(args)
        .env("FENGHUO_TOKEN", token)
        .env_remove("FENGHUO_PKI_DIR")
        .output()
        .expect("runs fenghuo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
    let (ok, out, err) = fenghuo_with_token(
        &miit_token,
        &[&["whoami"][..], &connect("telecom-gd")].concat(),
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("telecom-gd "), "{out}");
    assert!(err.contains("is for miit; not sent as telecom-gd"), "{err}");
    let (ok, out, err) = fenghuo_with_token(
        &miit_token,
        &[
            &["threat", "search", "45.33.32.156"][..],
            &connect("registrar-bj"),
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("ip:45.33.32.156"), "{out}");

    // Its own organisation's token names the officer on WhoAmI ...
    let (ok, out, err) =
        fenghuo_with_token(&miit_token, &[&["whoami"][..], &connect("miit")].concat());
    assert!(ok, "{err}");
    assert!(out.contains("officer duty-officer"), "{out}");

    // ... and once expired it no longer breaks a call that needs no officer.
    let expired = app.token_with(
        "miit",
        "duty-officer",
        app.clock.now() - chrono::Duration::minutes(20),
        900,
    );
    let (ok, out, err) = fenghuo_with_token(
        &expired,
        &[&["threat", "search", "45.33.32.156"][..], &connect("miit")].concat(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("ip:45.33.32.156"), "{out}");
    assert!(
        err.contains("not sent to ThreatService.SearchThreats"),
        "{err}"
    );
}
