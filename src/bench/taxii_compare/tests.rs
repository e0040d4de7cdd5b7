//! The comparison's unit tests: what each server is given, the distinct versions, and the
//! skipped servers.

use serde_json::json;

use super::*;

fn envelope() -> Vec<Vec<Value>> {
    vec![vec![
        json!({"id": "indicator--1", "modified": "2026-12-01T00:00:00.000Z"}),
        json!({"id": "marking-definition--1"}),
        json!({"id": "ipv4-addr--1"}),
        json!({"id": "extension-definition--1", "modified": "2026-12-01T00:00:00.000Z", "version": "1.1.0"}),
    ]]
}

#[test]
fn opentaxii_gets_only_the_objects_that_carry_modified() {
    let all = envelope();
    let kept = Server::OpenTaxii.envelopes(&all);
    assert_eq!(kept, vec![vec![all[0][0].clone(), all[0][3].clone()]]);
}

#[test]
fn medallion_gets_every_object_but_those_with_a_top_level_version() {
    let all = envelope();
    let kept = Server::Medallion.envelopes(&all);
    assert_eq!(kept, vec![all[0][..3].to_vec()]);
}

#[test]
fn a_collection_holds_each_id_and_version_once() {
    let marking = json!({"id": "marking-definition--1"});
    let v1 = json!({"id": "indicator--1", "modified": "2026-12-01T00:00:00.000Z"});
    let v2 = json!({"id": "indicator--1", "modified": "2026-12-02T00:00:00.000Z"});
    let envelopes = vec![vec![marking.clone(), v1.clone()], vec![marking, v1, v2]];
    assert_eq!(distinct_versions(&envelopes), 3);
}

/// A Python without either package (a bare venv): both are skipped, each with the
/// script's reason, and the bench still answers.
#[tokio::test]
async fn servers_that_are_not_installed_are_skipped_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let made = std::process::Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .expect("python3 (README: Before you start)");
    assert!(made.success());
    let with = CompareWith {
        python: Some(venv.join("bin/python")),
        ..CompareWith::default()
    };
    let fenghuo = Figures::new(1, Duration::from_secs(1), 1, Duration::from_secs(1), &[1]);
    let lines = compare(&with, &envelope(), &fenghuo).await;
    for name in ["medallion", "opentaxii"] {
        let expected = format!("\n{name}: skipped ({name} is not installed for ");
        assert!(lines.contains(&expected), "{lines}");
    }
}

#[tokio::test]
async fn no_compare_prints_nothing_more() {
    let with = CompareWith {
        skip: true,
        ..CompareWith::default()
    };
    let fenghuo = Figures::new(1, Duration::from_secs(1), 1, Duration::from_secs(1), &[1]);
    assert_eq!(compare(&with, &envelope(), &fenghuo).await, "");
}
