//! The institution's job from the command line (Art. 7): the queue of unidentified threats,
//! confirming with a grade (and the measures it recommends), rejecting with a reason.

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
