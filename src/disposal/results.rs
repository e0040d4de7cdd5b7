//! Results (Art. 9; 2009 mechanism Art. 9(2)): the addressee reports, per target, that the
//! measure was taken or why not. A target not disposed waits in the regulator's review
//! queue (Art. 9, 12); the institution's verification falls due (2009 mechanism Art. 9(3)).

use chrono::{DateTime, Utc};
use prost::Message;

use super::{Disposals, Fault, NoticeProgress, Refused, operation_error};
use crate::auth::Caller;
use crate::compliance::timers::{MISSING_RESULT, VERIFICATION_TIMER};
use crate::domain::clock::to_micros;
use crate::domain::notice::DisposalLimits;
use crate::domain::notice::lifecycle::NoticeEvent;
use crate::pb;
use crate::store::notices::{self, NoticeRow, ReviewRow};
use crate::store::{Tx, timers};

/// What the addressee did about one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Disposed,
    /// Not taken; the reason is required (2009 mechanism Art. 9(2)).
    NotDisposed,
}

/// The result for one target.
#[derive(Debug, Clone)]
pub struct TargetResult {
    pub target_id: String,
    pub outcome: Outcome,
    pub reason: String,
    /// When the measure was taken; a disposed target without it was disposed now.
    pub disposed_at: Option<DateTime<Utc>>,
    pub details: String,
}

/// An addressee's report of results on one notice.
#[derive(Debug, Clone)]
pub struct ReportResults {
    pub notice_id: String,
    /// Distinct targets, each with its reason when not disposed (checked by the edge).
    pub results: Vec<TargetResult>,
    pub contact_person: String,
}

/// Why a report is refused: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Absent, or addressed to someone else.
    #[error("no notice {notice_id} addressed to the caller")]
    NoticeNotFound { notice_id: String },
    #[error("lies in the future")]
    DisposedInFuture { index: usize },
    /// The lifecycle refuses: not a disposal notice, receipt first, not a target, revoked.
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Fault(Fault),
}

operation_error!(ReportError);

impl Disposals {
    /// Records the results, settles the missed-result duties of the targets reported,
    /// queues a target not disposed for review (settling its item once disposed), and
    /// schedules the institution's verification.
    ///
    /// # Errors
    /// [`ReportError`].
    pub async fn report(
        &self,
        caller: &Caller,
        command: ReportResults,
    ) -> Result<NoticeProgress, ReportError> {
        let ReportResults {
            notice_id: id,
            results,
            contact_person,
        } = command;
        let now = self.clock.now();
        let mut stored = Vec::with_capacity(results.len());
        for (index, r) in results.into_iter().enumerate() {
            let disposed_at = match (r.disposed_at, r.outcome) {
                (Some(at), _) if at > now => return Err(ReportError::DisposedInFuture { index }),
                (Some(at), _) => Some(at),
                (None, Outcome::Disposed) => Some(now),
                (None, Outcome::NotDisposed) => None,
            };
            stored.push(pb::TargetResult {
                target_id: r.target_id,
                outcome: match r.outcome {
                    Outcome::Disposed => pb::DisposalOutcome::Disposed,
                    Outcome::NotDisposed => pb::DisposalOutcome::NotDisposed,
                } as i32,
                reason: r.reason,
                disposed_at: disposed_at.map(|t| crate::pb::timestamp(to_micros(t))),
                details: r.details,
            });
        }
        let mut tx = self.store.begin().await?;
        let (row, targets) = self.lock_own(&mut tx, caller, &id).await?.ok_or_else(|| {
            ReportError::NoticeNotFound {
                notice_id: id.clone(),
            }
        })?;
        let mut facts = super::facts(&row, &targets);
        let mut reached = facts.state();
        // The lifecycle's first refusal is the answer, before anything is computed.
        for (index, r) in stored.iter().enumerate() {
            reached = facts
                .transition(NoticeEvent::ReportResult {
                    target_id: &r.target_id,
                })
                .map_err(|by| Refused::new(&id, Some(index), by))?;
        }
        let body = super::body(&row)?;
        let limits = DisposalLimits::from_policy(
            &self.policy,
            &row.province,
            i64::from(body.grade),
            body.emergency,
        );
        let verification_at = super::due(&mut tx, "verification", now, limits.verification)
            .await
            .ok();
        let verification_due = verification_at.map(to_micros);
        let at = to_micros(now);
        let mut review_ids = Vec::new();
        for r in &stored {
            notices::set_result(
                &mut tx,
                &id,
                &r.target_id,
                &r.encode_to_vec(),
                i64::from(r.outcome),
                at,
                // A measure not taken has nothing to verify.
                verification_due.filter(|_| r.outcome == pb::DisposalOutcome::Disposed as i32),
            )
            .await?;
            notices::fulfil_non_compliance(&mut tx, MISSING_RESULT, &id, &r.target_id, at).await?;
            if let Some(review) = self
                .review_not_disposed(&mut tx, &row, &body, r, now)
                .await?
            {
                review_ids.push(review);
            }
        }
        // 2009 mechanism Art. 9(3): the institution verifies by verification_due; a timer
        // records it if not (the institution's KPI).
        if let Some(due) = verification_at {
            timers::schedule(
                &mut tx,
                due,
                VERIFICATION_TIMER,
                &id,
                serde_json::Value::Null,
            )
            .await?;
        }
        self.audit(
            &mut tx,
            caller,
            now,
            "disposal.report_result",
            &format!("notice:{id}"),
            serde_json::json!({
                "results": stored.iter().map(|r| serde_json::json!({
                    "target_id": r.target_id, "outcome": r.outcome, "reason": r.reason,
                })).collect::<Vec<_>>(),
                "contact_person": contact_person,
                "deadline": row.deadline,
                "late": row.deadline.is_some_and(|d| at >= d),
                "review_items": review_ids,
            }),
        )
        .await?;
        let progress = self.settle(&mut tx, &id, reached).await?;
        tx.commit().await?;
        Ok(progress)
    }

