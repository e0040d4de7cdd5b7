//! `fenghuo threat submit FILE…`: streams each row over `SubmitThreatStream`.
//!
//! A row's submission_id is derived from the file's SHA-256 and its line number, so a
//! re-run of the same file sends the same ids: the server answers what it already stored
//! as a replay and stores nothing twice. `FILE.fenghuo-acked` records the settled lines
//! (acknowledged or refused) so that a re-run sends only the rest; it is an optimisation
//! only, as lines acknowledged but not yet recorded when a run is cut off are replayed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use fenghuo_client::pb;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;

use super::columns::{self, Fields, Reject};
use super::{Format, SubmitArgs};
use crate::cli::output::Output;

/// The first line of a state file: its version and the file content it belongs to.
const STATE_HEADER: &str = "fenghuo-acked v1 sha256=";
/// Rows parsed ahead of their acknowledgement; the server reads a bounded number too.
const AHEAD: usize = 4096;
/// Refusals shown on stderr for people; the rejects file has them all.
const SHOWN_REFUSALS: u64 = 20;

/// Exit 0 when every line is stored, 1 when some line of a file is refused (this run or
/// an earlier one: FILE.rejects.jsonl lists them); errors exit 2 (main).
pub async fn submit(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let default_tlp = match &args.tlp {
        Some(t) => Some(columns::tlp("--tlp", t).map_err(|e| {
            anyhow::anyhow!(
                "--tlp {t:?}: clear, green, amber, amber+strict or red ({})",
                e.reason
            )
        })?),
        None => None,
    };
    let client = args.connect.client().await?;
    let unit = client.unit();
    let mut refused = false;
    for file in &args.files {
        let is_json = file.extension().and_then(|e| e.to_str()) == Some("json");
        let format = match args.format {
            Some(f) => f,
            None => match file.extension().and_then(|e| e.to_str()) {
                Some("csv") => Format::Csv,
                Some("jsonl" | "ndjson") => Format::Jsonl,
                _ if is_json => Format::Stix,
                _ => anyhow::bail!(
                    "{}: name its format with --format csv|jsonl|stix (by extension: .csv, .jsonl, .ndjson; .json holding a STIX bundle)",
                    file.display()
                ),
            },
        };
        if format == Format::Stix {
            let text =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            if !super::stix::is_bundle(&text) {
                anyhow::bail!(
                    "{}: not a STIX 2.1 bundle (a JSON object with \"type\": \"bundle\")",
                    file.display()
                );
            }
            let defaults = super::stix::defaults(args.stix_defaults.as_deref(), default_tlp)?;
            refused |=
                super::stix::submit_bundle(&client, file, &text, defaults, args.output).await?;
            continue;
        }
        let counts = submit_file(&unit, file, format, default_tlp, &args).await?;
        refused |= counts.refused + counts.refused_before > 0;
    }
    Ok(if refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Default, Clone, Copy)]
struct Counts {
    read: u64,
    accepted: u64,
    merged: u64,
    replayed: u64,
    refused: u64,
    /// Settled by an earlier run (FILE.fenghuo-acked).
    skipped: u64,
    /// Of those, refused then.
    refused_before: u64,
    acks: u64,
}

/// What both the reading thread and the acknowledgement loop write to.
struct Ledger {
    file: String,
    out: Output,
    inflight: HashMap<String, u64>,
    state: BufWriter<File>,
    rejects: BufWriter<File>,
    counts: Counts,
    bar: ProgressBar,
}

impl Ledger {
    fn settle(&mut self, line: u64, outcome: char) -> std::io::Result<()> {
        writeln!(self.state, "{line} {outcome}")
    }

