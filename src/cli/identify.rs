//! The institution's job from the command line (Art. 7, 9): the queue of unidentified threats,
//! confirming with a grade (and the measures it recommends), rejecting with a reason, and
//! verifying the results units report on the notices of the threats it identified.

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use fenghuo_client::pb;
use serde_json::json;

use super::ConnectArgs;
use super::decision::{MeasureKind, measure_type, parse_target};
use super::output::{Output, ts_json};

#[derive(Clone, Copy, ValueEnum)]
pub enum Grade {
    ParticularlySerious,
    Serious,
    Major,
    General,
}

#[derive(Subcommand)]
pub enum IdentifyCommand {
    /// Threats waiting for identification, oldest first (IdentificationService.ListUnidentified)
    Queue {
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Confirm a threat with its grade (2009 mechanism Art. 7)
    Confirm {
        threat_id: String,
        #[arg(long, value_enum)]
        grade: Grade,
        /// Why the grade departs from the reported scale's (required when it does)
        #[arg(long, default_value = "")]
        grade_reason: String,
        /// The potential harm as the institution assesses it (notices carry it)
        #[arg(long, default_value = "")]
        potential_harm: String,
        /// A measure to recommend to the regulator
        #[arg(long, value_enum)]
        recommend: Option<MeasureKind>,
        /// KIND:VALUE targets of the recommended measure (repeatable)
        #[arg(long = "target")]
        targets: Vec<String>,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Verify a unit's reported result (Art. 9; DisposalService.VerifyResult): effective, or
    /// not effective with what was seen (the regulator's review queue gets it)
    Verify {
        notice_id: String,
        /// Target ids (repeatable)
        #[arg(long = "target", required = true)]
        targets: Vec<String>,
        #[arg(
            long,
            conflicts_with = "not_effective",
            required_unless_present = "not_effective"
        )]
        effective: bool,
        #[arg(long)]
        not_effective: bool,
        /// What was checked and seen (required for --not-effective)
        #[arg(long, default_value = "")]
        details: String,
        /// When it was checked (RFC 3339; default: when the server receives it)
        #[arg(long, value_parser = super::decision::parse_instant)]
        at: Option<chrono::DateTime<chrono::Utc>>,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Your own timed steps (2009 mechanism Art. 8(3), 9(5)): reports to MIIT, notifying the
    /// units, monthly summaries; oldest first
    Tasks {
        /// Not done yet only
        #[arg(long)]
        open: bool,
        /// Past their due time only
        #[arg(long)]
        overdue: bool,
        /// Of this threat only
        #[arg(long)]
        threat: Option<String>,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Record that a task was done, with what was done (audited; done is final)
    CompleteTask {
        task_id: String,
        /// e.g. the number of the report to MIIT
        #[arg(long)]
        note: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Reject a threat; the submitters and the feed see the reason
    Reject {
        threat_id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

fn grade(g: Grade) -> pb::EventGrade {
    match g {
        Grade::ParticularlySerious => pb::EventGrade::ParticularlySerious,
        Grade::Serious => pb::EventGrade::Serious,
        Grade::Major => pb::EventGrade::Major,
        Grade::General => pb::EventGrade::General,
    }
}

fn identification_out(out: &Output, i: &pb::Identification) {
    let outcome = pb::IdentificationOutcome::try_from(i.outcome)
        .map(|o| o.as_str_name())
        .unwrap_or("?");
    let grade = pb::EventGrade::try_from(i.grade)
        .map(|g| g.as_str_name())
        .unwrap_or("?");
    let threshold = pb::EventGrade::try_from(i.threshold_grade)
        .map(|g| g.as_str_name())
        .unwrap_or("?");
    out.say(
        &format!(
            "threat {} {outcome} grade={grade} (thresholds: {threshold}) identification {}",
            i.threat_id, i.id
        ),
        json!({
            "identification_id": i.id,
            "threat_id": i.threat_id,
            "outcome": outcome,
            "grade": grade,
            "threshold_grade": threshold,
            "grade_reason": i.grade_reason,
        }),
    );
}

impl IdentifyCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            IdentifyCommand::Queue { out, connect } => {
                let threats = connect
                    .client()
                    .await?
                    .identification()
                    .list_unidentified(pb::ListUnidentifiedRequest::default())
                    .await?
                    .into_inner()
                    .threats;
                if threats.is_empty() {
                    out.note("nothing waits for identification");
                }
                for t in threats {
                    let category = pb::ThreatCategory::try_from(t.category)
                        .map(|c| c.as_str_name())
                        .unwrap_or("?");
                    out.say(
                        &format!(
                            "{} {category} {} sightings={}",
                            t.id, t.indicator, t.sighting_count
                        ),
                        json!({
                            "threat_id": t.id,
                            "category": category,
                            "indicator": t.indicator,
                            "sighting_count": t.sighting_count,
                            "first_seen": ts_json(t.first_seen),
                        }),
                    );
                }
                Ok(())
            }
            IdentifyCommand::Confirm {
                threat_id,
                grade: g,
                grade_reason,
                potential_harm,
                recommend,
                targets,
                out,
                connect,
            } => {
                let targets = targets
                    .iter()
                    .map(|t| parse_target(t))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let recommended_measures = match recommend {
                    Some(m) => vec![pb::RecommendedMeasure {
                        measure_type: measure_type(m) as i32,
                        targets,
                        rationale: String::new(),
                    }],
                    None if !targets.is_empty() => {
                        anyhow::bail!("--target goes with --recommend MEASURE")
                    }
                    None => Vec::new(),
                };
                let i = connect
                    .client()
                    .await?
                    .identification()
                    .identify(pb::IdentifyRequest {
                        threat_id,
                        outcome: pb::IdentificationOutcome::Confirmed as i32,
                        grade: grade(g) as i32,
                        grade_reason,
                        potential_harm,
                        recommended_measures,
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .identification
                    .context("the server answered without the identification")?;
                identification_out(&out, &i);
                Ok(())
            }
            IdentifyCommand::Verify {
                notice_id,
                targets,
                effective,
                not_effective: _,
                details,
                at,
                out,
                connect,
            } => {
                let outcome = if effective {
                    pb::VerificationOutcome::Effective
                } else {
                    pb::VerificationOutcome::NotEffective
                };
                let verified = connect
                    .client()
                    .await?
                    .disposal()
                    .verify_result(pb::VerifyResultRequest {
                        notice_id: notice_id.clone(),
                        verifications: targets
                            .iter()
                            .map(|t| pb::TargetVerification {
                                target_id: t.clone(),
                                outcome: outcome as i32,
                                details: details.clone(),
                                checked_at: at.map(super::decision::timestamp),
                            })
                            .collect(),
                    })
                    .await?
                    .into_inner();
                let state = verified
                    .status
                    .as_ref()
                    .and_then(|s| pb::NoticeState::try_from(s.state).ok())
                    .map(|s| s.as_str_name())
                    .unwrap_or("?");
                out.say(
                    &format!(
                        "notice {notice_id}: {} target(s) verified {}; notice now {state}{}",
                        targets.len(),
                        outcome.as_str_name(),
                        if verified.review_item_ids.is_empty() {
                            String::new()
                        } else {
                            format!("; review items {}", verified.review_item_ids.join(", "))
                        }
                    ),
                    json!({
                        "notice_id": notice_id, "outcome": outcome.as_str_name(), "state": state,
                        "review_item_ids": verified.review_item_ids,
                    }),
                );
                Ok(())
            }
            IdentifyCommand::Tasks {
                open,
                overdue,
                threat,
                out,
                connect,
            } => {
                let tasks = connect
                    .client()
                    .await?
                    .identification()
                    .list_institution_tasks(pb::ListInstitutionTasksRequest {
                        threat_id: threat.unwrap_or_default(),
                        open_only: open,
                        overdue_only: overdue,
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .tasks;
                if tasks.is_empty() {
                    out.note("no tasks");
                }
                for t in &tasks {
                    task_out(&out, t);
                }
                Ok(())
            }
            IdentifyCommand::CompleteTask {
                task_id,
                note,
                out,
                connect,
            } => {
                let task = connect
                    .client()
                    .await?
                    .identification()
                    .complete_institution_task(pb::CompleteInstitutionTaskRequest { task_id, note })
                    .await?
                    .into_inner()
                    .task
                    .context("the server answered without the task")?;
                task_out(&out, &task);
                Ok(())
            }
            IdentifyCommand::Reject {
                threat_id,
                reason,
                out,
                connect,
            } => {
                let i = connect
                    .client()
                    .await?
                    .identification()
                    .identify(pb::IdentifyRequest {
                        threat_id,
                        outcome: pb::IdentificationOutcome::Rejected as i32,
                        reason,
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .identification
                    .context("the server answered without the identification")?;
                identification_out(&out, &i);
                Ok(())
            }
        }
    }
}

fn task_out(out: &Output, t: &pb::InstitutionTask) {
    let kind = pb::InstitutionTaskKind::try_from(t.kind)
        .map(|k| k.as_str_name())
        .unwrap_or("?");
    let due = ts_json(t.due_at);
    let what = if t.month.is_empty() {
        format!("threat {}", t.threat_id)
    } else {
        format!("month {}", t.month)
    };
    out.say(
        &format!(
            "{} {kind} {what} due {}{}{}",
            t.id,
            due.as_str().unwrap_or("(waiting for the calendar)"),
            if t.overdue { " OVERDUE" } else { "" },
            if t.done_at.is_some() {
                format!(" done by {}: {}", t.done_by, t.done_note)
            } else {
                String::new()
            }
        ),
        json!({
            "id": t.id, "kind": kind, "institution": t.institution_organisation_id,
            "threat_id": t.threat_id, "month": t.month, "deadline_key": t.deadline_key,
            "created_at": ts_json(t.created_at), "due_at": due, "overdue": t.overdue,
            "done_at": ts_json(t.done_at), "done_by": t.done_by, "done_note": t.done_note,
        }),
    );
}
