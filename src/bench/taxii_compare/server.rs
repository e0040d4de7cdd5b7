//! The compared Python server as a child process: the embedded script started in a temp dir,
//! its ready line, its log, and killed when dropped.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context;

use super::Server;
use super::client::Connection;

/// Written to the temp dir and run with the chosen Python, so any working directory will do.
const SERVER_SCRIPT: &str = include_str!("../../../scripts/taxii/compare_server.py");
/// The script's exit status for "this server's package is not installed".
const NOT_INSTALLED: i32 = 3;
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
pub(super) struct Ready {
    pub(super) version: String,
    port: u16,
    pub(super) objects_path: String,
    user: String,
    password: String,
    pub(super) backend: String,
}

/// A running Python server; killed, and its temp dir removed, when dropped.
pub(super) struct Started {
    _child: Child,
    pub(super) ready: Ready,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Started {
    /// `Err` with the reason when the server's package is not installed.
    pub(super) async fn new(server: Server, python: &Path) -> anyhow::Result<Result<Self, String>> {
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

    pub(super) async fn connect(&self) -> anyhow::Result<Connection> {
        Connection::open(self.ready.port, &self.ready.user, &self.ready.password).await
    }

    /// The server's last words, for an error: its temp dir goes with it.
    pub(super) fn context(&self) -> String {
        format!("its log: {}", log_tail(&self.log, 1))
    }
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
