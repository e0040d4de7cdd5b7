//! Issuing a decision (Art. 8): on a threat a professional institution has confirmed, a
//! regulator orders measures inside its jurisdiction. Every target is routed (Art. 9), and one
//! signed notice per (measure, addressee) is stored with the Art. 8(3) and Art. 10
//! informational notices, in one transaction; a retry of the same request is answered as the
//! first try was.

pub mod measures;
pub mod notices;
pub mod particulars;

#[cfg(test)]
mod tests;

use crate::auth::Caller;
use crate::compliance::SettleError;
use crate::disposal::{
    CalendarGap, Disposals, Fault, NoSigningKey, calendar_error, operation_error,
};
use crate::domain::clock::to_micros;
use crate::domain::threat::ThreatStatus;
use crate::pb;
use crate::store::notices::{self as stored, NoticeFilter, NoticeRow, TargetRow};
use crate::store::{audit, threats};

pub use self::measures::{EmergencyCall, OrderError, OrderedMeasure, RoutedMeasure};
pub use self::notices::{DecisionContext, common_province};

/// A regulator's decision on one threat.
#[derive(Debug, Clone)]
pub struct IssueDecision {
    /// The idempotency key: the same request again is answered as the first time.
    pub request_id: String,
    /// SHA-256 of the request as received: a key reused with other content is refused.
    pub request_sha256: String,
    pub threat_id: String,
    pub measures: Vec<OrderedMeasure>,
    /// Review items (Art. 9, 12) this decision settles by ordering again.
    pub resolves_review_item_ids: Vec<String>,
    /// 2009 mechanism Art. 17: a suspected crime referred to public security.
    pub referral: Option<pb::PublicSecurityReferral>,
}

