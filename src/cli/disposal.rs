//! The regulator's follow-up from the command line (Art. 9, 12): the review queue, compliance
//! figures, non-compliance records and enforcement; and how a notice prints. Decisions are in
//! `decision/`, a unit's notices in `notices.rs`. Lines for people; `--json`: one object per
//! line.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use fenghuo_client::pb;
use serde_json::json;

use super::ConnectArgs;
use super::output::{Output, date_json, ts_json};

fn body(n: &pb::Notice) -> pb::NoticeBody {
    use prost::Message;
    n.signed
        .as_ref()
        .and_then(|s| pb::NoticeBody::decode(s.body.as_slice()).ok())
        .unwrap_or_default()
}

/// One notice as a line and as JSON.
pub fn notice_line(n: &pb::Notice) -> (String, serde_json::Value) {
    let b = body(n);
    let kind = pb::NoticeKind::try_from(b.kind)
        .map(|k| k.as_str_name())
        .unwrap_or("?");
    let state = n
        .status
        .as_ref()
        .and_then(|s| pb::NoticeState::try_from(s.state).ok())
        .map(|s| s.as_str_name())
        .unwrap_or("?");
    let addressee = if b.addressee_organisation_id.is_empty() {
        format!("{} (off the platform)", b.addressee_name)
    } else {
        b.addressee_organisation_id.clone()
    };
    let deadline = n
        .status
        .as_ref()
        .and_then(|s| s.result_deadline)
        .or(b.deadline);
    let targets: Vec<_> = b
        .targets
        .iter()
        .map(|t| {
            json!({
                "target_id": t.target_id,
                "value": t.target.as_ref().map(|x| x.value.clone()).unwrap_or_default(),
            })
        })
        .collect();
    let line = format!(
        "{} {kind} {state} to {addressee} targets={} deadline={}",
        n.notice_id,
        b.targets
            .iter()
            .map(|t| format!(
                "{}={}",
                t.target_id,
                t.target.as_ref().map(|x| x.value.as_str()).unwrap_or("")
            ))
            .collect::<Vec<_>>()
            .join(","),
        deadline
            .map(|t| ts_json(Some(t)).as_str().unwrap_or("").to_owned())
            .unwrap_or_else(|| "none".into())
    );
    let value = json!({
        "notice_id": n.notice_id,
        "kind": kind,
        "state": state,
        "threat_id": b.threat_id,
        "issuer": b.issuer_organisation_id,
        "addressee": b.addressee_organisation_id,
        "addressee_name": b.addressee_name,
        "targets": targets,
        "issued_at": ts_json(b.issued_at),
        "receipt_due": ts_json(b.receipt_due),
        "deadline": ts_json(deadline),
    });
    (line, value)
}

#[derive(Subcommand)]
pub enum ReviewCommand {
    /// Open review items in your jurisdiction: targets found not effective, or reported not disposed
    List {
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Accept a unit's reason for not disposing of a target (Art. 9, 12)
    Accept {
        item_id: String,
        #[arg(long)]
        note: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

fn review_line(i: &pb::ReviewQueueItem) -> (String, serde_json::Value) {
    let reason = pb::ReviewReason::try_from(i.reason)
        .map(|r| r.as_str_name())
        .unwrap_or("?");
    let target = i
        .target
        .as_ref()
        .map(|t| t.target_id.clone())
        .unwrap_or_default();
    let why = i
        .result
        .as_ref()
        .map(|r| r.reason.clone())
        .or_else(|| i.verification.as_ref().map(|v| v.details.clone()))
        .unwrap_or_default();
    (
        format!(
            "{} {reason} notice={} target={target} unit={}: {why}",
            i.id, i.notice_id, i.addressee_organisation_id
        ),
        json!({
            "id": i.id,
            "reason": reason,
            "notice_id": i.notice_id,
            "threat_id": i.threat_id,
            "target_id": target,
            "addressee": i.addressee_organisation_id,
            "why": why,
            "queued_at": ts_json(i.queued_at),
        }),
    )
}

impl ReviewCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            ReviewCommand::List { out, connect } => {
                let items = connect
                    .client()
                    .await?
                    .disposal()
                    .list_review_queue(pb::ListReviewQueueRequest::default())
                    .await?
                    .into_inner()
                    .items;
                if items.is_empty() {
                    out.note("the review queue is empty");
                }
                for i in &items {
                    let (line, value) = review_line(i);
                    out.say(&line, value);
                }
                Ok(())
            }
            ReviewCommand::Accept {
                item_id,
                note,
                out,
                connect,
            } => {
                let item = connect
                    .client()
                    .await?
                    .disposal()
                    .accept_not_disposed_reason(pb::AcceptNotDisposedReasonRequest {
                        review_item_id: item_id,
                        note,
                    })
                    .await?
                    .into_inner()
                    .item
                    .context("the server answered without the item")?;
                let (line, value) = review_line(&item);
                out.say(&format!("accepted {line}"), value);
                Ok(())
            }
        }
    }
}

