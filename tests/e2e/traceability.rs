//! docs/traceability.md cites the tests that prove each obligation, the code that enforces it
//! and the RPCs, commands, routes and timers that reach it; every one must exist.

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

/// One way a user reaches a rule, as the "reached through" column writes it.
#[derive(Debug)]
enum EntryPoint {
    /// `Service.Rpc`, as declared in `proto/`.
    Rpc { service: String, rpc: String },
    /// `fenghuo command subcommand`: the words after `fenghuo`.
    Cli(Vec<String>),
    /// `TAXII METHOD /path/`.
    Taxii { method: String, path: String },
    /// `timer kind`: the kind a timer is scheduled under.
    Timer(String),
    /// `daily Type`: a check the scheduler runs once a day.
    Daily(String),
    /// `config key`: a key of the server configuration or of the deadline policy.
    Config(String),
    /// `start-up`: applied as the server starts.
    StartUp,
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl EntryPoint {
    fn parse(span: &str) -> Option<EntryPoint> {
        let words: Vec<&str> = span.split_whitespace().collect();
        match words.as_slice() {
            ["start-up"] => Some(EntryPoint::StartUp),
            ["fenghuo", rest @ ..] if !rest.is_empty() => Some(EntryPoint::Cli(
                rest.iter().map(|w| (*w).to_owned()).collect(),
            )),
            ["TAXII", method, path] if path.starts_with('/') => Some(EntryPoint::Taxii {
                method: method.to_ascii_lowercase(),
                path: (*path).to_owned(),
            }),
            ["timer", kind] => Some(EntryPoint::Timer((*kind).to_owned())),
            ["daily", check] if is_identifier(check) => {
                Some(EntryPoint::Daily((*check).to_owned()))
            }
            ["config", key] if is_identifier(key) => Some(EntryPoint::Config((*key).to_owned())),
            [rpc] => {
                let (service, rpc) = rpc.split_once('.')?;
                (is_identifier(service) && is_identifier(rpc)).then(|| EntryPoint::Rpc {
                    service: service.to_owned(),
                    rpc: rpc.to_owned(),
                })
            }
            _ => None,
        }
    }
}

/// The rows of every table with their "reached through" spans (the column so headed), and
/// the problems of the tables themselves: one without the column, a row without the cell.
fn reached_through(doc: &str) -> (Vec<(String, Vec<String>)>, Vec<String>) {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut column = None;
    let mut previous_was_table = false;
    for line in doc.lines() {
        let in_table = line.starts_with('|');
        let header = in_table && !previous_was_table;
        previous_was_table = in_table;
        if !in_table || line.starts_with("|-") {
            continue;
        }
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if header {
            column = cells.iter().position(|c| *c == "reached through");
            if column.is_none() {
                problems.push(format!("a table has no \"reached through\" column: {line}"));
            }
            continue;
        }
        let Some(i) = column else { continue };
        let row = cells[..2.min(cells.len())].join(" | ");
        let spans: Vec<String> = cells
            .get(i)
            .map(|cell| {
                cell.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if spans.is_empty() {
            problems.push(format!("{row}: no entry point"));
        }
        rows.push((row, spans));
    }
    (rows, problems)
}

/// Every (service, rpc) declared in the `.proto` files under `dir`.
fn declared_rpcs(dir: &Path) -> std::collections::HashSet<(String, String)> {
    let mut rpcs = std::collections::HashSet::new();
    let mut files = vec![dir.to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "proto") {
            continue;
        }
        let mut service = None;
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let trimmed = line.trim();
            if let Some(name) = trimmed
                .strip_prefix("service ")
                .and_then(|rest| rest.strip_suffix('{'))
            {
                service = Some(name.trim().to_owned());
            } else if line.starts_with('}') {
                service = None;
            } else if let (Some(s), Some(rest)) = (&service, trimmed.strip_prefix("rpc "))
                && let Some((rpc, _)) = rest.split_once('(')
            {
                rpcs.insert((s.clone(), rpc.trim().to_owned()));
            }
        }
    }
    rpcs
}

/// `{id}` and `{object_id}` alike, and a trailing slash always.
fn route_shape(path: &str) -> String {
    let mut shape = String::new();
    let mut in_placeholder = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_placeholder = true;
                shape.push_str("{}");
            }
            '}' => in_placeholder = false,
            _ if !in_placeholder => shape.push(c),
            _ => {}
        }
    }
    if !shape.ends_with('/') {
        shape.push('/');
    }
    shape
}

