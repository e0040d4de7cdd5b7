//! What a run of `fenghuo threat submit` records of a file: the counts, each settled line in
//! `FILE.fenghuo-acked`, each refusal in `FILE.rejects.jsonl`, the ids derived from the
//! file's SHA-256, and the summary line.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use fenghuo_client::pb;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use crate::cli::output::Output;

/// The first line of a state file: its version and the file content it belongs to.
pub(super) const STATE_HEADER: &str = "fenghuo-acked v1 sha256=";
/// Refusals shown on stderr for people; the rejects file has them all.
const SHOWN_REFUSALS: u64 = 20;

#[derive(Default, Clone, Copy)]
pub(super) struct Counts {
    pub(super) read: u64,
    pub(super) accepted: u64,
    pub(super) merged: u64,
    pub(super) replayed: u64,
    pub(super) refused: u64,
    /// Settled by an earlier run (FILE.fenghuo-acked).
    pub(super) skipped: u64,
    /// Of those, refused then.
    pub(super) refused_before: u64,
    pub(super) acks: u64,
}

/// What both the reading thread and the acknowledgement loop write to.
pub(super) struct Ledger {
    pub(super) file: String,
    pub(super) out: Output,
    pub(super) inflight: HashMap<String, u64>,
    pub(super) state: BufWriter<File>,
    pub(super) rejects: BufWriter<File>,
    pub(super) counts: Counts,
    pub(super) bar: ProgressBar,
}

impl Ledger {
    fn settle(&mut self, line: u64, outcome: char) -> std::io::Result<()> {
        writeln!(self.state, "{line} {outcome}")
    }

    pub(super) fn reject(
        &mut self,
        line: u64,
        field: &str,
        reason: &str,
        code: Option<i32>,
    ) -> std::io::Result<()> {
        self.counts.refused += 1;
        let record =
            serde_json::json!({"line": line, "field": field, "reason": reason, "code": code});
        writeln!(self.rejects, "{record}")?;
        if self.out.json {
            let mut v = record;
            v["file"] = self.file.clone().into();
            v["outcome"] = "refused".into();
            println!("{v}");
        } else if self.counts.refused <= SHOWN_REFUSALS {
            let more = if self.counts.refused == SHOWN_REFUSALS {
                " (further refusals only in the rejects file)"
            } else {
                ""
            };
            // The server's reasons already name their field.
            let what = if reason.starts_with(field) {
                reason.to_owned()
            } else {
                format!("{field}: {reason}")
            };
            self.bar
                .suspend(|| eprintln!("{} line {line}: {what}{more}", self.file));
        }
        self.settle(line, 'r')
    }

    pub(super) fn ack(&mut self, ack: pb::SubmissionAck) -> anyhow::Result<()> {
        let Some(line) = self.inflight.remove(&ack.submission_id) else {
            anyhow::bail!(
                "the server acknowledged {:?}, which this run did not send",
                ack.submission_id
            );
        };
        self.counts.acks += 1;
        let (outcome, letter) = match pb::SubmissionOutcome::try_from(ack.outcome) {
            Ok(pb::SubmissionOutcome::Accepted) => ("accepted", 'a'),
            Ok(pb::SubmissionOutcome::Merged) => ("merged", 'm'),
            _ => {
                let r = ack.refusal.unwrap_or_default();
                return Ok(self.reject(line, &r.field, &r.reason, Some(r.code))?);
            }
        };
        match (ack.replayed, letter) {
            (true, _) => self.counts.replayed += 1,
            (false, 'a') => self.counts.accepted += 1,
            _ => self.counts.merged += 1,
        }
        if self.out.json {
            let v = serde_json::json!({
                "file": self.file, "line": line, "submission_id": ack.submission_id,
                "outcome": outcome, "replayed": ack.replayed, "threat_id": ack.threat_id,
                "sighting_id": ack.sighting_id,
            });
            println!("{v}");
        }
        Ok(self.settle(line, letter)?)
    }

    pub(super) fn flush(&mut self) -> std::io::Result<()> {
        self.state.flush()?;
        self.rejects.flush()
    }
}

pub(super) fn beside(file: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(file.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// The file's SHA-256 (hex) and its number of newlines, in one pass.
pub(super) fn hash_file(file: &Path) -> anyhow::Result<(String, u64)> {
    let mut f = File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let (mut hasher, mut lines, mut buf) = (Sha256::new(), 0u64, vec![0u8; 1 << 20]);
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
    Ok((hex::encode(hasher.finalize()), lines))
}

/// The settled lines a matching state file records (line → outcome), or none for a
/// state file of other content (or none), which is then started afresh.
pub(super) fn load_state(path: &Path, hash: &str) -> HashMap<u64, char> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    let mut lines = text.lines();
    if lines.next() != Some(&format!("{STATE_HEADER}{hash}")) {
        return HashMap::new();
    }
    lines
        .filter_map(|l| {
            let (n, o) = l.split_once(' ')?;
            Some((n.parse().ok()?, o.chars().next()?))
        })
        .collect()
}

/// The first 32 hex digits of the file's SHA-256, `-`, the line number in ten digits. Rows of
/// one file then sort in line order: random ids (a hash per row) scatter the inserts over the
/// server's (submission_id, reporter) index and halved intake (BENCHMARKS.md).
pub(super) fn submission_id(file_hash: &str, line: u64) -> String {
    format!("{}-{line:010}", &file_hash[..32])
}

pub(super) fn summary(file: &Path, rejects: &Path, c: Counts, started: Instant, out: Output) {
    let rate = c.acks as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let refused_all = c.refused + c.refused_before;
    out.say(
        &format!(
            "{}: {} lines read: {} accepted (new threats), {} merged (new sightings), {} replayed (stored before), {} refused, {} already acknowledged{}; {rate:.0} items/s{}",
            file.display(),
            c.read,
            c.accepted,
            c.merged,
            c.replayed,
            c.refused,
            c.skipped,
            if c.refused_before > 0 {
                format!(" ({} of them refused)", c.refused_before)
            } else {
                String::new()
            },
            if refused_all > 0 {
                format!("; refused lines: {}", rejects.display())
            } else {
                String::new()
            },
        ),
        serde_json::json!({
            "file": file.display().to_string(), "summary": true, "read": c.read,
            "accepted": c.accepted, "merged": c.merged, "replayed": c.replayed,
            "refused": c.refused, "already_acknowledged": c.skipped,
            "refused_before": c.refused_before, "items_per_sec": rate.round(),
            "rejects": rejects.display().to_string(),
        }),
    );
}