#[derive(Subcommand)]
pub enum ComplianceCommand {
    /// On-time figures per unit (Art. 12): receipts, results (with not disposed), lifts, verifications
    Summary {
        /// Units to show (default: every unit addressed in your jurisdiction)
        #[arg(long = "unit")]
        units: Vec<String>,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Non-compliance records: who missed which deadline
    Records {
        #[arg(long)]
        unit: Option<String>,
        /// Only records no enforcement answers yet
        #[arg(long)]
        unenforced: bool,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Record an interview, warning or fine (Art. 12) with its legal basis
    Enforce(EnforceArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum EnforcementKind {
    Interview,
    Warning,
    Fine,
}

#[derive(Args)]
pub struct EnforceArgs {
    #[arg(long)]
    unit: String,
    #[arg(long, value_enum)]
    kind: EnforcementKind,
    /// e.g. "Cybersecurity Law Art. 56; Art. 12 of the 2017 Measures"
    #[arg(long)]
    legal_basis: String,
    #[arg(long)]
    description: String,
    /// Non-compliance record ids this answers (repeatable)
    #[arg(long = "record")]
    records: Vec<String>,
    /// Review items this settles (repeatable)
    #[arg(long = "settles")]
    settles: Vec<String>,
    /// A fine's amount in fen (0.01 CNY)
    #[arg(long, default_value_t = 0)]
    fine_fen: u64,
    /// The written decision's number
    #[arg(long, default_value = "")]
    document_number: String,
    /// The day it was decided (YYYY-MM-DD; default today, Asia/Shanghai)
    #[arg(long)]
    decided_on: Option<chrono::NaiveDate>,
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    connect: ConnectArgs,
}

fn counts_json(c: Option<pb::DutyCounts>) -> serde_json::Value {
    let c = c.unwrap_or_default();
    json!({
        "due": c.due, "on_time": c.on_time, "late": c.late, "missing": c.missing,
        "not_disposed": c.not_disposed, "on_time_rate": c.on_time_rate,
    })
}

fn counts_text(name: &str, c: Option<pb::DutyCounts>) -> String {
    let c = c.unwrap_or_default();
    format!(
        "{name} {}/{} on time ({} late, {} missing{})",
        c.on_time,
        c.due,
        c.late,
        c.missing,
        if c.not_disposed > 0 {
            format!(", {} not disposed", c.not_disposed)
        } else {
            String::new()
        }
    )
}

impl ComplianceCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            ComplianceCommand::Summary {
                units,
                out,
                connect,
            } => {
                let summary = connect
                    .client()
                    .await?
                    .disposal()
                    .get_compliance_summary(pb::GetComplianceSummaryRequest {
                        organisation_ids: units,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                for u in summary.units {
                    let line = format!(
                        "{}: {}; {}; {}; {}; {}; {} enforcement(s)",
                        u.organisation_id,
                        counts_text("reports", u.reports),
                        counts_text("receipts", u.receipts),
                        counts_text("results", u.results),
                        counts_text("lifts", u.lifts),
                        counts_text("verifications", u.verifications),
                        u.enforcements
                    );
                    let value = json!({
                        "organisation_id": u.organisation_id,
                        "receipts": counts_json(u.receipts),
                        "results": counts_json(u.results),
                        "lifts": counts_json(u.lifts),
                        "verifications": counts_json(u.verifications),
                        "reports": counts_json(u.reports),
                        "enforcements": u.enforcements,
                    });
                    out.say(&line, value);
                }
                Ok(())
            }
            ComplianceCommand::Records {
                unit,
                unenforced,
                out,
                connect,
            } => {
                let records = connect
                    .client()
                    .await?
                    .disposal()
                    .list_non_compliance(pb::ListNonComplianceRequest {
                        organisation_id: unit.unwrap_or_default(),
                        unenforced_only: unenforced,
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .records;
                if records.is_empty() {
                    out.note("no records");
                }
                for r in records {
                    let kind = pb::NonComplianceKind::try_from(r.kind)
                        .map(|k| k.as_str_name())
                        .unwrap_or("?");
                    let line = format!(
                        "{} {kind} {} notice={} target={} due={}{}{}",
                        r.id,
                        r.organisation_id,
                        r.notice_id,
                        r.target_id,
                        ts_json(r.due_at).as_str().unwrap_or(""),
                        if r.fulfilled_at.is_some() {
                            " fulfilled late"
                        } else {
                            ""
                        },
                        if r.art12_breach {
                            ""
                        } else {
                            " (not an Art. 12 breach)"
                        },
                    );
                    let value = json!({
                        "id": r.id, "kind": kind, "organisation_id": r.organisation_id,
                        "notice_id": r.notice_id, "target_id": r.target_id,
                        "due_at": ts_json(r.due_at), "recorded_at": ts_json(r.recorded_at),
                        "fulfilled_at": ts_json(r.fulfilled_at), "art12_breach": r.art12_breach,
                        "enforcement_ids": r.enforcement_ids,
                    });
                    out.say(&line, value);
                }
                Ok(())
            }
            ComplianceCommand::Enforce(a) => {
                use chrono::Datelike;
                let day = a.decided_on.unwrap_or_else(|| {
                    chrono::Utc::now()
                        .with_timezone(&chrono_tz::Asia::Shanghai)
                        .date_naive()
                });
                let kind = match a.kind {
                    EnforcementKind::Interview => pb::EnforcementKind::Interview,
                    EnforcementKind::Warning => pb::EnforcementKind::Warning,
                    EnforcementKind::Fine => pb::EnforcementKind::Fine,
                };
                let e = a
                    .connect
                    .client()
                    .await?
                    .disposal()
                    .record_enforcement(pb::RecordEnforcementRequest {
                        enforcement: Some(pb::Enforcement {
                            organisation_id: a.unit.clone(),
                            kind: kind as i32,
                            decided_on: Some(pb::Date {
                                year: day.year(),
                                month: day.month() as i32,
                                day: day.day() as i32,
                            }),
                            document_number: a.document_number.clone(),
                            fine_amount_fen: a.fine_fen,
                            description: a.description.clone(),
                            non_compliance_ids: a.records.clone(),
                            legal_basis: a.legal_basis.clone(),
                            ..Default::default()
                        }),
                        resolves_review_item_ids: a.settles.clone(),
                    })
                    .await?
                    .into_inner()
                    .enforcement
                    .context("the server answered without the enforcement")?;
                a.out.say(
                    &format!(
                        "enforcement {} {} against {} on {} ({})",
                        e.id,
                        kind.as_str_name(),
                        e.organisation_id,
                        day,
                        e.legal_basis
                    ),
                    json!({
                        "id": e.id, "kind": kind.as_str_name(), "organisation_id": e.organisation_id,
                        "decided_on": date_json(e.decided_on), "legal_basis": e.legal_basis,
                        "non_compliance_ids": e.non_compliance_ids,
                    }),
                );
                Ok(())
            }
        }
    }
}
