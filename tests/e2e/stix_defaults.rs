//! STIX import defaults stored per organisation (issue #14): TAXII POSTs of objects without
//! the fenghuo extension use them, as ImportStixBundle calls without `defaults` do.

use fenghuo_client::pb;
use reqwest::StatusCode;
use serde_json::Value;
use tonic::Code;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};
use crate::taxii::{client, spawn};
use crate::threat_cli::{cli, json_lines};

const MISP_INDICATOR: &str = "indicator--4bb235a7-7d25-4aef-802f-2c6b45c5eceb";

on_both_backends!(
    a_misp_bundle_posted_over_taxii_is_refused_before_and_stored_after_its_organisation_sets_defaults,
);

fn misp_objects() -> Vec<Value> {
    let fixture: Value = serde_json::from_slice(include_bytes!(
        "../fixtures/stix/misp/test_event1_stix21.json"
    ))
    .unwrap();
    fixture["objects"].as_array().unwrap().clone()
}

/// The status message of the MISP indicator in a POST's answer, and whether it succeeded.
fn indicator_status(status: &Value) -> (bool, String) {
    for (list, ok) in [("successes", true), ("failures", false)] {
        for e in status[list].as_array().into_iter().flatten() {
            if e["id"] == MISP_INDICATOR {
                return (ok, e["message"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    panic!("no answer for the indicator: {status}");
}

fn warning_file(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("warning.json");
    std::fs::write(
        &file,
        serde_json::json!({"warning": {
            "colour": "WARNING_COLOUR_BLUE",
            "description": "Imported from a MISP event",
            "possible_harm_and_degree": "unknown",
            "affected_users_and_scope": "unknown",
            "already_known_to": "the MISP community",
            "recommended_countermeasures": "review",
        }})
        .to_string(),
    )
    .unwrap();
    file
}

async fn a_misp_bundle_posted_over_taxii_is_refused_before_and_stored_after_its_organisation_sets_defaults(
    backend: Backend,
) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let vendor = client(&app, "vendor-bj");
    let a = vendor.add(&misp_objects()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let (ok, message) = indicator_status(&a.body);
    assert!(
        !ok && message.starts_with("defaults.information:"),
        "{message}"
    );
    let grpc = app.client("vendor-bj").await;
    let none = grpc
        .threats()
        .get_stix_import_defaults(pb::GetStixImportDefaultsRequest {})
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::NotFound, "{none}");

    // vendor-bj stores its defaults with the CLI.
    let dir = tempfile::tempdir().unwrap();
    let file = warning_file(dir.path());
    let (code, out, err) = cli(
        &app,
        "vendor-bj",
        &[
            "threat",
            "stix-defaults",
            "set",
            file.to_str().unwrap(),
            "--tlp",
            "green",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let set = json_lines(&out);
    assert_eq!(set[0]["organisation_id"], "vendor-bj");
    assert_eq!(
        set[0]["defaults"]["warning"]["colour"],
        "WARNING_COLOUR_BLUE"
    );
    assert_eq!(set[0]["defaults"]["tlp"], "TLP_GREEN");
    let (code, out, err) = cli(
        &app,
        "vendor-bj",
        &["threat", "stix-defaults", "get", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_lines(&out)[0]["defaults"], set[0]["defaults"]);
    let (code, out, _) = cli(&app, "vendor-bj", &["threat", "stix-defaults", "get"]);
    assert_eq!(code, 0);
    assert!(out.contains("warning (WARNING_COLOUR_BLUE)"), "{out}");
    assert_eq!(audited(&app, "stix.import_defaults.set").await, 1);

    // The same POST is now stored, marked as the defaults say.
    let a = vendor.add(&misp_objects()).await;
    let (ok, message) = indicator_status(&a.body);
    assert!(ok && message.starts_with("stored as threat"), "{message}");
    let found = grpc.search("circl.lu").await.unwrap();
    assert_eq!(found.len(), 1);
    let threat = grpc.threat(&found[0].id).await.unwrap();
    assert_eq!(
        threat.sightings[0].report.as_ref().unwrap().tlp,
        pb::Tlp::Green as i32
    );
    // ImportStixBundle without defaults uses them too: the same objects are a replay.
    let fixture = include_bytes!("../fixtures/stix/misp/test_event1_stix21.json");
    let acks = grpc.import_stix(fixture, None).await.unwrap();
    let ack = acks.iter().find(|r| r.object_id == MISP_INDICATOR).unwrap();
    assert_eq!(
        ack.outcome,
        pb::StixObjectOutcome::Replayed as i32,
        "{ack:?}"
    );

    // Defaults are the organisation's own: telecom-gd, which stored none, is still refused.
    let a = client(&app, "telecom-gd").add(&misp_objects()).await;
    let (ok, message) = indicator_status(&a.body);
    assert!(
        !ok && message.starts_with("defaults.information:"),
        "{message}"
    );

    // Clearing takes `defaults` unset, removes them (audited), and GetStixImportDefaults is
    // NOT_FOUND again.
    let both = grpc
        .threats()
        .set_stix_import_defaults(pb::SetStixImportDefaultsRequest {
            defaults: Some(pb::StixImportDefaults::default()),
            clear: true,
        })
        .await
        .unwrap_err();
    assert_eq!(both.code(), Code::InvalidArgument, "{both}");
    assert!(both.message().starts_with("defaults:"), "{both}");
    let (code, out, err) = cli(
        &app,
        "vendor-bj",
        &["threat", "stix-defaults", "clear", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_lines(&out)[0]["organisation_id"], "vendor-bj");
    let none = grpc
        .threats()
        .get_stix_import_defaults(pb::GetStixImportDefaultsRequest {})
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::NotFound, "{none}");
    assert_eq!(audited(&app, "stix.import_defaults.clear").await, 1);
    app.stop().await;
}

/// Audit records of `action` on vendor-bj.
async fn audited(app: &TestApp, action: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND subject = 'organisation:vendor-bj'",
    )
    .bind(action)
    .fetch_one(app.application().store().pool())
    .await
    .unwrap();
    n
}

async fn set(app: &TestApp, org: &str, defaults: Option<pb::StixImportDefaults>) -> tonic::Status {
    app.client(org)
        .await
        .threats()
        .set_stix_import_defaults(pb::SetStixImportDefaultsRequest {
            defaults,
            clear: false,
        })
        .await
        .unwrap_err()
}

// The CLI runs as a blocking child process: the server needs threads of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_stix_import_defaults_are_refused_naming_the_field_the_rule_and_the_article() {
    use tonic_types::StatusExt;
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let violation = |s: &tonic::Status| {
        assert_eq!(s.code(), Code::InvalidArgument, "{s}");
        let v = &s.get_details_bad_request().unwrap().field_violations[0];
        (v.field.clone(), v.description.clone())
    };
    let (field, _) = violation(&set(&app, "vendor-bj", None).await);
    assert_eq!(field, "defaults");
    let (field, why) = violation(&set(&app, "vendor-bj", Some(Default::default())).await);
    assert_eq!(field, "defaults.information");
    assert!(why.contains("Art. 10-11"), "{why}");
    let event = pb::StixImportDefaults {
        information: Some(pb::stix_import_defaults::Information::Event(
            pb::EventInformation {
                grade: pb::EventGrade::General as i32,
                ..Default::default()
            },
        )),
        ..Default::default()
    };
    let (field, why) = violation(&set(&app, "vendor-bj", Some(event)).await);
    assert_eq!(field, "defaults.event.affected_unit");
    assert!(why.contains("Art. 14"), "{why}");
    // Roles that may not submit threats may not store defaults either.
    let s = set(&app, "party-gd", None).await;
    assert_eq!(s.code(), Code::PermissionDenied, "{s}");
    // The CLI prints the field and the rule, and exits 2; nothing was stored.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("colour-only.json");
    std::fs::write(&file, r#"{"warning": {"colour": "WARNING_COLOUR_RED"}}"#).unwrap();
    let (code, _, err) = cli(
        &app,
        "vendor-bj",
        &["threat", "stix-defaults", "set", file.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("defaults.warning.description"), "{err}");
    assert!(err.contains("Art. 15"), "{err}");
    let (code, _, err) = cli(&app, "vendor-bj", &["threat", "stix-defaults", "get"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("NotFound") || err.contains("NOT_FOUND"),
        "{err}"
    );
    app.stop().await;
}
