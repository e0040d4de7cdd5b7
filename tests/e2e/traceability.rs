//! docs/traceability.md cites the tests that prove each obligation; every one must exist.

use std::path::Path;

/// Every `module::function` or `src/…rs::function` cited in the file's tables.
fn cited_tests(doc: &str) -> Vec<String> {
    doc.lines()
        .filter(|l| l.starts_with('|'))
        .filter_map(|l| l.trim_end_matches('|').rsplit('|').next())
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
        .filter(|c| c.contains("::"))
        .collect()
}

fn defines(file: &Path, function: &str) -> bool {
    std::fs::read_to_string(file).is_ok_and(|text| text.contains(&format!("fn {function}(")))
}

#[test]
fn every_test_this_file_cites_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/traceability.md")).unwrap();
    let cited = cited_tests(&doc);
    assert!(cited.len() > 40, "only {} citations found", cited.len());
    let missing: Vec<&String> = cited
        .iter()
        .filter(|c| {
            let (place, function) = c.rsplit_once("::").unwrap();
            let file = if place.ends_with(".rs") {
                root.join(place)
            } else {
                root.join("tests/e2e").join(format!("{place}.rs"))
            };
            !defines(&file, function)
        })
        .collect();
    assert!(missing.is_empty(), "cited but not defined: {missing:?}");
}
