//! Appeals (Art. 10 of the 2017 Measures): whoever an Art. 8(1) measure affects appeals it
//! within 10 working days of its disposal, and the deciding regulator answers within 30
//! working days, on the official calendar.
//!
//! The rules live here, callable without gRPC: [`filing`] (who may appeal what, and when),
//! [`withdraw`], the answer clock ([`timers`]) and the appeal's events. The tonic edge
//! (`api::appeal`) parses requests into commands and maps each operation's error enum to a
//! status in one place. [`answer`] closes an appeal, revoking and reissuing notices through
//! the disposal workflow ([`crate::disposal`]).

pub mod answer;
pub mod filing;
pub mod standing;
pub mod timers;

use chrono::{DateTime, Utc};
use prost::Message;

use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::delivery::NoticeSignal;
use crate::domain::appeal::{self, AppealEvent, AppealState, TransitionError};
use crate::domain::calendar::{CalendarError, WorkingCalendar};
use crate::domain::clock::{from_micros, to_micros};
use crate::pb;
use crate::store::appeals::{self, AppealRow};
use crate::store::notices::{NoticeRow, TargetRow};
use crate::store::{Store, Tx, audit};

/// The timer of the reminders to the deciding regulator.
pub const REMINDER_TIMER: &str = "appeal.answer_reminder";
/// The timer that flags an appeal unanswered on its 30th working day.
pub const OVERDUE_TIMER: &str = "appeal.answer_due";
/// The wake-up key of appeal watchers (not an organisation id: those have no '#').
pub const APPEAL_EVENTS: &str = "#appeal-events";

/// The stored appeal as the contract's message.
///
/// # Errors
/// A body that does not decode (a storage fault).
pub fn decode(row: &AppealRow) -> Result<pb::Appeal, prost::DecodeError> {
    pb::Appeal::decode(row.body.as_slice())
}

/// Whether the caller may see this appeal: its filer, the deciding regulator, the
/// national regulator, and the regulator of the notice's province.
pub fn may_see(caller: &Caller, row: &AppealRow) -> bool {
    row.filer == caller.organisation_id
        || row.regulator == caller.organisation_id
        || caller.scope == Scope::Allow
        || (caller.scope == Scope::OwnProvince && row.province == caller.province)
}

/// The appeal as this caller may see it: identity numbers only for the filer and regulators.
pub fn shown(caller: &Caller, mut appeal: pb::Appeal) -> pb::Appeal {
    let regulator = caller.roles.iter().any(|r| r.is_regulator());
    if !regulator
        && caller.organisation_id != appeal.filer_organisation_id
        && let Some(a) = appeal.appellant.as_mut()
    {
        a.identity_number.clear();
    }
    appeal
}

/// An appeal already answered or withdrawn (Art. 10: once).
#[derive(Debug, thiserror::Error)]
#[error("Art. 10: {source}; an appeal is answered or withdrawn once")]
pub struct AppealClosed {
    pub appeal_id: String,
    pub source: TransitionError,
}

/// The state `event` takes an appeal to.
///
/// # Errors
/// [`AppealClosed`] for any event on a closed appeal.
pub fn transition(row: &AppealRow, event: AppealEvent) -> Result<AppealState, AppealClosed> {
    row.state.transition(event).map_err(|source| AppealClosed {
        appeal_id: row.id.clone(),
        source,
    })
}

/// Stores the appeal's final state and stops its answer clock.
///
/// # Errors
/// Storage failures.
pub async fn close(
    tx: &mut Tx,
    row: AppealRow,
    appeal: &pb::Appeal,
    state: AppealState,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let id = row.id.clone();
    appeals::update(
        tx,
        &AppealRow {
            state,
            body: appeal.encode_to_vec(),
            ..row
        },
    )
    .await?;
    for kind in [OVERDUE_TIMER, REMINDER_TIMER] {
        crate::store::timers::cancel_for(tx, kind, &id, now).await?;
    }
    Ok(())
}

