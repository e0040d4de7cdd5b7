//! `fenghuo bulletin` end to end, as the README shows it: the institution builds a month
//! on the server's database, a unit lists and fetches it over mTLS with its own certificate
//! (StatisticsService), and verifies what it wrote offline; one altered byte fails.

use std::path::Path;

use crate::bootstrap::fenghuo;
use crate::bulletin::fonts;
use crate::disposal_cli::{cli, json_lines};
use crate::on_both_backends;
use crate::support::{Backend, spawn_app};

on_both_backends!(a_unit_fetches_a_built_bulletin_with_the_cli_and_verifies_it_offline);

fn verify(dir: &Path, ca: &Path) -> (bool, String, String) {
    fenghuo(&[
        "bulletin",
        "verify",
        dir.to_str().unwrap(),
        "--ca",
        ca.to_str().unwrap(),
    ])
}

/// The README's commands: the institution builds the month on the server's database, a unit
/// fetches it over mTLS with its own certificate, and verifies what it wrote offline.
async fn a_unit_fetches_a_built_bulletin_with_the_cli_and_verifies_it_offline(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    if fonts().is_none() {
        return;
    }
    let data_dir = app.data_dir.to_str().unwrap().to_owned();
    let (ok, out, err) = fenghuo(&[
        "bulletin",
        "build",
        "2026-11",
        "--data-dir",
        &data_dir,
        "--database-url",
        &app.database_url,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("published 2026-11 zh-CN"), "{out}");

    let (ok, out, err) = cli(&app, "telecom-gd", None, &["bulletin", "list", "--json"]);
    assert!(ok, "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        (
            &lines[0]["month"],
            &lines[0]["language"],
            &lines[0]["publisher"]
        ),
        (
            &serde_json::json!("2026-11"),
            &serde_json::json!("zh-CN"),
            &serde_json::json!("cncert")
        )
    );
    let (ok, out, err) = cli(
        &app,
        "telecom-gd",
        None,
        &["bulletin", "list", "--year", "2025"],
    );
    assert!(ok && out.is_empty(), "{out} {err}");
    assert!(err.contains("no bulletins published"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("bulletin-2026-11");
    let (ok, out, err) = cli(
        &app,
        "telecom-gd",
        None,
        &[
            "bulletin",
            "get",
            "2026-11",
            "--lang",
            "zh-CN",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("published by cncert"), "{out}");
    for name in [
        "bulletin.html",
        "bulletin.pdf",
        "manifest.json",
        "signature.bin",
        "chain.der",
        "figures.json",
    ] {
        assert!(out_dir.join(name).exists(), "{name}");
    }
    let ca = app.data_dir.join("pki").join("ca.crt");
    let (ok, out, err) = verify(&out_dir, &ca);
    assert!(ok, "{err}");
    assert!(
        out.contains("valid: the bulletin of 2026-11 (zh-CN) published by cncert"),
        "{out}"
    );

    // One altered byte of the PDF: verify fails and says which document.
    let pdf = out_dir.join("bulletin.pdf");
    let mut bytes = std::fs::read(&pdf).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&pdf, bytes).unwrap();
    let (ok, _, err) = verify(&out_dir, &ca);
    assert!(!ok);
    assert!(
        err.contains("the PDF does not match the signed manifest"),
        "{err}"
    );

    // Refusals reach the person as the server words them.
    for (month, says) in [
        ("2026-09", "NotFound: no bulletin of 2026-09 in zh-CN"),
        ("2026-13", "field month"),
    ] {
        let out = out_dir.to_str().unwrap();
        let (ok, _, err) = cli(
            &app,
            "telecom-gd",
            None,
            &["bulletin", "get", month, "--out", out],
        );
        assert!(!ok);
        assert!(err.contains(says), "{err}");
    }
    app.stop().await;
}
