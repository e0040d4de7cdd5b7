//! Identification (Art. 7 of the 2017 Measures): a professional institution confirms or
//! rejects a threat, grades a confirmed one (2009 mechanism Art. 7) and recommends Art. 8
//! measures. A confirmation also gives the institution its own tasks with timers
//! ([`tasks`], 2009 mechanism Art. 8(3), 9(5)).
//!
//! The rules live here, callable without gRPC: the tonic edge (`api::identification`) and
//! the console parse their input into an [`IdentifyThreat`] and map [`IdentifyError`] to
//! their own answers.

pub mod tasks;

use chrono::{DateTime, Utc};
use prost::Message;

use crate::auth::Caller;
use crate::domain::clock::{SharedClock, from_micros, to_micros};
use crate::domain::grading::{EventGrade, GradeThresholds};
use crate::domain::measure::Measure;
use crate::domain::policy::DeadlinePolicy;
use crate::domain::threat::{AlreadyIdentified, Identification, ThreatStatus};
use crate::pb;
use crate::store::identifications::{self as ids, IdentificationRow, NewIdentification};
use crate::store::{Store, Tx, audit, threats};

/// What an institution decides on a threat (Art. 7).
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A threat, graded, with the measures the institution recommends (possibly none).
    Confirmed {
        grade: EventGrade,
        /// Why the grade differs from the one the reported scale gives; empty if it does not.
        grade_reason: String,
        /// The harm assessed for the notices (2009 mechanism Art. 8(3)).
        potential_harm: String,
        measures: Vec<RecommendedMeasure>,
    },
    /// Not a threat; the command's `reason` says why.
    Rejected,
}

/// An Art. 8 measure the institution recommends, with why.
#[derive(Debug, Clone)]
pub struct RecommendedMeasure {
    pub measure: Measure,
    pub rationale: String,
}

/// An institution's identification of one threat.
#[derive(Debug, Clone)]
pub struct IdentifyThreat {
    pub threat_id: String,
    pub verdict: Verdict,
    /// Required for a rejection: the submitters and the feed see it.
    pub reason: String,
    /// SHA-256 of the request as received: the same request again is answered with the
    /// identification it made, any other is refused.
    pub request_sha256: String,
}

/// Why an identification is refused: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum IdentifyError {
    #[error("threat {threat_id} does not exist")]
    ThreatNotFound { threat_id: String },
    /// Identified once already, by another request (Art. 7: one identification per threat).
    #[error("identified by {institution} at {}: {state}", at.to_rfc3339())]
    AlreadyIdentified {
        threat_id: String,
        institution: String,
        at: DateTime<Utc>,
        state: AlreadyIdentified,
    },
    /// The threat's status says identified but its identification is not there to show.
    #[error("{state}")]
    AlreadyIdentifiedUnrecorded {
        threat_id: String,
        state: AlreadyIdentified,
    },
    /// 2009 mechanism Art. 7: the reported scale sets the grade unless the institution says why.
    #[error(
        "the sightings report {bots} bots, which the thresholds grade {} (2009 mechanism Art. 7); grading it {} needs a grade_reason",
        by_thresholds.as_str(),
        given.as_str()
    )]
    GradeNeedsReason {
        bots: u64,
        by_thresholds: EventGrade,
        given: EventGrade,
    },
    #[error("threat {threat_id} has the unknown stored status {status}")]
    UnknownStatus { threat_id: String, status: i64 },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("institution tasks: {0:#}")]
    Tasks(anyhow::Error),
}

/// The outcome of [`Identifications::identify`]: the stored identification, and whether this
/// request had made it already.
#[derive(Debug)]
pub struct Identified {
    pub row: IdentificationRow,
    pub replayed: bool,
}

/// The identification workflow and what it needs.
pub struct Identifications {
    pub store: Store,
    pub clock: SharedClock,
    /// Scale thresholds of the event grades (2009 mechanism Art. 7).
    pub grading: GradeThresholds,
    /// The feed's wake-up: an identification is a feed event.
    pub feed: crate::delivery::NoticeSignal,
    /// Limits of the institution's own tasks (2009 mechanism Art. 8(3), 9(5)).
    pub policy: std::sync::Arc<DeadlinePolicy>,
}

