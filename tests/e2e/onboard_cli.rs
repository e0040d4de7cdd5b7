//! Onboarding a real organisation from the CLI, the binary run as a process: the regulator
//! registers it with its contacts; the organisation makes its own key and request; the
//! operator signs it with the platform CA and registers it; an officer with the
//! organisation's own token key; disabling, enabling, revoking.

use crate::disposal_cli::{cli, json_lines};
use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};

/// The binary as a process with exactly `args`.
fn run(args: &[&str], token: Option<&str>) -> (bool, String, String) {
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

fn whoami(app: &TestApp, dir: &str, token: Option<&str>) -> (bool, String, String) {
    run(
        &["whoami", "--endpoint", &app.endpoint, "--pki", dir],
        token,
    )
}

on_both_backends!(an_organisation_is_onboarded_with_its_own_key_and_officer_from_the_cli);

async fn an_organisation_is_onboarded_with_its_own_key_and_officer_from_the_cli(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let token = app.token("miit", "duty-officer");
    let miit = |args: &[&str]| cli(&app, "miit", Some(&token), args);

    // The regulator registers it; without its Art. 5 contacts it is refused.
    let (ok, _, err) = miit(&[
        "org",
        "create",
        "acme-gd",
        "--name",
        "Acme Cloud",
        "--role",
        "internet-enterprise",
        "--province",
        "440000",
    ]);
    assert!(!ok);
    assert!(
        err.contains("InvalidArgument") && err.contains("contacts"),
        "{err}"
    );
    let contacts = tmp.path().join("contacts.json");
    let entry = |role: &str| {
        format!(
            r#"{{"role": "{role}", "department": "Security", "person": "Li Lei", "phone": "+86 20 1234 5678", "email": "sec@acme.example"}}"#
        )
    };
    std::fs::write(
        &contacts,
        format!(
            "[{}, {}, {}, {}]",
            entry("leader_in_charge"),
            entry("responsible_department"),
            entry("responsible_person"),
            entry("day_to_day_contact")
        ),
    )
    .unwrap();
    let contacts = contacts.to_str().unwrap();
    let (ok, out, err) = miit(&[
        "org",
        "create",
        "acme-gd",
        "--name",
        "Acme Cloud",
        "--role",
        "internet-enterprise",
        "--province",
        "440000",
        "--contacts",
        contacts,
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(json_lines(&out)[0]["contacts"], 4);

    // Its key is made where it stays; the operator signs the request with the platform CA.
    let own = tmp.path().join("acme");
    let own_dir = own.to_str().unwrap();
    let (ok, _, err) = run(
        &["pki", "request", "--for", "acme-gd", "--out", own_dir],
        None,
    );
    assert!(ok, "{err}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(own.join("client.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the private key is readable by its owner only"
    );
    let csr = own.join("client.csr");
    let ca_dir = app.pki().dir.clone();
    let cert = own.join("client.crt");
    let sign = |org: &str| {
        run(
            &[
                "pki",
                "sign",
                csr.to_str().unwrap(),
                "--for",
                org,
                "--ca-dir",
                ca_dir.to_str().unwrap(),
                "--out",
                cert.to_str().unwrap(),
            ],
            None,
        )
    };
    let (ok, _, err) = sign("telecom-gd");
    assert!(
        !ok,
        "a request naming acme-gd is not signed for another organisation"
    );
    assert!(
        err.contains("names exactly urn:fenghuo:org:telecom-gd"),
        "{err}"
    );
    let (ok, out, err) = sign("acme-gd");
    assert!(ok, "{err}");
    let fingerprint = out.trim().rsplit(' ').next().unwrap().to_owned();
    std::fs::copy(ca_dir.join("ca.crt"), own.join("ca.crt")).unwrap();

    // Unregistered, the certificate opens nothing; registered, it is acme-gd.
    let (ok, _, _) = whoami(&app, own_dir, None);
    assert!(!ok);
    let (ok, _, err) = miit(&[
        "pki",
        "register",
        "acme-gd",
        "--cert",
        cert.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = whoami(&app, own_dir, None);
    assert!(ok, "{err}");
    assert!(out.starts_with("acme-gd "), "{out}");

    // An officer with the organisation's own token key.
    let keys = tmp.path().join("keys");
    let (ok, _, err) = run(
        &["officer", "keygen", "--out", keys.to_str().unwrap()],
        None,
    );
    assert!(ok, "{err}");
    let (ok, _, err) = miit(&[
        "officer",
        "add",
        "acme-gd",
        "--name",
        "chief",
        "--display-name",
        "Chief of security",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = miit(&[
        "officer",
        "register-key",
        "acme-gd",
        "--kid",
        "acme-1",
        "--public-key",
        keys.join("officer-token.key").to_str().unwrap(),
    ]);
    assert!(!ok, "a private key file is never sent");
    assert!(err.contains("private key"), "{err}");
    let (ok, _, err) = miit(&[
        "officer",
        "register-key",
        "acme-gd",
        "--kid",
        "acme-1",
        "--public-key",
        keys.join("officer-token.pub").to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (ok, acme_token, err) = run(
        &[
            "token",
            "issue",
            "--org",
            "acme-gd",
            "--officer",
            "chief",
            "--key",
            keys.join("officer-token.key").to_str().unwrap(),
            "--key-id",
            "acme-1",
            "--cert",
            cert.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{err}");
    let (ok, out, err) = whoami(&app, own_dir, Some(acme_token.trim()));
    assert!(ok, "{err}");
    assert!(out.contains("officer chief"), "{out}");

    // Disabled, it is shut out; enabled, back; its revoked certificate opens nothing.
    let (ok, _, err) = miit(&["org", "disable", "acme-gd", "--reason", "audit pending"]);
    assert!(ok, "{err}");
    assert!(!whoami(&app, own_dir, None).0);
    let (ok, _, err) = miit(&["org", "enable", "acme-gd"]);
    assert!(ok, "{err}");
    assert!(whoami(&app, own_dir, None).0);
    let (ok, _, err) = run(
        &[
            "pki",
            "revoke",
            &fingerprint,
            "--reason",
            "key leaked",
            "--endpoint",
            &app.endpoint,
            "--pki",
            own_dir,
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(!whoami(&app, own_dir, None).0);
}
