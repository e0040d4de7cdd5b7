//! The hash-chained audit log: every change recorded in its transaction,
//! queryable, and `fenghuo audit verify` catches an edited or removed record.

use fenghuo_client::pb;
use tonic::Code;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};

on_both_backends!(
    every_change_appends_a_chained_record_found_by_subject_and_organisation,
    the_audit_cli_passes_a_fresh_chain_and_fails_after_one_row_is_edited,
    the_audit_cli_detects_a_removed_last_record,
);

async fn every_change_appends_a_chained_record_found_by_subject_and_organisation(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let telecom = app.client("telecom-gd").await;
    let contacts = crate::support::full_contacts("telecom-gd");
    telecom
        .registry()
        .update_contacts(pb::UpdateContactsRequest {
            organisation_id: "telecom-gd".into(),
            contacts,
            effective_on: Some(crate::support::today(&app)),
        })
        .await
        .unwrap();
    let miit = app.client("miit").await;
    let all = miit
        .audit()
        .query_audit(pb::QueryAuditRequest::default())
        .await
        .unwrap()
        .into_inner()
        .records;
    // 7 demo organisations seeded + the contacts change.
    assert_eq!(all.len(), 8);
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1);
        if i > 0 {
            assert_eq!(r.prev_hash, all[i - 1].hash);
        }
    }
    let by_subject = miit
        .audit()
        .query_audit(pb::QueryAuditRequest {
            subject: "organisation:telecom-gd".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(
        by_subject
            .iter()
            .map(|r| r.action.as_str())
            .collect::<Vec<_>>(),
        ["registry.seed_demo", "registry.contacts.update"]
    );
    let by_org = miit
        .audit()
        .query_audit(pb::QueryAuditRequest {
            organisation_id: "telecom-gd".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(by_org.len(), 1);
    assert!(by_org[0].details_json.contains("Duty desk of telecom-gd"));

    // Paging returns every record once.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = miit
            .audit()
            .query_audit(pb::QueryAuditRequest {
                page: Some(pb::PageRequest {
                    page_size: 3,
                    page_token: token.clone(),
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.records.iter().map(|r| r.seq));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, (1..=8).collect::<Vec<u64>>());

    // A unit reads only its own organisation's records.
    let err = telecom
        .audit()
        .query_audit(pb::QueryAuditRequest {
            organisation_id: "miit".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let own = telecom
        .audit()
        .query_audit(pb::QueryAuditRequest::default())
        .await
        .unwrap()
        .into_inner()
        .records;
    assert!(own.iter().all(|r| r.organisation_id == "telecom-gd"));

    let verdict = miit
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(verdict.intact);
    assert_eq!(verdict.records_checked, 8);
}

fn audit_verify(app: &TestApp) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(["audit", "verify", "--database-url", &app.database_url])
        .env_remove("FENGHUO_CONFIG")
        .output()
        .expect("runs fenghuo");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn sql(app: &TestApp, statement: &str) {
    let store = fenghuo::store::Store::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
}

async fn the_audit_cli_passes_a_fresh_chain_and_fails_after_one_row_is_edited(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (status, out) = audit_verify(&app);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("intact: 7 records"), "{out}");
    sql(
        &app,
        "UPDATE audit_log SET details_json = '{\"role\":\"national_regulator\"}' WHERE seq = 4",
    )
    .await;
    let (status, out) = audit_verify(&app);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("record 4 was altered"), "{out}");
}

async fn the_audit_cli_detects_a_removed_last_record(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    sql(&app, "DELETE FROM audit_log WHERE seq = 7").await;
    let (status, out) = audit_verify(&app);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("removed"), "{out}");
    // A record removed from the middle breaks the sequence.
    sql(&app, "DELETE FROM audit_log WHERE seq = 3").await;
    let (status, out) = audit_verify(&app);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("record 3 is missing"), "{out}");
}
