//! A unit's notices from the command line (Art. 8, 9): follow the stream across restarts,
//! verify each notice offline, keep it on disk, acknowledge receipt, run the operator's hook,
//! and report results.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use fenghuo_client::pb;
use prost::Message;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;

use super::ConnectArgs;
use super::disposal::notice_line;
use super::notice::verify_signed;
use super::output::Output;

#[derive(Subcommand)]
pub enum NoticesCommand {
    /// Your notices, newest first (DisposalService.ListNotices)
    List {
        /// Only notices in this state (repeatable): issued, awaiting-offline-notification,
        /// notified-offline, received, results-reported, verified, revoked, lifted
        #[arg(long = "state", value_parser = parse_notice_state)]
        states: Vec<pb::NoticeState>,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Follow your notice stream into DIR: resumes from DIR/cursor after a restart,
    /// reconnects with back-off, verifies each notice's signature offline, writes
    /// DIR/<notice_id>.notice (the SignedNotice as received) and DIR/<notice_id>.txt.
    Follow(FollowArgs),
    /// Acknowledge receipt (送达) of a notice after verifying its signature
    Ack {
        notice_id: String,
        /// The platform CA (default: ca.crt of the identity's PKI directory)
        #[arg(long)]
        ca: Option<PathBuf>,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Report the result for targets of a notice (Art. 9)
    Result {
        notice_id: String,
        /// Target ids (repeatable)
        #[arg(long = "target", required = true)]
        targets: Vec<String>,
        /// The measure was taken
        #[arg(
            long,
            conflicts_with = "not_disposed",
            required_unless_present = "not_disposed"
        )]
        disposed: bool,
        /// The measure was not taken; give --reason
        #[arg(long)]
        not_disposed: bool,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long, default_value = "")]
        details: String,
        /// The person responsible for this disposal (Art. 5)
        #[arg(long, default_value = "")]
        contact_person: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Report a revoked measure lifted (Art. 10, 12), by the revocation's lifting deadline
    Lifted {
        /// The revoked notice (not the revocation)
        notice_id: String,
        /// Revoked target ids (repeatable; default: every revoked target not yet lifted)
        #[arg(long = "target")]
        targets: Vec<String>,
        /// When it was lifted (RFC 3339; default: when the server receives the report)
        #[arg(long, value_parser = super::decision::parse_instant)]
        at: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long, default_value = "")]
        details: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

#[derive(Args)]
pub struct FollowArgs {
    #[arg(long)]
    out: PathBuf,
    /// Acknowledge receipt of each notice that verifies
    #[arg(long)]
    ack: bool,
    /// A shell command run once per new notice that verifies, with FENGHUO_NOTICE_ID,
    /// FENGHUO_NOTICE_KIND and FENGHUO_NOTICE_FILE set (e.g. the script that feeds the
    /// blocking system); a failing hook is reported and the stream goes on
    #[arg(long)]
    hook: Option<String>,
    /// The platform CA (default: ca.crt of the identity's PKI directory)
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Stop after this many notices (default: follow until stopped)
    #[arg(long)]
    exit_after: Option<usize>,
    #[command(flatten)]
    output: Output,
    #[command(flatten)]
    connect: ConnectArgs,
}

fn ca_pem(ca: &Option<PathBuf>, connect: &ConnectArgs) -> anyhow::Result<(String, String)> {
    let path = match ca {
        Some(p) => p.clone(),
        None => connect.pki_dir()?.join("ca.crt"),
    };
    let pem = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the platform CA {}", path.display()))?;
    Ok((pem, path.display().to_string()))
}