/// Why a decision is refused: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum IssueDecisionError {
    #[error(
        "request_id {request_id:?} already names decision {decision_id} with other content; use a new request_id"
    )]
    RequestIdReused {
        request_id: String,
        decision_id: String,
    },
    #[error("threat {threat_id} does not exist")]
    ThreatNotFound { threat_id: String },
    /// Art. 8: measures are ordered only on a confirmed threat (Art. 7).
    #[error(
        "Art. 8: measures are ordered only on a threat a professional institution has confirmed (Art. 7); this threat {}",
        if *status == ThreatStatus::Rejected { "was rejected" } else { "is not yet identified" }
    )]
    ThreatNotConfirmed {
        threat_id: String,
        status: ThreatStatus,
    },
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    NoSigningKey(#[from] NoSigningKey),
    #[error(transparent)]
    Calendar(#[from] CalendarGap),
    /// A review item the decision was to settle cannot be settled by it.
    #[error(transparent)]
    Settle(#[from] SettleError),
    #[error(transparent)]
    Fault(Fault),
}

operation_error!(IssueDecisionError);
calendar_error!(IssueDecisionError);

/// A decision and its notices, with their targets, in the order issued.
#[derive(Debug)]
pub struct DecisionIssued {
    pub decision_id: String,
    pub notices: Vec<NoticeRow>,
    pub targets: Vec<TargetRow>,
}

impl Disposals {
    /// Issues the decision: routes and checks every measure, then signs and stores its
    /// notices, settles the review items it resolves and records the units notified, in one
    /// transaction, and wakes the addressees.
    ///
    /// # Errors
    /// [`IssueDecisionError`].
    pub async fn issue_decision(
        &self,
        caller: &Caller,
        command: IssueDecision,
    ) -> Result<DecisionIssued, IssueDecisionError> {
        let now = self.clock.now();
        let IssueDecision {
            request_id,
            request_sha256,
            threat_id,
            measures,
            resolves_review_item_ids: review_ids,
            referral,
        } = command;
        // A retry is answered before anything else is checked again.
        if let Some(existing) = self.replay(caller, &request_id, &request_sha256).await? {
            return Ok(existing);
        }
        let threat = threats::get_threat(&self.store, &threat_id)
            .await?
            .ok_or_else(|| IssueDecisionError::ThreatNotFound {
                threat_id: threat_id.clone(),
            })?;
        if threat.status != ThreatStatus::Confirmed {
            return Err(IssueDecisionError::ThreatNotConfirmed {
                threat_id,
                status: threat.status,
            });
        }
        let measures = self
            .prepare_measures(caller, "measures", &measures, now)
            .await?;
        let referral = match &referral {
            Some(r) => Some(self.referral(r).await?),
            None => None,
        };
        let signer = self.signer(&caller.organisation_id, now).await??;
        let decision_id = uuid::Uuid::now_v7().to_string();
        let names = self.addressee_names(&measures).await?;

        let mut tx = self.store.begin().await?;
        let recorded = self
            .record_decision(
                &mut tx,
                caller,
                &DecisionContext {
                    decision_id: &decision_id,
                    request_id: &request_id,
                    request_sha256: &request_sha256,
                    threat: &threat,
                    replaces: None,
                    names: &names,
                    referral: referral.as_ref(),
                },
                &measures,
                &signer,
                now,
            )
            .await?;
        let Some(rows) = recorded else {
            // A concurrent first try of this request committed first (the insert waited for
            // it): answer as it did.
            drop(tx);
            return self
                .replay(caller, &request_id, &request_sha256)
                .await?
                .ok_or_else(|| Fault::Corrupt(format!("decision {request_id:?} vanished")).into());
        };
        for id in &review_ids {
            crate::compliance::settle_review(
                &mut tx,
                caller,
                id,
                &threat_id,
                &format!("decision:{decision_id}"),
                now,
            )
            .await?;
        }
        // 2009 mechanism Art. 8(3): the decision's notices notify the units of the threat.
        crate::store::reporting::notified_by_decision(
            &mut tx,
            &threat_id,
            &decision_id,
            to_micros(now),
        )
        .await?;
        audit::append(
            &mut tx,
            self.store.dialect(),
            now,
            &caller.actor(),
            "disposal.issue_decision",
            &format!("decision:{decision_id}"),
            serde_json::json!({
                "threat_id": threat_id,
                "request_id": request_id,
                "notices": rows.iter().map(|r| serde_json::json!({
                    "notice_id": r.id,
                    "kind": r.kind as i64,
                    "addressee": r.addressee,
                    "measure_type": r.measure_type,
                    "deadline": r.deadline,
                    "key_id": r.key_id,
                })).collect::<Vec<_>>(),
                "settles_review_items": review_ids,
            }),
        )
        .await?;
        tx.commit().await?;
        self.signal
            .wake(rows.iter().filter_map(|r| r.addressee.as_deref()));
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let targets = stored::targets_of(&self.store, &ids).await?;
        Ok(DecisionIssued {
            decision_id,
            notices: rows,
            targets,
        })
    }

    /// The decision already made for this request id, or a refusal for other content.
    async fn replay(
        &self,
        caller: &Caller,
        request_id: &str,
        request_sha256: &str,
    ) -> Result<Option<DecisionIssued>, IssueDecisionError> {
        // A plain read: on SQLite `begin()` would take the write lock.
        let found = stored::find_decision(&self.store, &caller.organisation_id, request_id).await?;
        let Some((decision_id, sha)) = found else {
            return Ok(None);
        };
        if sha != request_sha256 {
            return Err(IssueDecisionError::RequestIdReused {
                request_id: request_id.to_owned(),
                decision_id,
            });
        }
        let mut rows = stored::list(
            &self.store,
            &NoticeFilter {
                decision_id: Some(decision_id.clone()),
                ..Default::default()
            },
            10_000,
        )
        .await?;
        rows.reverse();
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let targets = stored::targets_of(&self.store, &ids).await?;
        Ok(Some(DecisionIssued {
            decision_id,
            notices: rows,
            targets,
        }))
    }
}
