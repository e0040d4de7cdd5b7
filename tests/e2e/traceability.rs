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

/// Whether `name` is defined (an item, a field or, outside Rust, any mention) in `path`, a
/// file or every `.rs` file under a directory.
fn defines_item(path: &Path, name: &str) -> bool {
    if path.is_file() && path.extension().is_none_or(|e| e != "rs") {
        return std::fs::read_to_string(path).is_ok_and(|t| t.contains(name));
    }
    let texts: Vec<String> = if path.is_dir() {
        walk(path)
            .into_iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .collect()
    } else {
        std::fs::read_to_string(path).into_iter().collect()
    };
    let kinds = [
        "fn", "const", "static", "struct", "enum", "trait", "type", "mod", "pub",
    ];
    texts.iter().any(|t| {
        kinds.iter().any(|k| {
            ['(', ':', ' ', '<', ';']
                .iter()
                .any(|after| t.contains(&format!("{k} {name}{after}")))
        })
    })
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            files.push(p);
        }
    }
    files
}

/// The "enforced in" cells (the column so headed in each table): (path, the items named
/// after it).
fn homes(doc: &str) -> Vec<(String, Vec<String>)> {
    let mut homes: Vec<(String, Vec<String>)> = Vec::new();
    let mut column = None;
    for line in doc.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let Some(i) = cells.iter().position(|c| *c == "enforced in") {
            column = Some(i);
            continue;
        }
        let Some(cell) = column.and_then(|i| cells.get(i)) else {
            continue;
        };
        for span in cell.split('`').skip(1).step_by(2) {
            if span.contains('/') {
                homes.push((span.to_owned(), Vec::new()));
            } else if let Some(last) = homes.last_mut()
                && span.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                last.1.push(span.to_owned());
            }
        }
    }
    homes
}

/// The table says where each rule lives: the file must exist and the items it names there
/// must be defined in it, so a rule that moves (issue #12) moves in the table too.
#[test]
fn every_home_this_file_names_exists_and_defines_what_it_cites() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/traceability.md")).unwrap();
    let homes = homes(&doc);
    assert!(homes.len() > 40, "only {} homes found", homes.len());
    let mut wrong = Vec::new();
    for (path, items) in &homes {
        let p = root.join(path.trim_end_matches('/'));
        if !p.exists() {
            wrong.push(format!("{path}: no such file"));
            continue;
        }
        for item in items {
            if !defines_item(&p, item) {
                wrong.push(format!("{path}: defines no {item}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/traceability.md is out of date:\n{}",
        wrong.join("\n")
    );
}