impl NoticesCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            NoticesCommand::List {
                states,
                out,
                connect,
            } => {
                let notices = connect
                    .client()
                    .await?
                    .disposal()
                    .list_notices(pb::ListNoticesRequest {
                        states: states.iter().map(|s| *s as i32).collect(),
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .notices;
                if notices.is_empty() {
                    out.note("no notices");
                }
                for n in &notices {
                    let (line, value) = notice_line(n);
                    out.say(&line, value);
                }
                Ok(())
            }
            NoticesCommand::Follow(args) => follow(args).await,
            NoticesCommand::Ack {
                notice_id,
                ca,
                out,
                connect,
            } => {
                let (pem, ca_name) = ca_pem(&ca, &connect)?;
                let client = connect.client().await?;
                let notice = client
                    .disposal()
                    .get_notice(pb::GetNoticeRequest { notice_id })
                    .await?
                    .into_inner()
                    .notice
                    .context("the server answered without the notice")?;
                let signed = notice.signed.clone().unwrap_or_default();
                verify_signed(&signed, &pem, &ca_name)?;
                let status = acknowledge(&client, &notice.notice_id, &signed).await?;
                out.say(
                    &format!("notice {} received (signature verified)", notice.notice_id),
                    json!({
                        "notice_id": notice.notice_id,
                        "received_at": super::output::ts_json(status.received_at),
                        "result_deadline": super::output::ts_json(status.result_deadline),
                    }),
                );
                Ok(())
            }
            NoticesCommand::Result {
                notice_id,
                targets,
                disposed,
                not_disposed: _,
                reason,
                details,
                contact_person,
                out,
                connect,
            } => {
                let outcome = if disposed {
                    pb::DisposalOutcome::Disposed
                } else {
                    pb::DisposalOutcome::NotDisposed
                };
                let status = connect
                    .client()
                    .await?
                    .disposal()
                    .report_result(pb::ReportResultRequest {
                        notice_id: notice_id.clone(),
                        results: targets
                            .iter()
                            .map(|t| pb::TargetResult {
                                target_id: t.clone(),
                                outcome: outcome as i32,
                                reason: reason.clone(),
                                details: details.clone(),
                                disposed_at: None,
                            })
                            .collect(),
                        contact_person,
                        contact_phone: String::new(),
                    })
                    .await?
                    .into_inner()
                    .status
                    .unwrap_or_default();
                let state = pb::NoticeState::try_from(status.state)
                    .map(|s| s.as_str_name())
                    .unwrap_or("?");
                out.say(
                    &format!(
                        "notice {notice_id}: {} target(s) reported {}; notice now {state}",
                        targets.len(),
                        outcome.as_str_name()
                    ),
                    json!({ "notice_id": notice_id, "outcome": outcome.as_str_name(), "state": state }),
                );
                Ok(())
            }
            NoticesCommand::Lifted {
                notice_id,
                targets,
                at,
                details,
                out,
                connect,
            } => {
                let status = connect
                    .client()
                    .await?
                    .disposal()
                    .report_lifted(pb::ReportLiftedRequest {
                        notice_id: notice_id.clone(),
                        target_ids: targets,
                        lifted_at: at.map(super::decision::timestamp),
                        details,
                    })
                    .await?
                    .into_inner()
                    .status
                    .unwrap_or_default();
                let state = pb::NoticeState::try_from(status.state)
                    .map(|s| s.as_str_name())
                    .unwrap_or("?");
                let lifted: Vec<_> = status
                    .targets
                    .iter()
                    .filter(|t| !t.revocation_notice_id.is_empty())
                    .collect();
                out.say(
                    &format!(
                        "notice {notice_id}: {} of {} revoked target(s) lifted; notice now {state}",
                        lifted.iter().filter(|t| t.lifted_at.is_some()).count(),
                        lifted.len()
                    ),
                    json!({
                        "notice_id": notice_id,
                        "state": state,
                        "revoked": lifted.iter().map(|t| json!({
                            "target_id": t.target_id,
                            "revocation_notice_id": t.revocation_notice_id,
                            "lifted_at": super::output::ts_json(t.lifted_at),
                        })).collect::<Vec<_>>(),
                    }),
                );
                Ok(())
            }
        }
    }
}

async fn acknowledge(
    client: &fenghuo_client::Client,
    notice_id: &str,
    signed: &pb::SignedNotice,
) -> anyhow::Result<pb::NoticeStatus> {
    Ok(client
        .disposal()
        .acknowledge_receipt(pb::AcknowledgeReceiptRequest {
            notice_id: notice_id.to_owned(),
            body_sha256: Sha256::digest(&signed.body).to_vec(),
        })
        .await?
        .into_inner()
        .status
        .unwrap_or_default())
}

/// Writes `bytes` to `path` through a temporary file, so a crash never leaves half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