    fn reject(
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

    fn ack(&mut self, ack: pb::SubmissionAck) -> anyhow::Result<()> {
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

    fn flush(&mut self) -> std::io::Result<()> {
        self.state.flush()?;
        self.rejects.flush()
    }
}

fn beside(file: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(file.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// The file's SHA-256 (hex) and its number of newlines, in one pass.
fn hash_file(file: &Path) -> anyhow::Result<(String, u64)> {
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
fn load_state(path: &Path, hash: &str) -> HashMap<u64, char> {
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
fn submission_id(file_hash: &str, line: u64) -> String {
    format!("{}-{line:010}", &file_hash[..32])
}

async fn submit_file(
    unit: &fenghuo_client::roles::Unit,
    file: &Path,
    format: Format,
    default_tlp: Option<pb::Tlp>,
    args: &SubmitArgs,
) -> anyhow::Result<Counts> {
    let started = Instant::now();
    let (hash, newlines) = hash_file(file)?;
    let state_path = beside(file, ".fenghuo-acked");
    let rejects_path = beside(file, ".rejects.jsonl");
    let settled = load_state(&state_path, &hash);
    let fresh = settled.is_empty();
    let open = |p: &Path| -> anyhow::Result<BufWriter<File>> {
        let mut o = OpenOptions::new();
        o.create(true);
        if fresh {
            o.write(true).truncate(true)
        } else {
            o.append(true)
        };
        Ok(BufWriter::new(
            o.open(p)
                .with_context(|| format!("writing {}", p.display()))?,
        ))
    };
    let mut state = open(&state_path)?;
    if fresh {
        writeln!(state, "{STATE_HEADER}{hash}")?;
    }
    let total = newlines.saturating_sub(u64::from(format == Format::Csv));
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template(
        "{spinner} {wide_bar} {pos}/{len} lines {per_sec} {msg}",
    )?);
    let ledger = Arc::new(Mutex::new(Ledger {
        file: file.display().to_string(),
        out: args.output,
        inflight: HashMap::new(),
        state,
        rejects: open(&rejects_path)?,
        counts: Counts::default(),
        bar: bar.clone(),
    }));

    let (tx, rx) = tokio::sync::mpsc::channel(AHEAD);
    let reader = {
        let (file, ledger, bar) = (file.to_owned(), ledger.clone(), bar.clone());
        std::thread::spawn(move || {
            let mut send = |line: u64, fields: Result<Fields, Reject>| -> anyhow::Result<bool> {
                if let Some(&outcome) = settled.get(&line) {
                    let mut l = ledger.lock().expect("ledger lock");
                    l.counts.read += 1;
                    l.counts.skipped += 1;
                    l.counts.refused_before += u64::from(outcome == 'r');
                    bar.inc(1);
                    return Ok(true);
                }
                // Parsed outside the lock, which the acknowledgements need too.
                let report = fields.and_then(|f| columns::report(&f, default_tlp));
                let mut l = ledger.lock().expect("ledger lock");
                l.counts.read += 1;
                let report = match report {
                    Ok(r) => r,
                    Err(e) => {
                        l.reject(line, &e.field, &e.reason, None)?;
                        bar.inc(1);
                        return Ok(true);
                    }
                };
                let id = submission_id(&hash, line);
                l.inflight.insert(id.clone(), line);
                drop(l);
                let request = pb::SubmitThreatRequest {
                    submission_id: id,
                    report: Some(report),
                };
                // A closed channel: the stream ended early; the caller reports why.
                Ok(tx.blocking_send(request).is_ok())
            };
            match format {
                Format::Csv => read_csv(&file, &mut send),
                // Bundles go to ImportStixBundle before this (submit).
                Format::Jsonl | Format::Stix => read_jsonl(&file, &mut send),
            }
        })
    };

    let mut acks = unit
        .submit_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?;
    let mut stopped = None;
    // Ctrl-C stops like --stop-after, so the settled lines are recorded before exiting.
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let streamed: anyhow::Result<()> = async {
        loop {
            let ack = tokio::select! {
                ack = acks.next() => match ack {
                    Some(ack) => ack,
                    None => break,
                },
                _ = &mut interrupt => {
                    stopped = Some("interrupted");
                    break;
                }
            };
            let mut l = ledger.lock().expect("ledger lock");
            l.ack(ack?)?;
            bar.inc(1);
            let c = l.counts;
            if c.acks.is_multiple_of(1024) {
                bar.set_message(format!("acked {} refused {}", c.acks, c.refused));
                l.flush()?;
            }
            if args.stop_after.is_some_and(|n| c.acks >= n) {
                stopped = Some("--stop-after");
                break;
            }
        }
        Ok(())
    }
    .await;
    bar.finish_and_clear();
    let mut l = ledger.lock().expect("ledger lock");
    l.flush()?;
    let unacknowledged = l.inflight.len();
    let counts = l.counts;
    drop(l);
    if let Err(e) = streamed {
        eprintln!(
            "{}: {unacknowledged} rows sent and not acknowledged; run again to resend them",
            file.display()
        );
        return Err(e);
    }
    if let Some(why) = stopped {
        anyhow::bail!(
            "{}: stopped after {} acknowledgements ({why}); run again to send the rest",
            file.display(),
            counts.acks
        );
    }
    // The stream ended: every request was taken, so the reader is done.
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
    let counts = ledger.lock().expect("ledger lock").counts;
    if unacknowledged > 0 {
        anyhow::bail!(
            "{}: the stream ended with {unacknowledged} rows unacknowledged; run again to resend them",
            file.display()
        );
    }
    summary(file, &rejects_path, counts, started, args.output);
    Ok(counts)
}

fn summary(file: &Path, rejects: &Path, c: Counts, started: Instant, out: Output) {
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

type Send<'a> = dyn FnMut(u64, Result<Fields, Reject>) -> anyhow::Result<bool> + 'a;

fn read_csv(file: &Path, send: &mut Send) -> anyhow::Result<()> {
    let input = File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let mut reader =
        csv::ReaderBuilder::new().from_reader(BufReader::with_capacity(1 << 20, input));
    let mut columns = Vec::new();
    for name in reader.headers()?.iter() {
        match columns::column(name) {
            Some(c) => columns.push(c),
            None => anyhow::bail!(
                "{}: unknown column {name:?} in the header (`fenghuo threat template` and the README list them)",
                file.display()
            ),
        }
    }
    let mut record = csv::StringRecord::new();
    loop {
        let line = match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => record.position().map(|p| p.line()).unwrap_or_default(),
            Err(e) => match e.position() {
                Some(p) => {
                    let line = p.line();
                    let reason = e.to_string();
                    if !send(
                        line,
                        Err(Reject {
                            field: String::new(),
                            reason,
                        }),
                    )? {
                        return Ok(());
                    }
                    continue;
                }
                None => return Err(e).with_context(|| format!("reading {}", file.display())),
            },
        };
        let fields = Fields(
            columns
                .iter()
                .zip(record.iter())
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(c, v)| (*c, Cow::Borrowed(v.trim())))
                .collect(),
        );
        if !send(line, Ok(fields))? {
            return Ok(());
        }
    }
}

fn read_jsonl(file: &Path, send: &mut Send) -> anyhow::Result<()> {
    let input = File::open(file).with_context(|| format!("reading {}", file.display()))?;
    for (i, text) in BufReader::with_capacity(1 << 20, input).lines().enumerate() {
        let text = text.with_context(|| format!("reading {}", file.display()))?;
        if text.trim().is_empty() {
            continue;
        }
        let fields = json_fields(&text);
        if !send(i as u64 + 1, fields)? {
            return Ok(());
        }
    }
    Ok(())
}

fn json_fields(text: &str) -> Result<Fields<'static>, Reject> {
    use serde_json::Value;
    let object: serde_json::Map<String, Value> =
        serde_json::from_str(text).map_err(|e| Reject {
            field: String::new(),
            reason: format!("not a JSON object: {e}"),
        })?;
    let mut fields = Fields::default();
    for (key, value) in object {
        let Some(col) = columns::column(&key) else {
            return Err(Reject {
                field: key,
                reason: "unknown column (`fenghuo threat template` and the README list them)"
                    .into(),
            });
        };
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(";"),
            Value::Object(_) => {
                return Err(Reject {
                    field: key,
                    reason: "a flat value: text, number, true/false or a list".into(),
                });
            }
        };
        if !text.is_empty() {
            fields.0.push((col, Cow::Owned(text)));
        }
    }
    Ok(fields)
}