    /// Art. 9, 12: a target reported NOT_DISPOSED waits in the review queue for the
    /// regulator (one open item per target, showing the latest such report); a later
    /// DISPOSED report settles it. Returns the id of an item opened.
    async fn review_not_disposed(
        &self,
        tx: &mut Tx,
        row: &NoticeRow,
        body: &pb::NoticeBody,
        result: &pb::TargetResult,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, Fault> {
        let open = notices::open_review_of_target(
            tx,
            &row.id,
            &result.target_id,
            notices::REVIEW_NOT_DISPOSED,
        )
        .await?;
        if result.outcome != pb::DisposalOutcome::NotDisposed as i32 {
            if let Some(open) = open {
                notices::settle_review(tx, &open.id, to_micros(now), "result:disposed").await?;
            }
            return Ok(None);
        }
        let item = pb::ReviewQueueItem {
            id: open
                .as_ref()
                .map_or_else(|| uuid::Uuid::now_v7().to_string(), |o| o.id.clone()),
            notice_id: row.id.clone(),
            threat_id: row.threat_id.clone(),
            addressee_organisation_id: row.addressee.clone().unwrap_or_default(),
            target: body
                .targets
                .iter()
                .find(|x| x.target_id == result.target_id)
                .cloned(),
            queued_at: Some(crate::pb::timestamp(
                open.as_ref().map_or(to_micros(now), |o| o.queued_at),
            )),
            reason: pb::ReviewReason::NotDisposed as i32,
            result: Some(result.clone()),
            ..Default::default()
        };
        if let Some(open) = open {
            notices::set_review_body(tx, &open.id, &item.encode_to_vec()).await?;
            return Ok(None);
        }
        notices::insert_review(
            tx,
            &ReviewRow {
                id: item.id.clone(),
                notice_id: row.id.clone(),
                target_id: result.target_id.clone(),
                threat_id: row.threat_id.clone(),
                addressee: item.addressee_organisation_id.clone(),
                province: row.province.clone(),
                verifier: String::new(),
                body: item.encode_to_vec(),
                queued_at: to_micros(now),
                settled_at: None,
                settled_by: None,
                reason: notices::REVIEW_NOT_DISPOSED,
            },
        )
        .await?;
        Ok(Some(item.id))
    }
}
