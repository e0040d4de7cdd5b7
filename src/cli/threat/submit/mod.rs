//! `fenghuo threat submit FILE…`: streams each row over `SubmitThreatStream`.
//!
//! A row's submission_id is derived from the file's SHA-256 and its line number, so a
//! re-run of the same file sends the same ids: the server answers what it already stored
//! as a replay and stores nothing twice. `FILE.fenghuo-acked` records the settled lines
//! (acknowledged or refused) so that a re-run sends only the rest; it is an optimisation
//! only, as lines acknowledged but not yet recorded when a run is cut off are replayed.
//!
//! This module holds the command and the streaming of one file; `ledger.rs` what a run
//! records (counts, the state and rejects files, the ids), `rows.rs` the reading of rows.

mod ledger;
mod rows;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use fenghuo_client::pb;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_stream::StreamExt;

use super::columns::{self, Fields, Reject};
use super::{Format, SubmitArgs};
use ledger::{Counts, Ledger, STATE_HEADER, beside, hash_file, load_state, submission_id, summary};
use rows::{read_csv, read_jsonl};

/// Rows parsed ahead of their acknowledgement; the server reads a bounded number too.
const AHEAD: usize = 4096;

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
