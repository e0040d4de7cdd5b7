//! The deciding regulator's answer to an appeal (Art. 10): the measure upheld, revoked (a
//! signed revocation goes to the addressee, who lifts the measure and reports it), or
//! modified (revoked, and replacement measures ordered by a new decision on the same threat).
//! The appeal closes with its answer, in the transaction that revokes and reissues.

use super::{APPEAL_EVENTS, AppealClosed, close, record_event, transition};
use crate::auth::Caller;
use crate::disposal::decision::{DecisionContext, OrderError, OrderedMeasure};
use crate::disposal::revocation::{Revocation, RevokeError};
use crate::disposal::{CalendarGap, Disposals, Fault, NoSigningKey};
use crate::domain::appeal::AppealEvent;
use crate::domain::clock::to_micros;
use crate::domain::policy::TimeLimit;
use crate::pb;
use crate::store::appeals;
use crate::store::notices::{self, NoticeRow, TargetRow};
use crate::store::threats;

/// What the regulator decides on the appeal.
#[derive(Debug, Clone)]
pub enum AppealDecision {
    /// The measure stands.
    Upheld,
    /// The measure is withdrawn on the appealed target.
    Revoked,
    /// Withdrawn and replaced by these measures (checked in themselves).
    Modified { replacements: Vec<OrderedMeasure> },
}

/// The regulator's answer to one appeal.
#[derive(Debug, Clone)]
pub struct AnswerAppeal {
    pub appeal_id: String,
    pub decision: AppealDecision,
    /// The appellant reads them.
    pub reasons: String,
    /// The time to lift a revoked measure; the disposal limit of the notice's grade if absent.
    pub lift_limit: Option<TimeLimit>,
    /// SHA-256 of the request: the replacement decision is recorded under it.
    pub request_sha256: [u8; 32],
}

