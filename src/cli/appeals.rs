//! Appeals from the command line (Art. 10): the measures on a resource and their windows,
//! filing and withdrawing, the regulator's answer, following an appeal, listing appeals.

use anyhow::Context;
use clap::{Args, Subcommand};
use fenghuo_client::pb;
use serde_json::json;
use tokio_stream::StreamExt;

use super::ConnectArgs;
use super::decision::{MeasureKind, measure_type, parse_target};
use super::output::{Output, date_json, ts_json};

#[derive(Subcommand)]
pub enum AppealCommand {
    /// The measures on a resource (KIND:VALUE, e.g. ip:58.60.1.0/24), with their appeal windows
    Measures {
        resource: String,
        /// Include revoked and lifted measures
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// File an appeal against a target of an Art. 8(1) notice: as the holder of the resource,
    /// or (the addressee) for a customer with its mandate
    File(FileArgs),
    /// Withdraw your open appeal
    Withdraw {
        appeal_id: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Answer an appeal (the deciding regulator): upheld, revoked, or modified with a replacement
    Answer(AnswerArgs),
    /// Follow an appeal's events (filed, reminders, overdue, answered, lifted)
    Watch {
        appeal_id: String,
        /// Resume after this event cursor
        #[arg(long)]
        cursor: Option<String>,
        /// Stop after this many events
        #[arg(long)]
        exit_after: Option<usize>,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Appeals you filed or must answer, newest first
    List {
        /// Open ones only (same as --state open)
        #[arg(long)]
        open: bool,
        /// Only these states (repeatable)
        #[arg(long = "state", value_enum)]
        states: Vec<StateArg>,
        /// Past their answer date only
        #[arg(long)]
        overdue: bool,
        /// Open appeals whose answer is due within N working days ("5wd", 1 to 30), by the
        /// server's official calendar; overdue ones included
        #[arg(long, value_parser = parse_due_within)]
        due_within: Option<u32>,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum StateArg {
    Open,
    Withdrawn,
    Answered,
}

/// "5wd": a number of working days, 1 to 30 (an answer is due 30 working days after filing).
fn parse_due_within(raw: &str) -> Result<u32, String> {
    match raw.strip_suffix("wd").map(str::parse::<u32>) {
        Some(Ok(n @ 1..=30)) => Ok(n),
        _ => Err(format!(
            "{raw:?}: write working days as \"5wd\", 1 to 30 (an answer is due 30 working days after filing, Art. 10)"
        )),
    }
}

#[derive(Args)]
pub struct FileArgs {
    notice_id: String,
    #[arg(long)]
    target: String,
    /// Why the measure is wrong
    #[arg(long)]
    grounds: String,
    /// As the holder: who receives the answer
    #[arg(long, default_value = "")]
    contact: String,
    /// For a customer (the addressee only): the customer's name …
    #[arg(long, requires_all = ["customer_id", "customer_contact", "mandate_sha256"])]
    customer_name: Option<String>,
    /// … identity number or unified social credit code …
    #[arg(long)]
    customer_id: Option<String>,
    /// … and contact
    #[arg(long)]
    customer_contact: Option<String>,
    /// SHA-256 (hex) of the customer's signed mandate document
    #[arg(long)]
    mandate_sha256: Option<String>,
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Args)]
pub struct AnswerArgs {
    appeal_id: String,
    #[arg(long, conflicts_with_all = ["revoked", "modified"])]
    upheld: bool,
    #[arg(long, conflicts_with = "modified")]
    revoked: bool,
    /// Revoke and replace with one new measure (--measure, --replace-target)
    #[arg(long)]
    modified: bool,
    #[arg(long)]
    reasons: String,
    #[arg(long, value_enum, default_value = "block")]
    measure: MeasureKind,
    /// KIND:VALUE targets of the replacement measure (repeatable)
    #[arg(long = "replace-target")]
    replace_targets: Vec<String>,
    #[command(flatten)]
    out: Output,
    #[command(flatten)]
    connect: ConnectArgs,
}

fn name<E: TryFrom<i32>>(v: i32, f: impl Fn(&E) -> &'static str) -> &'static str {
    E::try_from(v).map(|e| f(&e)).unwrap_or("?")
}

fn appeal_out(out: &Output, a: &pb::Appeal) {
    let state = name(a.state, pb::AppealState::as_str_name);
    let decision = a
        .answer
        .as_ref()
        .map(|x| name(x.decision, pb::AppealDecision::as_str_name))
        .unwrap_or("");
    let target = a
        .target
        .as_ref()
        .map(|t| t.target_id.clone())
        .unwrap_or_default();
    out.say(
        &format!(
            "appeal {} {state}{}{} notice={} target={target} to {} filed {} window closes {} answer due {}",
            a.id,
            if decision.is_empty() { "" } else { " " },
            decision,
            a.notice_id,
            a.deciding_regulator_organisation_id,
            date_json(a.filed_on).as_str().unwrap_or("?"),
            date_json(a.window_closes_on).as_str().unwrap_or("?"),
            date_json(a.answer_due_on).as_str().unwrap_or("not yet known"),
        ),
        json!({
            "appeal_id": a.id,
            "state": state,
            "decision": decision,
            "notice_id": a.notice_id,
            "target_id": target,
            "deciding_regulator": a.deciding_regulator_organisation_id,
            "filer": a.filer_organisation_id,
            "filed_on": date_json(a.filed_on),
            "window_closes_on": date_json(a.window_closes_on),
            "answer_due_on": date_json(a.answer_due_on),
            "overdue": a.overdue,
        }),
    );
}

impl AppealCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            AppealCommand::Measures {
                resource,
                all,
                out,
                connect,
            } => {
                let measures = connect
                    .client()
                    .await?
                    .appeals()
                    .list_measures_against(pb::ListMeasuresAgainstRequest {
                        resource: Some(parse_target(&resource)?),
                        include_inactive: all,
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .measures;
                if measures.is_empty() {
                    out.note("no measures on this resource");
                }
                for m in measures {
                    let target = m.target.clone().unwrap_or_default();
                    let value = target.target.map(|t| t.value).unwrap_or_default();
                    let standing = name(m.standing, pb::MeasureStanding::as_str_name);
                    let closes = date_json(m.appeal_window_closes_on);
                    out.say(
                        &format!(
                            "notice {} target {}={value} {standing} by {}{}",
                            m.notice_id,
                            target.target_id,
                            m.issuer_organisation_id,
                            if m.appealable {
                                format!(
                                    "; appeal by {}{}",
                                    closes.as_str().unwrap_or("?"),
                                    if m.appeal_window_provisional {
                                        " (provisional)"
                                    } else {
                                        ""
                                    }
                                )
                            } else {
                                "; not appealable (Art. 10: only 8(1) measures)".into()
                            }
                        ),
                        json!({
                            "notice_id": m.notice_id, "target_id": target.target_id, "value": value,
                            "standing": standing, "issuer": m.issuer_organisation_id,
                            "appealable": m.appealable, "appeal_window_closes_on": closes,
                            "provisional": m.appeal_window_provisional,
                            "open_appeal_id": m.open_appeal_id,
                            "issued_at": ts_json(m.issued_at),
                        }),
                    );
                }
                Ok(())
            }
            AppealCommand::File(a) => {
                let (appellant, mandate) = match &a.customer_name {
                    Some(customer) => (
                        pb::file_appeal_request::Appellant::Customer(pb::AppellantIdentity {
                            name: customer.clone(),
                            identity_number: a.customer_id.clone().unwrap_or_default(),
                            contact: a.customer_contact.clone().unwrap_or_default(),
                        }),
                        Some(pb::CustomerMandate {
                            document_sha256: a.mandate_sha256.clone().unwrap_or_default(),
                            customer_contact: a.customer_contact.clone().unwrap_or_default(),
                        }),
                    ),
                    None => (
                        pb::file_appeal_request::Appellant::AffectedParty(
                            pb::AffectedPartyFiling {
                                contact: a.contact.clone(),
                            },
                        ),
                        None,
                    ),
                };
                let appeal = a
                    .connect
                    .client()
                    .await?
                    .appeals()
                    .file_appeal(pb::FileAppealRequest {
                        notice_id: a.notice_id.clone(),
                        target_id: a.target.clone(),
                        grounds: a.grounds.clone(),
                        evidence: Vec::new(),
                        appellant: Some(appellant),
                        mandate,
                    })
                    .await?
                    .into_inner()
                    .appeal
                    .context("the server answered without the appeal")?;
                appeal_out(&a.out, &appeal);
                Ok(())
            }
            AppealCommand::Withdraw {
                appeal_id,
                reason,
                out,
                connect,
            } => {
                let appeal = connect
                    .client()
                    .await?
                    .appeals()
                    .withdraw_appeal(pb::WithdrawAppealRequest { appeal_id, reason })
                    .await?
                    .into_inner()
                    .appeal
                    .context("the server answered without the appeal")?;
                appeal_out(&out, &appeal);
                Ok(())
            }
            AppealCommand::Answer(a) => {
                let decision = match (a.upheld, a.revoked, a.modified) {
                    (true, _, _) => pb::AppealDecision::Upheld,
                    (_, true, _) => pb::AppealDecision::Revoked,
                    (_, _, true) => pb::AppealDecision::Modified,
                    _ => anyhow::bail!("say the decision: --upheld, --revoked or --modified"),
                };
                let replacement_measures = if a.modified {
                    vec![pb::DecisionMeasure {
                        measure_type: measure_type(a.measure) as i32,
                        targets: a
                            .replace_targets
                            .iter()
                            .map(|t| parse_target(t))
                            .collect::<anyhow::Result<Vec<_>>>()?,
                        ..Default::default()
                    }]
                } else {
                    Vec::new()
                };
                let answered = a
                    .connect
                    .client()
                    .await?
                    .appeals()
                    .answer_appeal(pb::AnswerAppealRequest {
                        appeal_id: a.appeal_id.clone(),
                        decision: decision as i32,
                        reasons: a.reasons.clone(),
                        lift_time_limit: None,
                        replacement_measures,
                    })
                    .await?
                    .into_inner();
                let appeal = answered
                    .appeal
                    .context("the server answered without the appeal")?;
                appeal_out(&a.out, &appeal);
                Ok(())
            }
            AppealCommand::Watch {
                appeal_id,
                cursor,
                exit_after,
                out,
                connect,
            } => {
                let mut events = connect
                    .client()
                    .await?
                    .appeals()
                    .watch_appeal(pb::WatchAppealRequest {
                        appeal_id,
                        cursor: cursor.unwrap_or_default(),
                    })
                    .await?
                    .into_inner();
                let mut n = 0;
                while let Some(event) = events.next().await {
                    let e = event?;
                    let kind = name(e.kind, pb::AppealEventKind::as_str_name);
                    out.say(
                        &format!(
                            "{} {} {kind} at {}",
                            e.cursor,
                            e.appeal_id,
                            ts_json(e.occurred_at).as_str().unwrap_or("?")
                        ),
                        json!({
                            "cursor": e.cursor, "appeal_id": e.appeal_id, "kind": kind,
                            "occurred_at": ts_json(e.occurred_at),
                        }),
                    );
                    n += 1;
                    if exit_after.is_some_and(|x| n >= x) {
                        break;
                    }
                }
                Ok(())
            }
            AppealCommand::List {
                open,
                states,
                overdue,
                due_within,
                out,
                connect,
            } => {
                let mut states: Vec<i32> = states
                    .iter()
                    .map(|s| match s {
                        StateArg::Open => pb::AppealState::Open,
                        StateArg::Withdrawn => pb::AppealState::Withdrawn,
                        StateArg::Answered => pb::AppealState::Answered,
                    } as i32)
                    .collect();
                if open && !states.contains(&(pb::AppealState::Open as i32)) {
                    states.push(pb::AppealState::Open as i32);
                }
                let appeals = connect
                    .client()
                    .await?
                    .appeals()
                    .list_appeals(pb::ListAppealsRequest {
                        states,
                        overdue_only: overdue,
                        answer_due_within_working_days: due_within.unwrap_or(0),
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .appeals;
                if appeals.is_empty() {
                    out.note("no appeals");
                }
                for a in &appeals {
                    appeal_out(&out, a);
                }
                Ok(())
            }
        }
    }
}
