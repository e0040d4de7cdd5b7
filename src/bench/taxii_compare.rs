//! `fenghuo bench taxii` beside OASIS medallion and EclecticIQ OpenTAXII (issue #14): each runs
//! as a child Python process (scripts/taxii/compare_server.py, embedded here) on a free loopback
//! port with its own temp data, gets the envelopes fenghuo got over one plain HTTP/1.1
//! connection with basic auth, then is read back in pages of 1,000 following `next`, as fenghuo
//! is. A server that is not installed is skipped with the reason.

use std::collections::HashSet;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};

use super::percentile;
use crate::taxii::http::TAXII_MEDIA_TYPE;
use crate::taxii::objects::MAX_LIMIT;

/// Written to the temp dir and run with the chosen Python, so any working directory will do.
const SERVER_SCRIPT: &str = include_str!("../../scripts/taxii/compare_server.py");
/// The script's exit status for "this server's package is not installed".
const NOT_INSTALLED: i32 = 3;
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

/// The child server, killed when the run ends however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What compare_server.py prints once it listens.
#[derive(serde::Deserialize)]
struct Ready {
    version: String,
    port: u16,
    objects_path: String,
    user: String,
    password: String,
    backend: String,
}

/// A running Python server; killed, and its temp dir removed, when dropped.
struct Started {
    _child: Child,
    ready: Ready,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Started {
    /// `Err` with the reason when the server's package is not installed.
    async fn new(server: Server, python: &Path) -> anyhow::Result<Result<Self, String>> {
        let dir = tempfile::tempdir()?;
        let script = dir.path().join("compare_server.py");
        std::fs::write(&script, SERVER_SCRIPT)?;
        let log = dir.path().join("server.log");
        let mut child = Child(
            std::process::Command::new(python)
                .arg(&script)
                .arg(server.name())
                .arg(dir.path().join("data"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(&log)?)
                .spawn()
                .with_context(|| format!("starting {}", python.display()))?,
        );
        let stdout = child.0.stdout.take().context("the server's stdout")?;
        // The script prints its line once it listens, or exits: either ends this read.
        let reading = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line)
        });
        // A server that neither listens nor exits is given up on (dropping it kills it,
        // which ends the read).
        let first = match tokio::time::timeout(std::time::Duration::from_secs(120), reading).await {
            Ok(read) => read??,
            Err(_) => anyhow::bail!(
                "{} neither listened nor exited within 2 minutes: see {}",
                server.name(),
                log.display()
            ),
        };
        if first.trim().is_empty() {
            let status = child.0.wait()?;
            let reason = log_tail(&log, 1);
            if status.code() == Some(NOT_INSTALLED) {
                return Ok(Err(reason));
            }
            anyhow::bail!("{} exited with {status}: {reason}", server.name());
        }
        let ready: Ready = serde_json::from_str(&first).context("the server's ready line")?;
        Ok(Ok(Started {
            _child: child,
            ready,
            log,
            _dir: dir,
        }))
    }

    async fn connect(&self) -> anyhow::Result<Connection> {
        Connection::open(self.ready.port, &self.ready.user, &self.ready.password).await
    }

    /// The server's last words, for an error: its temp dir goes with it.
    fn context(&self) -> String {
        format!("its log: {}", log_tail(&self.log, 1))
    }
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

/// POSTs every envelope, each answered with a complete status; returns the time taken.
async fn post(
    conn: &mut Connection,
    path: &str,
    envelopes: &[Vec<Value>],
) -> anyhow::Result<Duration> {
    let bodies: Vec<Vec<u8>> = envelopes
        .iter()
        .map(|objects| json!({ "objects": objects }).to_string().into_bytes())
        .collect();
    let start = Instant::now();
    for body in bodies {
        let (status, answer) = conn.call("POST", path, body).await?;
        anyhow::ensure!(status == 202, "POST answered {status}: {answer}");
        // medallion answers an object it already holds (a repeated marking or identity) as a
        // failure: its rule, not an error of the run.
        anyhow::ensure!(answer["status"] == "complete", "POST status {answer}");
    }
    Ok(start.elapsed())
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

/// Reads a compared server's whole collection.
async fn read_back(conn: &mut Connection, path: &str) -> anyhow::Result<ReadBack> {
    read_pages(
        path,
        async |p: &str| conn.call("GET", p, Vec::new()).await,
        |_| {},
    )
    .await
}

/// The server's first exception (or line naming an error), if any, and its last `n` lines, joined with " | ".
fn log_tail(log: &Path, n: usize) -> String {
    let mut text = String::new();
    let _ = std::fs::File::open(log).and_then(|mut f| f.read_to_string(&mut text));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "no output".into();
    }
    // A Python exception's own line ("ValueError: …") says more than the traceback's first.
    let exception = |l: &&str| {
        l.split_once(": ")
            .is_some_and(|(k, _)| k.ends_with("Error") && !k.contains(' '))
    };
    let first_error = lines
        .iter()
        .position(exception)
        .or_else(|| lines.iter().position(|l| l.contains("rror")));
    let tail = lines.len().saturating_sub(n);
    first_error
        .filter(|&i| i < tail)
        .map(|i| lines[i])
        .into_iter()
        .chain(lines[tail..].iter().copied())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// One plain HTTP/1.1 connection with basic auth, opened again when the server closes it
/// (werkzeug does after a response without a length).
struct Connection {
    port: u16,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authority: String,
    authorization: String,
}

impl Connection {
    async fn open(port: u16, user: &str, password: &str) -> anyhow::Result<Self> {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Ok(Connection {
            port,
            sender: Self::handshake(port).await?,
            authority: format!("127.0.0.1:{port}"),
            authorization: format!("Basic {credentials}"),
        })
    }

    async fn handshake(
        port: u16,
    ) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        tcp.set_nodelay(true)?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
        tokio::spawn(conn);
        Ok(sender)
    }

    async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority)
            .header("authorization", &self.authorization)
            .header("accept", TAXII_MEDIA_TYPE);
        if method == "POST" {
            request = request
                .header("content-type", TAXII_MEDIA_TYPE)
                .header("content-length", body.len());
        }
        if self.sender.ready().await.is_err() {
            self.sender = Self::handshake(self.port).await?;
        }
        let response = self
            .sender
            .send_request(request.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            Value::String(String::from_utf8_lossy(&bytes).chars().take(300).collect())
        });
        Ok((status, value))
    }
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
mod tests {
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
}