impl Identifications {
    /// Records `command` for `caller`'s institution, with the status change, the institution's
    /// tasks and the audit record in one transaction, and wakes the feed.
    ///
    /// # Errors
    /// [`IdentifyError`]: the threat is unknown or identified already, or a grade departs
    /// from the thresholds without a reason.
    pub async fn identify(
        &self,
        caller: &Caller,
        command: IdentifyThreat,
    ) -> Result<Identified, IdentifyError> {
        let IdentifyThreat {
            threat_id,
            verdict,
            reason,
            request_sha256,
        } = command;
        let event = match verdict {
            Verdict::Confirmed { .. } => Identification::Confirm,
            Verdict::Rejected => Identification::Reject,
        };
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some((status, category)) = ids::lock_threat(&self.store, &mut tx, &threat_id).await?
        else {
            return Err(IdentifyError::ThreatNotFound { threat_id });
        };
        let current =
            ThreatStatus::from_i64(status).ok_or_else(|| IdentifyError::UnknownStatus {
                threat_id: threat_id.clone(),
                status,
            })?;
        let next = match current.transition(event) {
            Ok(next) => next,
            Err(state) => {
                drop(tx);
                return self.replay(threat_id, &request_sha256, state).await;
            }
        };
        let scale = self.reported_scale(&mut tx, &threat_id).await?;
        if let Verdict::Confirmed {
            grade,
            grade_reason,
            ..
        } = &verdict
            && let Some((by_thresholds, bots)) = scale
            && by_thresholds != *grade
            && grade_reason.is_empty()
        {
            return Err(IdentifyError::GradeNeedsReason {
                bots,
                by_thresholds,
                given: *grade,
            });
        }
        let (reported_bot_count, threshold_grade) = match scale {
            Some((g, bots)) => (bots, g.as_i32()),
            None => (0, 0),
        };
        let (outcome, grade, grade_reason, potential_harm, measures) = match verdict {
            Verdict::Confirmed {
                grade,
                grade_reason,
                potential_harm,
                measures,
            } => (
                pb::IdentificationOutcome::Confirmed,
                grade.as_i32(),
                grade_reason,
                potential_harm,
                measures,
            ),
            Verdict::Rejected => (
                pb::IdentificationOutcome::Rejected,
                0,
                String::new(),
                String::new(),
                Vec::new(),
            ),
        };
        // The stored body is the contract's message, so a replay answers exactly as the first.
        let identification = pb::Identification {
            reported_bot_count,
            threshold_grade,
            grade_reason: grade_reason.clone(),
            potential_harm: potential_harm.clone(),
            id: uuid::Uuid::now_v7().to_string(),
            threat_id: threat_id.clone(),
            outcome: outcome as i32,
            grade,
            reason: reason.clone(),
            recommended_measures: measures.iter().map(recommended).collect(),
            institution_organisation_id: caller.organisation_id.clone(),
            officer_name: caller.officer.clone().unwrap_or_default(),
            identified_at: Some(pb::timestamp(to_micros(now))),
        };
        let row = IdentificationRow {
            id: identification.id.clone(),
            threat_id: threat_id.clone(),
            outcome: outcome as i64,
            institution: caller.organisation_id.clone(),
            identified_at: to_micros(now),
            request_sha256,
            body: identification.encode_to_vec(),
        };
        let summary = serde_json::json!({
            "identification_id": row.id,
            "outcome": outcome as i32,
            "grade": grade,
            "institution": row.institution,
            "identified_at": row.identified_at,
            "reason": reason,
            "threshold_grade": threshold_grade,
            "grade_reason": grade_reason,
            "potential_harm": potential_harm,
        });
        ids::record(
            &mut tx,
            NewIdentification {
                dialect: self.store.dialect(),
                row: &row,
                status: next as i64,
                grade: i64::from(grade),
                category,
                summary_json: summary.to_string(),
            },
        )
        .await?;
        if event == Identification::Confirm {
            tasks::create_for_confirmation(
                &mut tx,
                &self.policy,
                &caller.organisation_id,
                &threat_id,
                i64::from(grade),
                now,
            )
            .await
            .map_err(IdentifyError::Tasks)?;
        }
        audit::append(
            &mut tx,
            self.store.dialect(),
            now,
            &caller.actor(),
            "identification.identify",
            &format!("threat:{threat_id}"),
            summary,
        )
        .await?;
        tx.commit().await?;
        self.feed.wake_all();
        Ok(Identified {
            row,
            replayed: false,
        })
    }

    /// A threat identified already: the same request gets its identification again.
    async fn replay(
        &self,
        threat_id: String,
        request_sha256: &str,
        state: AlreadyIdentified,
    ) -> Result<Identified, IdentifyError> {
        match ids::by_threat(&self.store, &threat_id).await? {
            Some(row) if row.request_sha256 == request_sha256 => Ok(Identified {
                row,
                replayed: true,
            }),
            Some(row) => Err(IdentifyError::AlreadyIdentified {
                threat_id,
                institution: row.institution,
                at: from_micros(row.identified_at),
                state,
            }),
            None => Err(IdentifyError::AlreadyIdentifiedUnrecorded { threat_id, state }),
        }
    }

    /// The largest scale the threat's sightings report and the grade it is given, read in `tx`.
    async fn reported_scale(
        &self,
        tx: &mut Tx,
        threat_id: &str,
    ) -> Result<Option<(EventGrade, u64)>, sqlx::Error> {
        let reports = threats::reports_of(tx, threat_id).await?;
        let bots = reports.iter().filter_map(|(_, r)| {
            match pb::ThreatReport::decode(r.as_slice()).ok()?.category? {
                pb::threat_report::Category::MaliciousResource(m) => {
                    m.control_server.map(|c| c.bot_count)
                }
                _ => None,
            }
        });
        Ok(self.grading.grade_of_reports(bots))
    }
}

/// A recommended measure as the contract carries it.
pub fn recommended(m: &RecommendedMeasure) -> pb::RecommendedMeasure {
    pb::RecommendedMeasure {
        measure_type: m.measure.measure_type() as i32,
        targets: measure_targets(&m.measure),
        rationale: m.rationale.clone(),
    }
}

/// A measure's targets as the contract carries them.
pub fn measure_targets(m: &Measure) -> Vec<pb::MeasureTarget> {
    m.targets()
        .iter()
        .map(|t| pb::MeasureTarget {
            kind: t.kind() as i32,
            value: t.value().to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