/// Why an answer is refused: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("no appeal {appeal_id} visible to the caller")]
    NotFound { appeal_id: String },
    /// Art. 10: the regulator that decided the measure answers.
    #[error("Art. 10: the deciding regulator {regulator} answers this appeal")]
    NotTheDecidingRegulator { regulator: String },
    /// Answered or withdrawn already.
    #[error(transparent)]
    Closed(#[from] AppealClosed),
    /// A replacement measure cannot be ordered as given.
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    NoSigningKey(#[from] NoSigningKey),
    #[error(transparent)]
    Calendar(#[from] CalendarGap),
    /// The revocation is refused by the notice's lifecycle.
    #[error(transparent)]
    Revoke(RevokeError),
    #[error(transparent)]
    Fault(Fault),
}

crate::disposal::operation_error!(AnswerError);
crate::disposal::calendar_error!(AnswerError);

impl From<RevokeError> for AnswerError {
    fn from(e: RevokeError) -> Self {
        match e {
            RevokeError::Calendar(g) => AnswerError::Calendar(g),
            RevokeError::Fault(f) => AnswerError::Fault(f),
            other => AnswerError::Revoke(other),
        }
    }
}

/// An answered appeal, the revocation sent and the replacement notices with their targets.
#[derive(Debug)]
pub struct Answered {
    pub appeal: pb::Appeal,
    pub revocation: Option<NoticeRow>,
    pub replacements: Vec<NoticeRow>,
    pub replacement_targets: Vec<TargetRow>,
}

fn decode(row: &appeals::AppealRow) -> Result<pb::Appeal, Fault> {
    super::decode(row).map_err(|e| Fault::Corrupt(format!("appeal {}: {e}", row.id)))
}

/// Answers the appeal: closes it with the answer, revokes the appealed target if the
/// measure is still in force on it, orders the replacements, and wakes the addressees and
/// the appeal watchers after the commit.
///
/// # Errors
/// [`AnswerError`].
pub async fn answer(
    disposals: &Disposals,
    caller: &Caller,
    command: AnswerAppeal,
) -> Result<Answered, AnswerError> {
    let AnswerAppeal {
        appeal_id: id,
        decision,
        reasons,
        lift_limit,
        request_sha256,
    } = command;
    let store = &disposals.store;
    let now = disposals.clock.now();
    let row = appeals::get(store, &id)
        .await?
        .filter(|r| super::may_see(caller, r))
        .ok_or_else(|| AnswerError::NotFound {
            appeal_id: id.clone(),
        })?;
    if row.regulator != caller.organisation_id {
        return Err(AnswerError::NotTheDecidingRegulator {
            regulator: row.regulator,
        });
    }
    let notice = notices::get_notice(store, &row.notice_id)
        .await?
        .ok_or_else(|| Fault::Corrupt(format!("appeal {id} without its notice")))?;
    let (answer_kind, replacements) = match &decision {
        AppealDecision::Upheld => (pb::AppealDecision::Upheld, &[][..]),
        AppealDecision::Revoked => (pb::AppealDecision::Revoked, &[][..]),
        AppealDecision::Modified { replacements } => {
            (pb::AppealDecision::Modified, replacements.as_slice())
        }
    };
    let measures = disposals
        .prepare_measures(caller, "replacement_measures", replacements, now)
        .await?;
    let names = disposals.addressee_names(&measures).await?;
    let signer = disposals.signer(&caller.organisation_id, now).await??;
    let threat = threats::get_threat(store, &notice.threat_id)
        .await?
        .ok_or_else(|| Fault::Corrupt(format!("notice {} without its threat", notice.id)))?;

    let mut tx = store.begin().await?;
    let row = appeals::lock(store, &mut tx, &id)
        .await?
        .ok_or_else(|| Fault::Corrupt(format!("appeal {id} vanished")))?;
    let mut appeal = decode(&row)?;
    let answered = transition(&row, AppealEvent::Answer)?;
    let notice = notices::lock_notice(store, &mut tx, &row.notice_id)
        .await?
        .ok_or_else(|| Fault::Corrupt(format!("notice {} vanished", row.notice_id)))?;
    let mut revocation = None;
    if !matches!(decision, AppealDecision::Upheld) {
        let targets = notices::targets_in_tx(&mut tx, &notice.id).await?;
        let in_force = targets
            .iter()
            .any(|t| t.target_id == row.target_id && t.revocation_notice_id.is_none());
        if in_force {
            revocation = Some(
                disposals
                    .revoke_in_tx(
                        &mut tx,
                        caller,
                        Revocation {
                            notice: &notice,
                            target_ids: std::slice::from_ref(&row.target_id),
                            reason: &format!("Art. 10 appeal {id}: {reasons}"),
                            lift_limit,
                            signer: &signer,
                            appeal_id: Some(&id),
                            now,
                        },
                    )
                    .await?,
            );
        }
    }
    let mut replacement_rows = Vec::new();
    let mut replacement_decision_id = String::new();
    if matches!(decision, AppealDecision::Modified { .. }) {
        replacement_decision_id = uuid::Uuid::now_v7().to_string();
        let request_id = format!("appeal:{id}");
        let sha = hex::encode(request_sha256);
        replacement_rows = disposals
            .record_decision(
                &mut tx,
                caller,
                &DecisionContext {
                    decision_id: &replacement_decision_id,
                    request_id: &request_id,
                    request_sha256: &sha,
                    threat: &threat,
                    replaces: Some((&notice.id, &id)),
                    names: &names,
                    referral: None,
                },
                &measures,
                &signer,
                now,
            )
            .await?
            // The appeal row is locked and answered once: its request id is free.
            .ok_or_else(|| {
                Fault::Corrupt(format!(
                    "the replacement decision's request id {request_id} is taken"
                ))
            })?;
    }
    appeal.state = answered as i32;
    appeal.answer = Some(pb::AppealAnswer {
        decision: answer_kind as i32,
        reasons,
        officer_name: caller.officer.clone().unwrap_or_default(),
        answered_at: Some(pb::timestamp(to_micros(now))),
        revocation_notice_id: revocation
            .as_ref()
            .map(|r: &NoticeRow| r.id.clone())
            .unwrap_or_default(),
        replacement_decision_id: replacement_decision_id.clone(),
        replacement_notice_ids: replacement_rows.iter().map(|r| r.id.clone()).collect(),
    });
    close(&mut tx, row, &appeal, answered, now).await?;
    record_event(
        store,
        &mut tx,
        &caller.actor(),
        &appeal,
        pb::AppealEventKind::Answered,
        now,
        serde_json::json!({
            "decision": answer_kind.as_str_name(),
            "revocation_notice_id": appeal.answer.as_ref().map(|a| a.revocation_notice_id.clone()),
            "replacement_decision_id": replacement_decision_id,
            "late": appeal.overdue,
        }),
    )
    .await?;
    tx.commit().await?;
    let woken: Vec<&str> = revocation
        .iter()
        .chain(replacement_rows.iter())
        .filter_map(|n| n.addressee.as_deref())
        .chain([APPEAL_EVENTS])
        .collect();
    disposals.signal.wake(woken);
    let ids: Vec<String> = replacement_rows.iter().map(|r| r.id.clone()).collect();
    let replacement_targets = notices::targets_of(store, &ids).await?;
    Ok(Answered {
        appeal,
        revocation,
        replacements: replacement_rows,
        replacement_targets,
    })
}