/// The TAXII routes `src/taxii/routes.rs` declares: each `.route("path", get(..).post(..))`
/// as its shape and the methods registered on it (read up to the call's closing parenthesis).
fn taxii_routes(routes_rs: &str) -> Vec<(String, Vec<&'static str>)> {
    let mut routes = Vec::new();
    for part in routes_rs.split(".route(").skip(1) {
        let Some(path) = part.split('"').nth(1) else {
            continue;
        };
        let mut depth = 1;
        let call = part
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(&part[..i])
            })
            .unwrap_or(part);
        let methods = ["get", "post", "put", "patch", "delete"]
            .into_iter()
            .filter(|m| {
                [' ', '(', '.']
                    .iter()
                    .any(|before| call.contains(&format!("{before}{m}(")))
            })
            .collect();
        routes.push((route_shape(path), methods));
    }
    routes
}

/// The table says how a user reaches each rule: every RPC, command, route, timer, daily check
/// and setting named there must exist, so a renamed RPC or command moves in the table too.
#[test]
fn every_entry_point_this_file_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/traceability.md")).unwrap();
    let (rows, mut wrong) = reached_through(&doc);
    let total: usize = rows.iter().map(|(_, spans)| spans.len()).sum();
    assert!(total >= 40, "only {total} entry points found");

    let rpcs = declared_rpcs(&root.join("proto"));
    assert!(rpcs.len() > 40, "only {} RPCs found in proto/", rpcs.len());
    let routes_rs = std::fs::read_to_string(root.join("src/taxii/routes.rs")).unwrap();
    let routes = taxii_routes(&routes_rs);
    assert!(!routes.is_empty(), "no route found in src/taxii/routes.rs");
    // The timer kinds are spelled in the server crate or in the domain crate.
    let code: Vec<String> = [root.join("src"), root.join("crates")]
        .iter()
        .flat_map(|dir| walk(dir))
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    // The settings: src/config.rs, or every file of src/config/ once it is split.
    let config_rs: String = [root.join("src/config.rs")]
        .into_iter()
        .filter(|f| f.is_file())
        .chain(walk(&root.join("src/config")))
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect::<Vec<_>>()
        .join("\n");
    let policy = std::fs::read_to_string(root.join("data/policy/default.toml")).unwrap();

    let mut commands: Vec<Vec<String>> = Vec::new();
    for (row, spans) in &rows {
        for span in spans {
            let Some(entry) = EntryPoint::parse(span) else {
                wrong.push(format!("{row}: `{span}` is no entry point this file knows"));
                continue;
            };
            let exists = match &entry {
                EntryPoint::Rpc { service, rpc } => rpcs.contains(&(service.clone(), rpc.clone())),
                EntryPoint::Cli(words) => {
                    if !commands.contains(words) {
                        commands.push(words.clone());
                    }
                    true
                }
                EntryPoint::Taxii { method, path } => {
                    let shape = route_shape(path);
                    routes.iter().any(|(route, methods)| {
                        (*route == shape || *route == format!("/api{shape}"))
                            && methods.contains(&method.as_str())
                    })
                }
                EntryPoint::Timer(kind) => {
                    let literal = format!("\"{kind}\"");
                    code.iter().any(|t| t.contains(&literal))
                }
                EntryPoint::Daily(check) => {
                    let implementation = format!("impl DailyCheck for {check} ");
                    code.iter().any(|t| t.contains(&implementation))
                }
                EntryPoint::Config(key) => {
                    config_rs.contains(&format!(" {key}: "))
                        || policy
                            .lines()
                            .any(|l| l.split('=').next().is_some_and(|k| k.trim() == key))
                }
                EntryPoint::StartUp => true,
            };
            if !exists {
                wrong.push(format!("{row}: `{span}` does not exist"));
            }
        }
    }

    // clap prints the help of a real command and exits 0; an unknown one is an error.
    for words in &commands {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
            .args(words)
            .arg("--help")
            .output()
            .unwrap();
        if !out.status.success() {
            wrong.push(format!(
                "`fenghuo {}` is no command: {}",
                words.join(" "),
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .next()
                    .unwrap_or_default()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/traceability.md is out of date:\n{}",
        wrong.join("\n")
    );
}
