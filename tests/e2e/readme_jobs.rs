//! The README's "Jobs from the command line": every command it shows is run by a test. A
//! command is matched to an invocation in `tests/e2e/` (an array whose string literals start
//! with the same subcommand words, at most two) that holds every flag the command shows outside
//! brackets; each optional flag (`[--json]`) must appear in a test file that invokes the same
//! subcommand (tests add such flags through helpers). `--org`, which the tests' `cli` helper
//! adds, is left out. Placeholders such as NOTICE_ID stand for the ids the server makes, which
//! the tests read from earlier output.

use std::collections::BTreeSet;

/// One command of the README: its subcommand words and its flags.
#[derive(Debug)]
struct Job {
    line: String,
    words: Vec<String>,
    required: BTreeSet<String>,
    optional: BTreeSet<String>,
}

/// Splits a shell line into words (double and single quotes kept together), up to a comment,
/// a redirection or a pipe.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, '#' | '>' | '|') if !started => break,
            (None, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(word);
    }
    out
}

/// The commands of the section, continuation lines joined.
fn jobs(readme: &str) -> Vec<Job> {
    let start = readme
        .find("\n## Jobs from the command line")
        .expect("the README's Jobs section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut jobs = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in section.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        // `export FENGHUO_TOKEN=$(cargo run -q -- token issue …)`: the command inside.
        let command = full
            .split_once("cargo run -q -- ")
            .map(|(_, rest)| rest.trim_end().trim_end_matches(')'))
            .unwrap_or("");
        let mut optional = BTreeSet::new();
        let mut required = BTreeSet::new();
        let mut depth = 0;
        let mut ws = Vec::new();
        for w in words(command) {
            depth += w.chars().take_while(|c| *c == '[').count();
            let bare = w.trim_matches(|c| c == '[' || c == ']').to_owned();
            if bare.starts_with("--") && bare != "--org" {
                let flag = bare.split('=').next().unwrap().to_owned();
                if depth > 0 {
                    optional.insert(flag);
                } else {
                    required.insert(flag);
                }
            }
            depth -= w.chars().rev().take_while(|c| *c == ']').count().min(depth);
            ws.push(bare);
        }
        if ws.is_empty() {
            continue;
        }
        let subcommand = ws
            .iter()
            .take_while(|w| {
                !w.is_empty()
                    && !w.starts_with('-')
                    && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            })
            .take(2)
            .cloned()
            .collect();
        jobs.push(Job {
            line: full.split_whitespace().collect::<Vec<_>>().join(" "),
            words: subcommand,
            required,
            optional,
        });
    }
    jobs
}

/// The string literals of every bracketed list in a Rust source, at that list's own depth.
fn invocations(source: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = source.chars().collect();
    let mut lists = Vec::new();
    for (open, _) in chars.iter().enumerate().filter(|(_, c)| **c == '[') {
        let mut depth = 0;
        let mut literals = Vec::new();
        let mut i = open;
        while i < chars.len() {
            match chars[i] {
                '[' | '(' | '{' => depth += 1,
                ']' | ')' | '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                '"' => {
                    let mut literal = String::new();
                    i += 1;
                    while i < chars.len() && chars[i] != '"' {
                        if chars[i] == '\\' {
                            i += 1;
                        }
                        literal.push(chars[i]);
                        i += 1;
                    }
                    if depth == 1 {
                        literals.push(literal);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        if !literals.is_empty() {
            lists.push(literals);
        }
    }
    lists
}

#[test]
fn every_command_of_the_readme_jobs_section_is_run_by_a_test() {
    let readme = include_str!("../../README.md");
    let jobs = jobs(readme);
    assert!(jobs.len() >= 30, "the section's commands: {jobs:#?}");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("readme_jobs.rs") {
            files.push(invocations(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    let invokes = |l: &Vec<String>, job: &Job| {
        l.len() >= job.words.len() && l[..job.words.len()] == job.words[..]
    };
    let mut missing = Vec::new();
    for job in &jobs {
        let run = files
            .iter()
            .flatten()
            .any(|l| invokes(l, job) && job.required.iter().all(|f| l.contains(f)));
        if !run {
            missing.push(format!(
                "  {}\n    no invocation of `{}` with all of {:?}",
                job.line,
                job.words.join(" "),
                job.required
            ));
        }
        let near: Vec<&Vec<String>> = files
            .iter()
            .filter(|f| f.iter().any(|l| invokes(l, job)))
            .flatten()
            .collect();
        for flag in &job.optional {
            if !near.iter().any(|l| l.contains(flag)) {
                missing.push(format!(
                    "  {}\n    no test file invoking `{}` uses {flag}",
                    job.line,
                    job.words.join(" ")
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README job commands no test runs:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_readme_command_parser_reads_words_flags_and_continuations() {
    let readme = "x\n## Jobs from the command line\n\n```sh\nexport FENGHUO_TOKEN=$(cargo run -q -- token issue --org miit --officer duty-officer)\ncargo run -q -- decision issue --threat THREAT_ID \\\n    --target ip:1.2.3.4 --instructions \"a # b\" [--time-limit 4h] --org miit   # note\ncargo run -q -- threat template --category hazard > t.csv\n```\n\n## Next\n```sh\ncargo run -q -- not counted\n```\n";
    let jobs = jobs(readme);
    assert_eq!(jobs.len(), 3, "{jobs:#?}");
    assert_eq!(jobs[0].words, ["token", "issue"]);
    assert_eq!(jobs[0].required.iter().collect::<Vec<_>>(), ["--officer"]);
    assert_eq!(jobs[1].words, ["decision", "issue"]);
    assert_eq!(
        jobs[1].required.iter().collect::<Vec<_>>(),
        ["--instructions", "--target", "--threat"]
    );
    assert_eq!(
        jobs[1].optional.iter().collect::<Vec<_>>(),
        ["--time-limit"]
    );
    assert_eq!(jobs[2].words, ["threat", "template"]);
    assert_eq!(
        invocations(r#"f(&["notices", "lifted", &t[0], "--at", &x(1)]); let v = vec!["a"];"#),
        [vec!["notices", "lifted", "--at"], vec!["a"]]
    );
}
