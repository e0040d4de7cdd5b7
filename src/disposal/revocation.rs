//! Revocation and lifting (Art. 10): the regulator withdraws a measure on some or all of a
//! notice's targets with a signed revocation notice; for a blocking (8(1)) or another
//! measure (8(4)) the addressee must then lift it by a deadline and report it lifted.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::signing::{NewNotice, store_notices};
use super::{
    CalendarGap, Disposals, Fault, NoSigningKey, NoticeProgress, Refused, calendar_error,
    operation_error,
};
use crate::auth::{Caller, OutsideScope};
use crate::compliance::timers::{LIFT_TIMER, MISSING_LIFT};
use crate::domain::clock::to_micros;
use crate::domain::notice::lifecycle::NoticeEvent;
use crate::domain::notice::{self, DisposalLimits, NoticeKind};
use crate::domain::policy::TimeLimit;
use crate::pb;
use crate::pki::signing::NoticeSigner;
use crate::store::notices::{self, NoticeRow};
use crate::store::{Tx, timers};

/// A regulator's revocation of a notice's measure.
#[derive(Debug, Clone)]
pub struct RevokeNotice {
    pub notice_id: String,
    /// The targets to revoke; empty: every target still in force.
    pub target_ids: Vec<String>,
    /// The addressee reads it.
    pub reason: String,
    /// The time to lift the measure; the disposal limit of the notice's grade if absent.
    pub lift_limit: Option<TimeLimit>,
}

