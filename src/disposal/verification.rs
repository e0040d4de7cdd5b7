//! Verification (Art. 9): the institution that identified the threat checks each reported
//! result; a measure found not effective goes to the regulator's review queue.

use chrono::{DateTime, Utc};
use prost::Message;

use super::{Disposals, Fault, NoticeProgress, Refused, operation_error};
use crate::auth::Caller;
use crate::compliance::timers::MISSING_VERIFICATION;
use crate::domain::clock::to_micros;
use crate::domain::notice::lifecycle::NoticeEvent;
use crate::pb;
use crate::store::identifications;
use crate::store::notices::{self, ReviewRow};

/// What the institution found of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    Effective,
    /// Not effective; the details say what was checked and seen.
    NotEffective,
}

/// The check of one target's result.
#[derive(Debug, Clone)]
pub struct TargetCheck {
    pub target_id: String,
    pub finding: Finding,
    pub details: String,
    /// When it was checked; now if not given.
    pub checked_at: Option<DateTime<Utc>>,
}

/// An institution's verification of results on one notice.
#[derive(Debug, Clone)]
pub struct VerifyResults {
    pub notice_id: String,
    /// Distinct targets (checked by the edge).
    pub checks: Vec<TargetCheck>,
}

/// Why a verification is refused: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("notice {notice_id} does not exist")]
    NoticeNotFound { notice_id: String },
    /// Art. 9: the institution that identified the threat verifies its disposal.
    #[error(
        "Art. 9: the institution that identified threat {threat_id} ({institution}) verifies its disposal, not {caller}"
    )]
    NotTheIdentifier {
        threat_id: String,
        institution: String,
        caller: String,
    },
    #[error("lies in the future")]
    CheckedInFuture { index: usize },
    /// The lifecycle refuses: not a target, no result to verify.
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Fault(Fault),
}

operation_error!(VerifyError);

/// A verification recorded: the notice, and the review items opened for measures not
/// effective.
#[derive(Debug)]
pub struct Verified {
    pub progress: NoticeProgress,
    pub review_item_ids: Vec<String>,
}

impl Disposals {
    /// Records the checks, settles the missed-verification duties, and queues each measure
    /// not effective for the regulator.
    ///
    /// # Errors
    /// [`VerifyError`].
    pub async fn verify(
        &self,
        caller: &Caller,
        command: VerifyResults,
    ) -> Result<Verified, VerifyError> {
        let id = command.notice_id;
        let now = self.clock.now();
        let mut checks = Vec::with_capacity(command.checks.len());
        for (index, c) in command.checks.into_iter().enumerate() {
            let checked_at = match c.checked_at {
                Some(at) if at > now => return Err(VerifyError::CheckedInFuture { index }),
                Some(at) => at,
                None => now,
            };
            checks.push(pb::TargetVerification {
                target_id: c.target_id,
                outcome: match c.finding {
                    Finding::Effective => pb::VerificationOutcome::Effective,
                    Finding::NotEffective => pb::VerificationOutcome::NotEffective,
                } as i32,
                details: c.details,
                checked_at: Some(pb::timestamp(to_micros(checked_at))),
            });
        }
        let mut tx = self.store.begin().await?;
        let (row, targets) =
            self.lock(&mut tx, &id)
                .await?
                .ok_or_else(|| VerifyError::NoticeNotFound {
                    notice_id: id.clone(),
                })?;
        let identification = identifications::by_threat(&self.store, &row.threat_id)
            .await?
            .ok_or_else(|| Fault::Corrupt(format!("notice {id} without an identification")))?;
        if identification.institution != caller.organisation_id {
            return Err(VerifyError::NotTheIdentifier {
                threat_id: row.threat_id.clone(),
                institution: identification.institution,
                caller: caller.organisation_id.clone(),
            });
        }
        let mut facts = super::facts(&row, &targets);
        let mut reached = facts.state();
        for (index, v) in checks.iter().enumerate() {
            reached = facts
                .transition(NoticeEvent::Verify {
                    target_id: &v.target_id,
                })
                .map_err(|by| Refused::new(&id, Some(index), by))?;
        }
        let body = super::body(&row)?;
        let at = to_micros(now);
        let mut review_ids = Vec::new();
        for v in &checks {
            notices::set_verification(&mut tx, &id, &v.target_id, &v.encode_to_vec(), at).await?;
            notices::fulfil_non_compliance(&mut tx, MISSING_VERIFICATION, &id, &v.target_id, at)
                .await?;
            if v.outcome != pb::VerificationOutcome::NotEffective as i32 {
                continue;
            }
            let item = pb::ReviewQueueItem {
                id: uuid::Uuid::now_v7().to_string(),
                notice_id: id.clone(),
                threat_id: row.threat_id.clone(),
                addressee_organisation_id: row.addressee.clone().unwrap_or_default(),
                target: body
                    .targets
                    .iter()
                    .find(|x| x.target_id == v.target_id)
                    .cloned(),
                verification: Some(v.clone()),
                verifier_organisation_id: caller.organisation_id.clone(),
                queued_at: Some(pb::timestamp(at)),
                reason: pb::ReviewReason::VerificationNotEffective as i32,
                result: None,
            };
            notices::insert_review(
                &mut tx,
                &ReviewRow {
                    id: item.id.clone(),
                    notice_id: id.clone(),
                    target_id: v.target_id.clone(),
                    threat_id: row.threat_id.clone(),
                    addressee: item.addressee_organisation_id.clone(),
                    province: row.province.clone(),
                    verifier: caller.organisation_id.clone(),
                    body: item.encode_to_vec(),
                    queued_at: at,
                    settled_at: None,
                    settled_by: None,
                    reason: notices::REVIEW_NOT_EFFECTIVE,
                },
            )
            .await?;
            review_ids.push(item.id);
        }
        self.audit(
            &mut tx,
            caller,
            now,
            "disposal.verify_result",
            &format!("notice:{id}"),
            serde_json::json!({
                "verifications": checks.iter().map(|v| serde_json::json!({
                    "target_id": v.target_id, "outcome": v.outcome, "details": v.details,
                })).collect::<Vec<_>>(),
                "review_items": review_ids,
            }),
        )
        .await?;
        let progress = self.settle(&mut tx, &id, reached).await?;
        tx.commit().await?;
        Ok(Verified {
            progress,
            review_item_ids: review_ids,
        })
    }
}