/// Appends an event carrying the appeal as it now stands, and an audit record.
pub async fn record_event(
    store: &Store,
    tx: &mut Tx,
    actor: &audit::Actor,
    appeal: &pb::Appeal,
    kind: pb::AppealEventKind,
    now: DateTime<Utc>,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let event = pb::AppealEvent {
        cursor: String::new(),
        appeal_id: appeal.id.clone(),
        kind: kind as i32,
        occurred_at: Some(pb::timestamp(to_micros(now))),
        appeal: Some(appeal.clone()),
    };
    appeals::append_event(
        store,
        tx,
        &appeal.id,
        kind as i64,
        to_micros(now),
        &event.encode_to_vec(),
    )
    .await?;
    // Watchers on every replica wake at commit.
    crate::delivery::NoticeSignal::announce(tx, store.dialect(), &[APPEAL_EVENTS]).await?;
    audit::append(
        tx,
        store.dialect(),
        now,
        actor,
        &format!(
            "appeal.{}",
            kind.as_str_name()
                .trim_start_matches("APPEAL_EVENT_KIND_")
                .to_lowercase()
        ),
        &format!("appeal:{}", appeal.id),
        details,
    )
    .await?;
    Ok(())
}

/// The addressee reported a revoked target lifted: appeals answered by that revocation learn it.
pub async fn on_lifted(
    store: &Store,
    tx: &mut Tx,
    actor: &audit::Actor,
    notice_id: &str,
    target_id: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for row in appeals::revoked_on_target(tx, notice_id, target_id).await? {
        let Ok(appeal) = pb::Appeal::decode(row.body.as_slice()) else {
            continue;
        };
        let revoked = appeal
            .answer
            .as_ref()
            .is_some_and(|a| !a.revocation_notice_id.is_empty());
        if revoked {
            record_event(
                store,
                tx,
                actor,
                &appeal,
                pb::AppealEventKind::MeasureLifted,
                now,
                serde_json::json!({ "notice_id": notice_id, "target_id": target_id }),
            )
            .await?;
        }
    }
    Ok(())
}

/// Where an 8(1) target's appeal window stands (Art. 10).
pub fn window(
    calendar: &WorkingCalendar,
    notice: &NoticeRow,
    target: &TargetRow,
) -> Result<appeal::Window, CalendarError> {
    let disposed = target.first_disposed_at.map(from_micros);
    appeal::window(
        calendar,
        disposed,
        from_micros(notice.deadline.unwrap_or(target.deadline)),
    )
}

/// Why a withdrawal is refused.
#[derive(Debug, thiserror::Error)]
pub enum WithdrawError {
    /// Absent, or not filed by the caller.
    #[error("no appeal {appeal_id} filed by the caller")]
    NotFound { appeal_id: String },
    #[error(transparent)]
    Closed(#[from] AppealClosed),
    #[error("the stored appeal does not decode: {0}")]
    Corrupt(#[from] prost::DecodeError),
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// The filer withdraws its open appeal: the answer clock stops and watchers learn it.
///
/// # Errors
/// [`WithdrawError`].
pub async fn withdraw(
    store: &Store,
    signal: &NoticeSignal,
    caller: &Caller,
    appeal_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<pb::Appeal, WithdrawError> {
    let mut tx = store.begin().await?;
    let row = appeals::lock(store, &mut tx, appeal_id)
        .await?
        .filter(|r| r.filer == caller.organisation_id)
        .ok_or_else(|| WithdrawError::NotFound {
            appeal_id: appeal_id.to_owned(),
        })?;
    let withdrawn = transition(&row, AppealEvent::Withdraw)?;
    let mut appeal = decode(&row)?;
    appeal.state = withdrawn as i32;
    appeal.withdrawn_at = Some(pb::timestamp(to_micros(now)));
    appeal.withdrawal_reason = reason.to_owned();
    close(&mut tx, row, &appeal, withdrawn, now).await?;
    record_event(
        store,
        &mut tx,
        &caller.actor(),
        &appeal,
        pb::AppealEventKind::Withdrawn,
        now,
        serde_json::json!({ "reason": reason }),
    )
    .await?;
    tx.commit().await?;
    signal.wake([APPEAL_EVENTS]);
    Ok(appeal)
}

#[cfg(test)]
mod tests;