/// Why a revocation is refused: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error(transparent)]
    NoSigningKey(#[from] NoSigningKey),
    #[error("notice {notice_id} does not exist")]
    NoticeNotFound { notice_id: String },
    #[error(transparent)]
    OutsideScope(#[from] OutsideScope),
    #[error("every target of this notice is already revoked")]
    AllRevoked { notice_id: String },
    /// The lifecycle refuses: not a disposal notice, not a target, already revoked.
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Calendar(#[from] CalendarGap),
    #[error(transparent)]
    Fault(Fault),
}

operation_error!(RevokeError);
calendar_error!(RevokeError);

/// A revocation made inside a caller's transaction (a revocation notice, or an appeal
/// answered as revoked or modified).
pub struct Revocation<'a> {
    /// The notice revoked, locked in the transaction.
    pub notice: &'a NoticeRow,
    pub target_ids: &'a [String],
    pub reason: &'a str,
    pub lift_limit: Option<TimeLimit>,
    pub signer: &'a NoticeSigner,
    /// Art. 10: the appeal this answers.
    pub appeal_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// An addressee's report that revoked measures are lifted.
#[derive(Debug, Clone)]
pub struct ReportLifted {
    pub notice_id: String,
    /// The targets lifted; empty: every revoked target not yet reported lifted.
    pub target_ids: Vec<String>,
    /// When it was lifted; now if not given.
    pub lifted_at: Option<DateTime<Utc>>,
    pub details: String,
}

/// Why a report of lifting is refused: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum LiftError {
    #[error("lies in the future")]
    LiftedInFuture,
    /// Absent, or addressed to someone else.
    #[error("no notice {notice_id} addressed to the caller")]
    NoticeNotFound { notice_id: String },
    #[error("no revoked target of this notice is waiting to be lifted")]
    NothingWaiting { notice_id: String },
    /// The lifecycle refuses: nothing to lift for this measure, not a target, not revoked.
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Fault(Fault),
}

operation_error!(LiftError);

impl Disposals {
    /// Signs and sends the addressee a revocation of the chosen targets.
    ///
    /// # Errors
    /// [`RevokeError`].
    pub async fn revoke(
        &self,
        caller: &Caller,
        command: RevokeNotice,
    ) -> Result<NoticeRow, RevokeError> {
        let id = command.notice_id;
        let now = self.clock.now();
        let signer: Arc<NoticeSigner> = self.signer(&caller.organisation_id, now).await??;
        let mut tx = self.store.begin().await?;
        let (row, targets) =
            self.lock(&mut tx, &id)
                .await?
                .ok_or_else(|| RevokeError::NoticeNotFound {
                    notice_id: id.clone(),
                })?;
        caller.within_scope(
            row.issuer == caller.organisation_id,
            &row.province,
            &format!("notice {id}"),
        )?;
        let facts = super::facts(&row, &targets);
        facts
            .may_revoke()
            .map_err(|by| Refused::new(&id, None, by))?;
        let chosen: Vec<String> = if command.target_ids.is_empty() {
            facts.in_force().map(|t| t.target_id.clone()).collect()
        } else {
            command.target_ids
        };
        if chosen.is_empty() {
            return Err(RevokeError::AllRevoked { notice_id: id });
        }
        let revocation = self
            .revoke_in_tx(
                &mut tx,
                caller,
                Revocation {
                    notice: &row,
                    target_ids: &chosen,
                    reason: &command.reason,
                    lift_limit: command.lift_limit,
                    signer: &signer,
                    appeal_id: None,
                    now,
                },
            )
            .await?;
        tx.commit().await?;
        self.signal.wake(revocation.addressee.as_deref());
        Ok(revocation)
    }

    /// Sends the addressee a signed revocation of the chosen targets of the locked notice,
    /// inside `tx`; for 8(1) and 8(4) a lifting deadline and its timer (Art. 10). A refusal
    /// names the index of the target in `target_ids`. The caller wakes the addressee after
    /// its commit.
    ///
    /// # Errors
    /// [`RevokeError`]: the lifecycle refuses a target, or a deadline cannot be computed.
    pub async fn revoke_in_tx(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        revocation: Revocation<'_>,
    ) -> Result<NoticeRow, RevokeError> {
        let Revocation {
            notice: row,
            target_ids: chosen,
            reason,
            lift_limit,
            signer,
            appeal_id,
            now,
        } = revocation;
        let revocation_id = uuid::Uuid::now_v7().to_string();
        let targets = notices::targets_in_tx(tx, &row.id).await?;
        let mut facts = super::facts(row, &targets);
        let mut reached = facts.state();
        for (index, target_id) in chosen.iter().enumerate() {
            reached = facts
                .transition(NoticeEvent::Revoke {
                    target_id,
                    revocation_id: &revocation_id,
                })
                .map_err(|by| Refused::new(&row.id, Some(index), by))?;
        }
        let body = super::body(row)?;
        let limits =
            DisposalLimits::from_policy(&self.policy, &row.province, i64::from(body.grade), false);
        let lifting = notice::must_report_lifting(row.measure_type as i32);
        let limit = lift_limit.unwrap_or(limits.disposal);
        let lift_due = if lifting {
            Some(super::due(tx, "lift_time_limit", now, limit).await?)
        } else {
            None
        };
        let receipt = super::due(tx, "receipt", now, limits.receipt).await?;
        let receipt = lift_due.map_or(receipt, |d| notice::receipt_due(receipt, d));
        let chosen_ids: HashSet<&str> = chosen.iter().map(String::as_str).collect();
        let signed = pb::NoticeBody {
            notice_id: revocation_id.clone(),
            kind: NoticeKind::Revocation as i32,
            decision_id: row.decision_id.clone(),
            threat_id: row.threat_id.clone(),
            issuer_organisation_id: caller.organisation_id.clone(),
            issuing_officer_name: caller.officer.clone().unwrap_or_default(),
            issued_at: Some(pb::timestamp(to_micros(now))),
            addressee_organisation_id: body.addressee_organisation_id.clone(),
            addressee_name: body.addressee_name.clone(),
            measure_type: body.measure_type,
            targets: body
                .targets
                .iter()
                .filter(|t| chosen_ids.contains(t.target_id.as_str()))
                .cloned()
                .collect(),
            legal_basis: body.legal_basis.clone(),
            instructions: if lifting {
                "lift the measure on these targets and report it lifted (ReportLifted)".into()
            } else {
                "stop the measure on these targets".into()
            },
            threat_summary: body.threat_summary.clone(),
            particulars: body.particulars.clone(),
            grade: body.grade,
            time_limit: lifting.then(|| time_limit_pb(limit)),
            deadline: lift_due.map(|d| pb::timestamp(to_micros(d))),
            receipt_due: Some(pb::timestamp(to_micros(receipt))),
            revokes_notice_id: row.id.clone(),
            reason: reason.to_owned(),
            appeal_id: appeal_id.unwrap_or_default().to_owned(),
            ..Default::default()
        };
        let mut rows = store_notices(
            self,
            tx,
            signer,
            vec![NewNotice {
                body: signed,
                province: row.province.clone(),
                targets: Vec::new(),
            }],
        )
        .await?;
        for t in chosen {
            notices::set_revoked(tx, &row.id, t, &revocation_id, lift_due.map(to_micros)).await?;
        }
        if let Some(d) = lift_due {
            timers::schedule(
                tx,
                d,
                LIFT_TIMER,
                &revocation_id,
                serde_json::json!({ "notice_id": row.id }),
            )
            .await?;
        }
        self.audit(
            tx,
            caller,
            now,
            "disposal.revoke_notice",
            &format!("notice:{}", row.id),
            serde_json::json!({
                "revocation_notice_id": revocation_id,
                "target_ids": chosen_ids.iter().collect::<Vec<_>>(),
                "reason": reason,
                "appeal_id": appeal_id,
                "lift_due": lift_due.map(to_micros),
            }),
        )
        .await?;
        self.settle(tx, &row.id, reached).await?;
        Ok(rows.remove(0))
    }

    /// Records the chosen revoked targets lifted, settles their missed-lift duties, and
    /// tells the appeals on them (Art. 10).
    ///
    /// # Errors
    /// [`LiftError`].
    pub async fn lift(
        &self,
        caller: &Caller,
        command: ReportLifted,
    ) -> Result<NoticeProgress, LiftError> {
        let id = command.notice_id;
        let now = self.clock.now();
        let lifted_at = match command.lifted_at {
            Some(at) if at > now => return Err(LiftError::LiftedInFuture),
            Some(at) => at,
            None => now,
        };
        let mut tx = self.store.begin().await?;
        let (row, targets) = self.lock_own(&mut tx, caller, &id).await?.ok_or_else(|| {
            LiftError::NoticeNotFound {
                notice_id: id.clone(),
            }
        })?;
        let mut facts = super::facts(&row, &targets);
        facts.may_lift().map_err(|by| Refused::new(&id, None, by))?;
        let wanted = command.target_ids;
        let candidates: Vec<String> = if wanted.is_empty() {
            facts.awaiting_lift().map(|t| t.target_id.clone()).collect()
        } else {
            wanted.clone()
        };
        let mut chosen = Vec::new();
        let mut reached = facts.state();
        for (index, target_id) in candidates.into_iter().enumerate() {
            let lifted_already = facts.target(&target_id).is_some_and(|t| t.lifted);
            reached = facts
                .transition(NoticeEvent::Lift {
                    target_id: &target_id,
                })
                .map_err(|by| Refused::new(&id, Some(index), by))?;
            if !lifted_already {
                chosen.push(target_id);
            }
        }
        if chosen.is_empty() && wanted.is_empty() {
            return Err(LiftError::NothingWaiting { notice_id: id });
        }
        let at = to_micros(lifted_at);
        for target_id in &chosen {
            notices::set_lifted(&mut tx, &id, target_id, at, &command.details).await?;
            notices::fulfil_non_compliance(&mut tx, MISSING_LIFT, &id, target_id, to_micros(now))
                .await?;
            crate::appeals::on_lifted(&self.store, &mut tx, &caller.actor(), &id, target_id, now)
                .await?;
        }
        if !chosen.is_empty() {
            self.audit(
                &mut tx,
                caller,
                now,
                "disposal.report_lifted",
                &format!("notice:{id}"),
                serde_json::json!({
                    "target_ids": chosen,
                    "lifted_at": at,
                }),
            )
            .await?;
        }
        let progress = self.settle(&mut tx, &id, reached).await?;
        tx.commit().await?;
        Ok(progress)
    }
}

/// A time limit as the contract carries it.
pub fn time_limit_pb(t: TimeLimit) -> pb::TimeLimit {
    use pb::time_limit::Limit;
    pb::TimeLimit {
        limit: Some(match t {
            TimeLimit::Hours(h) => Limit::Hours(h),
            TimeLimit::WorkingDays(d) | TimeLimit::NextMonthWorkingDays(d) => Limit::WorkingDays(d),
        }),
    }
}
