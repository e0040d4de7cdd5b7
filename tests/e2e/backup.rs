//! `fenghuo backup` under load and `fenghuo restore`: everything acknowledged before the
//! backup began is back after the restore, the audit chain verifies, and what came after the
//! backup is gone (the restore really replaced the database).

use std::sync::{Arc, Mutex};

use fenghuo_client::pb;
use tokio_stream::StreamExt;

use crate::support::{Backend, TestApp, spawn_app};
use crate::threats::{ip, report};

/// Runs the binary; (exited 0, stdout, stderr). A failure must exit 2, as the README says.
fn fenghuo(app_dirs: (&std::path::Path, &str), args: &[&str]) -> (bool, String, String) {
    let (data_dir, database_url) = app_dirs;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(args)
        .args([
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--database-url",
            database_url,
        ])
        .env_remove("FENGHUO_CONFIG")
        .env_remove("FENGHUO_DATABASE_URL")
        .env_remove("FENGHUO_DATA_DIR")
        .output()
        .expect("runs fenghuo");
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "exit {:?}",
        out.status
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn requests(app: &TestApp, prefix: &str, n: usize, octet: u8) -> Vec<pb::SubmitThreatRequest> {
    (0..n)
        .map(|i| pb::SubmitThreatRequest {
            submission_id: format!("{prefix}-{i}"),
            report: Some(report(
                app,
                pb::Tlp::Green,
                ip(&format!("45.{octet}.{}.{}", i / 250, i % 250)),
            )),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_acknowledged_report_and_a_verifying_chain() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let dirs = (app.data_dir.clone(), app.database_url.clone());
    let backup_file = app.data_dir.parent().unwrap().join("fenghuo-backup.db");
    let backup_arg = backup_file.to_str().unwrap().to_owned();

    // Load: 4,000 reports on one stream, acknowledgements recorded as they arrive.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let (count_tx, mut count_rx) = tokio::sync::watch::channel(0usize);
    let mut acks = app
        .client("vendor-bj")
        .await
        .unit()
        .submit_stream(tokio_stream::iter(requests(&app, "load", 4000, 72)))
        .await
        .unwrap();
    let load = {
        let acked = acked.clone();
        tokio::spawn(async move {
            while let Some(ack) = acks.next().await {
                let ack = ack.unwrap();
                let mut list = acked.lock().unwrap();
                list.push(ack.threat_id);
                count_tx.send_replace(list.len());
            }
        })
    };
    count_rx.wait_for(|n| *n >= 300).await.unwrap();
    let before: Vec<String> = acked.lock().unwrap().clone();

    let (ok, out, err) = tokio::task::spawn_blocking({
        let dir = dirs.0.clone();
        let url = dirs.1.clone();
        let arg = backup_arg.clone();
        move || fenghuo((&dir, &url), &["backup", "--to", &arg])
    })
    .await
    .unwrap();
    assert!(ok, "{out}{err}");
    assert!(out.contains("audit chain intact"), "{out}");
    load.await.unwrap();
    assert_eq!(acked.lock().unwrap().len(), 4000);

    // Acknowledged after the backup finished: must not survive the restore.
    let after = app
        .client("vendor-bj")
        .await
        .unit()
        .submit(
            "after-backup",
            report(&app, pb::Tlp::Green, ip("45.73.0.1")),
        )
        .await
        .unwrap()
        .threat_id;

    // Never over an existing file; never under a running server.
    let (ok, _, err) = fenghuo((&dirs.0, &dirs.1), &["backup", "--to", &backup_arg]);
    assert!(
        !ok && err.contains("exists: a backup never overwrites a file"),
        "{err}"
    );
    let (ok, _, err) = fenghuo((&dirs.0, &dirs.1), &["restore", "--from", &backup_arg]);
    assert!(
        !ok && err.contains("another fenghuo server is using"),
        "{err}"
    );

    let stopped = app.stopped().await;
    let (ok, out, err) = fenghuo((&dirs.0, &dirs.1), &["restore", "--from", &backup_arg]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("audit chain intact"), "{out}");
    let kept = std::fs::read_dir(&dirs.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("fenghuo.db.replaced-")
        });
    assert!(
        kept,
        "the replaced database is kept beside the restored one"
    );

    let app = stopped.restart().await;
    let vendor = app.client("vendor-bj").await;
    for id in &before {
        vendor
            .threat(id)
            .await
            .unwrap_or_else(|e| panic!("{id} was acknowledged before the backup: {e}"));
    }
    let gone = vendor.threat(&after).await.unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound, "{gone}");
    let (ok, out, err) = fenghuo((&dirs.0, &dirs.1), &["audit", "verify"]);
    assert!(ok && out.contains("audit chain intact"), "{out}{err}");
}

#[tokio::test]
async fn a_bad_backup_changes_nothing_and_postgres_is_pointed_at_its_own_tools() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = format!("sqlite://{}?mode=rwc", data.join("fenghuo.db").display());
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let (ok, _, err) = fenghuo(
        (&data, &url),
        &["restore", "--from", junk.to_str().unwrap()],
    );
    assert!(!ok);
    assert!(
        err.contains("is not a usable backup; the database was not changed"),
        "{err}"
    );
    assert!(!data.join("fenghuo.db").exists());
    let (ok, _, err) = fenghuo(
        (&data, "postgres://postgres@127.0.0.1:5432/none"),
        &["restore", "--from", junk.to_str().unwrap()],
    );
    assert!(!ok && err.contains("pg_dump"), "{err}");
}
