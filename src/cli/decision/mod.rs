//! A regulator's decisions from the command line (Art. 8, 10): issue one (from flags or a
//! TOML/JSON file with several measures), revoke a notice, record that an informed party off
//! the platform was told offline (Art. 8(3)), and mark an organisation whose systems are
//! protected (Art. 8(3)). Lines for people; `--json`: one object per line.
//!
//! This module holds the commands and their run; `issue.rs` makes the decision to issue
//! (flags or a file), `offline.rs` the offline notification and the `--at` helpers.

mod issue;
mod offline;

use anyhow::Context;
use clap::Subcommand;
use fenghuo_client::pb;
use serde_json::json;

use super::ConnectArgs;
use super::disposal::notice_line;
use super::output::Output;
use offline::{enum_name, out_offline};

pub use issue::{IssueArgs, MeasureKind, measure_type, parse_target};
pub use offline::{Channel, OfflineArgs, parse_instant, timestamp};

#[derive(Subcommand)]
pub enum DecisionCommand {
    /// Order measures on a confirmed threat (DisposalService.IssueDecision): one measure from
    /// the flags, or one or more from --file; one signed notice per addressee the targets
    /// route to (or --addressee).
    Issue(IssueArgs),
    /// Revoke a notice's targets (all still in force unless --target): a signed revocation.
    Revoke {
        notice_id: String,
        /// Why; the addressee reads it
        #[arg(long)]
        reason: String,
        /// Target ids to revoke (default: every target still in force)
        #[arg(long = "target")]
        targets: Vec<String>,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Record that an informed party off the platform was told of a measure offline
    /// (Art. 8(3); 2009 mechanism Art. 17), by the notice's offline-notification deadline
    OfflineNotified(OfflineArgs),
    /// Mark an organisation as a party or government organ, critical information
    /// infrastructure or an important information system, naming who is informed of any
    /// measure on its resources (Art. 8(3); 2009 mechanism Art. 9(4), 19); --clear unmarks
    Protect(super::protect::ProtectArgs),
}

impl DecisionCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            DecisionCommand::Issue(a) => {
                let request = a.request()?;
                let issued = a
                    .connect
                    .client()
                    .await?
                    .disposal()
                    .issue_decision(request)
                    .await?
                    .into_inner();
                a.out.say(
                    &format!("decision {}", issued.decision_id),
                    json!({ "decision_id": issued.decision_id }),
                );
                for n in &issued.notices {
                    let (line, value) = notice_line(n);
                    a.out.say(&format!("  notice {line}"), value);
                }
                Ok(())
            }
            DecisionCommand::Revoke {
                notice_id,
                reason,
                targets,
                out,
                connect,
            } => {
                let revocation = connect
                    .client()
                    .await?
                    .disposal()
                    .revoke_notice(pb::RevokeNoticeRequest {
                        notice_id,
                        target_ids: targets,
                        reason,
                        lift_time_limit: None,
                    })
                    .await?
                    .into_inner()
                    .revocation
                    .context("the server answered without the revocation")?;
                let (line, value) = notice_line(&revocation);
                out.say(&format!("revocation {line}"), value);
                Ok(())
            }
            DecisionCommand::OfflineNotified(a) => {
                let officer = a
                    .officer
                    .clone()
                    .or_else(|| a.connect.token.as_deref().and_then(super::token_officer))
                    .unwrap_or_default();
                let channel = match a.channel {
                    Channel::Phone => pb::OfflineNotificationChannel::Phone,
                    Channel::Letter => pb::OfflineNotificationChannel::Letter,
                    Channel::Fax => pb::OfflineNotificationChannel::Fax,
                    Channel::InPerson => pb::OfflineNotificationChannel::InPerson,
                };
                let at = a.at.unwrap_or_else(chrono::Utc::now);
                let status = a
                    .connect
                    .client()
                    .await?
                    .disposal()
                    .record_offline_notification(pb::RecordOfflineNotificationRequest {
                        notice_id: a.notice_id.clone(),
                        notification: Some(pb::OfflineNotification {
                            notified_at: Some(timestamp(at)),
                            notifying_officer: officer,
                            channel: channel as i32,
                            recipient_person: a.recipient.clone(),
                            note: a.note.clone(),
                            recorded_by_officer_name: String::new(),
                        }),
                    })
                    .await?
                    .into_inner()
                    .status
                    .unwrap_or_default();
                let state = enum_name(status.state, pb::NoticeState::as_str_name);
                let record = status.offline_notification.unwrap_or_default();
                out_offline(&a.out, &a.notice_id, state, &record);
                Ok(())
            }
            DecisionCommand::Protect(a) => super::protect::protect(a).await,
        }
    }
}

#[cfg(test)]
mod tests;
