//! `fenghuo bench taxii` beside OASIS medallion and EclecticIQ OpenTAXII (issue #14): each runs
//! as a child Python process (scripts/taxii/compare_server.py, embedded here) on a free loopback
//! port with its own temp data, gets the envelopes fenghuo got over one plain HTTP/1.1
//! connection with basic auth, then is read back in pages of 1,000 following `next`, as fenghuo
//! is. A server that is not installed is skipped with the reason.
//!
//! This module holds the comparison and fenghuo's shared paged read; `server.rs` runs the
//! Python server, `client.rs` is the HTTP/1.1 connection that posts to it and reads it back.

mod client;
mod server;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use super::percentile;
use crate::taxii::objects::MAX_LIMIT;
use client::{post, read_back};
use server::Started;

/// What a run without `--python` tries, from the repository root.
const DEFAULT_PYTHON: &str = ".venv/bin/python";

/// Which Python servers to run beside fenghuo, and how far to read them back.
#[derive(Debug, Clone, Default)]
pub struct CompareWith {
    /// A Python with medallion and/or OpenTAXII installed [default: `.venv/bin/python` if present].
    pub python: Option<PathBuf>,
    /// Measure a Python server's paged reads on a second instance holding only the first
    /// envelopes up to this many objects (both read back superlinearly in the collection: a
    /// 1,000-object page took medallion 17 s on 2,000 objects, OpenTAXII 5 s on 2,556); `None`
    /// reads the whole collection back.
    pub read_max: Option<usize>,
    /// Run fenghuo alone.
    pub skip: bool,
}

/// One server's figures, as the bench line prints them.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub post_per_s: f64,
    pub get_per_s: f64,
    pub page_p50_ms: f64,
    pub page_p99_ms: f64,
}

impl Figures {
    /// `full_pages` in µs, sorted.
    pub fn new(
        posted: usize,
        ingest: Duration,
        read: usize,
        reading: Duration,
        full_pages: &[u64],
    ) -> Self {
        Figures {
            post_per_s: posted as f64 / ingest.as_secs_f64(),
            get_per_s: read as f64 / reading.as_secs_f64(),
            page_p50_ms: percentile(full_pages, 0.50),
            page_p99_ms: percentile(full_pages, 0.99),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Medallion,
    OpenTaxii,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Medallion => "medallion",
            Server::OpenTaxii => "opentaxii",
        }
    }

    /// Whether this server can hold the object. OpenTAXII 0.9.3 keys every object by its
    /// `modified` (`obj["modified"]`: a KeyError, HTTP 500, for the whole envelope otherwise),
    /// so no SCOs and no marking definitions. medallion 3.0.0 takes a top-level `version` for
    /// the TAXII version (`common.find_att`, meant for manifests): one extension definition
    /// (`"version": "1.1.0"`) in a collection makes every GET of it a 500.
    fn holds(self, object: &Value) -> bool {
        match self {
            Server::Medallion => object.get("version").is_none(),
            Server::OpenTaxii => object.get("modified").is_some(),
        }
    }

    fn left_out(self) -> &'static str {
        match self {
            Server::Medallion => "no extension definition",
            Server::OpenTaxii => "only objects with `modified`",
        }
    }

    /// The envelopes as this server can take them.
    fn envelopes(self, envelopes: &[Vec<Value>]) -> Vec<Vec<Value>> {
        envelopes
            .iter()
            .map(|e| e.iter().filter(|o| self.holds(o)).cloned().collect())
            .collect()
    }
}

/// The lines to print after fenghuo's: each Python server's figures and fenghuo's ratio to them,
/// or why it was skipped.
pub async fn compare(with: &CompareWith, envelopes: &[Vec<Value>], fenghuo: &Figures) -> String {
    if with.skip {
        return String::new();
    }
    let python = match &with.python {
        Some(p) => p.clone(),
        None if Path::new(DEFAULT_PYTHON).exists() => PathBuf::from(DEFAULT_PYTHON),
        None => {
            return format!(
                "\nmedallion, opentaxii: skipped (no --python and no {DEFAULT_PYTHON}; \
                 pip install -r scripts/taxii/compare-requirements.txt)"
            );
        }
    };
    let mut out = String::new();
    for server in [Server::Medallion, Server::OpenTaxii] {
        let line = match run(server, &python, with.read_max, envelopes).await {
            Ok(Outcome::Measured(line, theirs)) => format!(
                "{line}; fenghuo/{name}: POST {:.1}×, paged GET {:.1}×, page p99 {:.2}×",
                fenghuo.post_per_s / theirs.post_per_s,
                fenghuo.get_per_s / theirs.get_per_s,
                theirs.page_p99_ms / fenghuo.page_p99_ms,
                name = server.name(),
            ),
            Ok(Outcome::Skipped(reason)) => format!("{}: skipped ({reason})", server.name()),
            Err(e) => format!("{}: failed ({e:#})", server.name()),
        };
        out.push('\n');
        out.push_str(&line);
    }
    out
}

enum Outcome {
    Measured(String, Figures),
    Skipped(String),
}

