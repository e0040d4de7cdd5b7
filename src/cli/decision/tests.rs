//! The decision file's unit tests: every measure with its fields, and errors that name them.

use std::path::PathBuf;

use fenghuo_client::pb;

use super::issue::read_decision_file;

fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn a_toml_decision_file_gives_every_measure_with_its_fields() {
    let (_d, path) = write(
        "d.toml",
        "threat = \"t1\"\nrequest_id = \"r1\"\n[[measures]]\ntargets = [\"ip:58.60.1.1\"]\ntime_limit = \"4h\"\n[[measures]]\nmeasure = \"rectify\"\naddressee = \"telecom-gd\"\ntargets = [\"url:http://x.example/\"]\n",
    );
    let r = read_decision_file(&path).unwrap();
    assert_eq!((r.threat_id.as_str(), r.request_id.as_str()), ("t1", "r1"));
    assert_eq!(r.measures.len(), 2);
    assert_eq!(
        r.measures[0].measure_type,
        pb::MeasureType::StopServiceOrBlock as i32
    );
    assert!(r.measures[0].time_limit.is_some());
    assert_eq!(r.measures[1].measure_type, pb::MeasureType::Rectify as i32);
    assert_eq!(r.measures[1].addressee_organisation_id, "telecom-gd");
}

#[test]
fn a_decision_file_error_names_the_measure_and_field() {
    let (_d, path) = write(
        "d.json",
        r#"{"threat": "t1", "measures": [{"targets": ["ip:1.2.3.4"]}, {"targets": ["ftp:x"]}]}"#,
    );
    let e = format!("{:#}", read_decision_file(&path).unwrap_err());
    assert!(e.contains("measures[1].targets[0]"), "{e}");
    let (_d, path) = write("d.toml", "threat = \"t1\"\nmeasure = \"block\"\n");
    let e = format!("{:#}", read_decision_file(&path).unwrap_err());
    assert!(e.contains("unknown field `measure`"), "{e}");
    let (_d, path) = write("d.yaml", "");
    assert!(read_decision_file(&path).is_err());
}