async fn follow(a: FollowArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(a.out.join("rejected"))
        .with_context(|| format!("creating {}", a.out.display()))?;
    let (pem, ca_name) = ca_pem(&a.ca, &a.connect)?;
    let cursor_file = a.out.join("cursor");
    let mut seen = 0usize;
    let mut backoff = Duration::from_millis(500);
    loop {
        let cursor = std::fs::read_to_string(&cursor_file).unwrap_or_default();
        let attempt = async {
            let client = a.connect.client().await?;
            let mut stream = client
                .disposal()
                .subscribe_notices(pb::SubscribeNoticesRequest {
                    cursor: cursor.trim().to_owned(),
                })
                .await?
                .into_inner();
            eprintln!(
                "following notices {} into {}",
                if cursor.trim().is_empty() {
                    "from every one not yet acknowledged".to_owned()
                } else {
                    format!("after cursor {}", cursor.trim())
                },
                a.out.display()
            );
            while let Some(delivery) = stream.next().await {
                let d = delivery?;
                if let Some(notice) = &d.notice {
                    handle(&a, &client, notice, &pem, &ca_name).await?;
                }
                // The cursor moves only after the notice is on disk (and acknowledged).
                write_atomically(&cursor_file, d.cursor.as_bytes())?;
                seen += 1;
                if a.exit_after.is_some_and(|n| seen >= n) {
                    return Ok::<bool, anyhow::Error>(true);
                }
            }
            Ok(false)
        };
        match attempt.await {
            Ok(true) => return Ok(()),
            Ok(false) => eprintln!("the server ended the stream; reconnecting"),
            Err(e) => {
                if let Some(s) = e.downcast_ref::<tonic::Status>()
                    && matches!(
                        s.code(),
                        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated
                    )
                {
                    return Err(e);
                }
                eprintln!("stream interrupted ({e:#}); reconnecting in {backoff:?}");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

async fn handle(
    a: &FollowArgs,
    client: &fenghuo_client::Client,
    notice: &pb::Notice,
    pem: &str,
    ca_name: &str,
) -> anyhow::Result<()> {
    let signed = notice.signed.clone().unwrap_or_default();
    let id = &notice.notice_id;
    // Ids are UUIDs; anything else is not written under our directory.
    anyhow::ensure!(
        uuid::Uuid::parse_str(id).is_ok(),
        "the server sent a notice id that is not a UUID: {id:?}"
    );
    let file = a.out.join(format!("{id}.notice"));
    let lines = match verify_signed(&signed, pem, ca_name) {
        Ok(lines) => lines,
        Err(e) => {
            // Never acted on, never acknowledged: kept aside for the operator.
            write_atomically(
                &a.out.join("rejected").join(format!("{id}.notice")),
                &signed.encode_to_vec(),
            )?;
            eprintln!("notice {id} NOT verified, kept in rejected/: {e:#}");
            return Ok(());
        }
    };
    let new = !file.exists();
    write_atomically(&file, &signed.encode_to_vec())?;
    let (line, value) = notice_line(notice);
    let mut text = lines.join("\n");
    text.push_str(&format!("\n{line}\n"));
    write_atomically(&a.out.join(format!("{id}.txt")), text.as_bytes())?;
    if a.ack {
        acknowledge(client, id, &signed).await?;
    }
    if new && let Some(hook) = &a.hook {
        let kind = value["kind"].as_str().unwrap_or("").to_owned();
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg(hook)
            .env("FENGHUO_NOTICE_ID", id)
            .env("FENGHUO_NOTICE_KIND", kind)
            .env("FENGHUO_NOTICE_FILE", &file);
        let status = tokio::task::spawn_blocking(move || command.status())
            .await?
            .with_context(|| format!("running the hook {hook:?}"))?;
        if !status.success() {
            eprintln!("hook for notice {id} exited with {status}");
        }
    }
    a.output.say(&line, value);
    Ok(())
}

/// `received` → NOTICE_STATE_RECEIVED; the full proto name is accepted too.
fn parse_notice_state(raw: &str) -> Result<pb::NoticeState, String> {
    let name = raw.trim().to_ascii_uppercase().replace('-', "_");
    let name = if name.starts_with("NOTICE_STATE_") {
        name
    } else {
        format!("NOTICE_STATE_{name}")
    };
    match pb::NoticeState::from_str_name(&name) {
        Some(s) if s != pb::NoticeState::Unspecified => Ok(s),
        _ => Err(format!(
            "unknown notice state {raw:?} (issued, awaiting-offline-notification, notified-offline, received, results-reported, verified, revoked, lifted)"
        )),
    }
}