async fn run(
    server: Server,
    python: &Path,
    read_max: Option<usize>,
    all: &[Vec<Value>],
) -> anyhow::Result<Outcome> {
    let envelopes = server.envelopes(all);
    let posted: usize = envelopes.iter().map(Vec::len).sum();
    let held = distinct_versions(&envelopes);
    let first = match Started::new(server, python).await? {
        Ok(s) => s,
        Err(reason) => return Ok(Outcome::Skipped(reason)),
    };
    let (version, backend) = (first.ready.version.clone(), first.ready.backend.clone());
    let mut conn = first.connect().await?;
    let ingest = post(&mut conn, &first.ready.objects_path, &envelopes)
        .await
        .with_context(|| first.context())?;
    // medallion's first page filters and sorts the whole collection against its manifest, and
    // OpenTAXII's pages slow down with the collection: past read_max, reads are measured on a
    // second server holding only the first envelopes up to read_max objects.
    let (read, second_held) = match read_max {
        Some(max) if held > max => {
            drop(conn);
            drop(first);
            let mut prefix = Vec::new();
            for e in &envelopes {
                if distinct_versions(&prefix) >= max {
                    break;
                }
                prefix.push(e.clone());
            }
            let second = match Started::new(server, python).await? {
                Ok(s) => s,
                Err(reason) => return Ok(Outcome::Skipped(reason)),
            };
            let mut conn = second.connect().await?;
            let path = second.ready.objects_path.clone();
            let read = async {
                post(&mut conn, &path, &prefix).await?;
                read_back(&mut conn, &path).await
            }
            .await
            .with_context(|| second.context())?;
            (read, Some(distinct_versions(&prefix)))
        }
        _ => (
            read_back(&mut conn, &first.ready.objects_path)
                .await
                .with_context(|| first.context())?,
            None,
        ),
    };
    let ReadBack {
        objects,
        pages,
        elapsed,
        mut full_pages,
    } = read;
    full_pages.sort_unstable();
    let figures = Figures::new(posted, ingest, objects, elapsed, &full_pages);
    let all: usize = all.iter().map(Vec::len).sum();
    let left_out = if posted < all {
        format!(" of fenghuo's {all}: {}", server.left_out())
    } else {
        String::new()
    };
    let second = second_held
        .map(|n| {
            format!(
                " from a second {} holding the first {n} (--compare-read-max)",
                server.name()
            )
        })
        .unwrap_or_default();
    let line = format!(
        "{name} {version}: POST {:.0} objects/s ({posted} objects{left_out}, {held} distinct versions, {} envelopes; \
         one HTTP/1.1 connection, basic auth, no TLS); paged GET {:.0} objects/s ({objects} objects{second}, \
         {pages} pages of {MAX_LIMIT}); a {MAX_LIMIT}-object page p50 {:.1} ms, p99 {:.1} ms; {backend}, werkzeug threaded",
        figures.post_per_s,
        envelopes.len(),
        figures.get_per_s,
        figures.page_p50_ms,
        figures.page_p99_ms,
        name = server.name(),
    );
    Ok(Outcome::Measured(line, figures))
}

pub(super) struct ReadBack {
    pub(super) objects: usize,
    pub(super) pages: usize,
    pub(super) elapsed: Duration,
    /// Each full page's time in µs.
    pub(super) full_pages: Vec<u64>,
}

/// Reads a whole collection at `objects_path` in pages of `MAX_LIMIT`, following `next`:
/// `get` answers one GET of a path, `each` sees every object read. fenghuo's bench and the
/// servers it is compared with are read by this one loop.
pub(super) async fn read_pages(
    objects_path: &str,
    mut get: impl AsyncFnMut(&str) -> anyhow::Result<(u16, Value)>,
    mut each: impl FnMut(&Value),
) -> anyhow::Result<ReadBack> {
    let first = format!("{objects_path}?limit={MAX_LIMIT}");
    let mut next: Option<String> = None;
    let (mut objects, mut pages, mut full_pages) = (0usize, 0usize, Vec::new());
    let start = Instant::now();
    loop {
        let path = match &next {
            Some(n) => format!("{first}&next={n}"),
            None => first.clone(),
        };
        let asked = Instant::now();
        let (status, page) = get(&path).await?;
        anyhow::ensure!(status == 200, "GET answered {status}: {page}");
        let listed = page["objects"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if listed.len() == MAX_LIMIT {
            full_pages.push(asked.elapsed().as_micros() as u64);
        }
        listed.iter().for_each(&mut each);
        objects += listed.len();
        pages += 1;
        next = page["next"].as_str().map(str::to_owned);
        if next.is_none() || page["more"] == false {
            break;
        }
    }
    Ok(ReadBack {
        objects,
        pages,
        elapsed: start.elapsed(),
        full_pages,
    })
}

/// Distinct (id, version) pairs: what a TAXII collection holds after these envelopes.
fn distinct_versions(envelopes: &[Vec<Value>]) -> usize {
    envelopes
        .iter()
        .flatten()
        .map(|o| (o["id"].as_str(), o["modified"].as_str()))
        .collect::<HashSet<_>>()
        .len()
}

#[cfg(test)]
mod tests;
