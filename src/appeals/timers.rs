//! The answer clock of an appeal (Art. 10): reminders to the deciding regulator
//! 5 and 1 working days before the 30th, and the overdue flag after it, which
//! the national regulator sees (or, when it decided itself, the audit trail).
//! An appeal filed before the calendar of its due year is loaded gets its due
//! date and reminders in the transaction that loads that year.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;

use super::{OVERDUE_TIMER, REMINDER_TIMER, record_event};
use crate::domain::appeal::{self, AppealEvent};
use crate::domain::calendar::{WorkingCalendar, start_of_day};
use crate::domain::clock::to_micros;
use crate::pb;
use crate::pb::date_to_pb;
use crate::store::audit::Actor;
use crate::store::{Store, Tx, appeals};
use crate::timers::{DueTimer, TimerHandler, TimerHandlers};

/// Schedules the reminders 5 and 1 working days before `due_on` (at 00:00 Asia/Shanghai of
/// that day) that are still ahead of `now`; one already past is not sent late.
pub async fn schedule_reminders(
    tx: &mut Tx,
    calendar: &WorkingCalendar,
    appeal_id: &str,
    due_on: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for before in appeal::REMINDERS {
        if let Ok(day) = appeal::working_days_before(calendar, due_on, before) {
            let at = start_of_day(day);
            if at > now {
                crate::store::timers::schedule(
                    tx,
                    at,
                    REMINDER_TIMER,
                    appeal_id,
                    serde_json::json!({ "working_days_before": before }),
                )
                .await?;
            }
        }
    }
    Ok(())
}

pub fn handlers(store: Store) -> TimerHandlers {
    TimerHandlers::new()
        .with(
            REMINDER_TIMER,
            AnswerClock {
                store: store.clone(),
                overdue: false,
            },
        )
        .with(
            OVERDUE_TIMER,
            AnswerClock {
                store,
                overdue: true,
            },
        )
}

struct AnswerClock {
    store: Store,
    overdue: bool,
}

#[tonic::async_trait]
impl TimerHandler for AnswerClock {
    async fn fire(&self, tx: &mut Tx, timer: &DueTimer, now: DateTime<Utc>) -> anyhow::Result<()> {
        let Some(row) = appeals::lock(&self.store, tx, &timer.subject).await? else {
            return Ok(());
        };
        let event = if self.overdue {
            AppealEvent::MarkOverdue
        } else {
            AppealEvent::Remind
        };
        // A closed appeal's clock has stopped: the timer is stale, not an error.
        if row.state.transition(event).is_err() {
            return Ok(());
        }
        let mut appeal = pb::Appeal::decode(row.body.as_slice())?;
        if self.overdue {
            appeal.overdue = true;
            appeals::update(
                tx,
                &appeals::AppealRow {
                    overdue: 1,
                    body: appeal.encode_to_vec(),
                    ..row.clone()
                },
            )
            .await?;
        }
        let national_decided = crate::store::registry::organisation_in_tx(tx, &row.regulator)
            .await?
            .is_some_and(|o| o.province == "national");
        record_event(
            &self.store,
            tx,
            &Actor::system(),
            &appeal,
            if self.overdue {
                pb::AppealEventKind::AnswerOverdue
            } else {
                pb::AppealEventKind::AnswerReminder
            },
            now,
            serde_json::json!({
                "regulator": row.regulator,
                "answer_due_on": appeal.answer_due_on.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)),
                "working_days_before": timer.payload.get("working_days_before"),
                // Overdue: the national regulator is told unless it decided itself.
                "escalated_to_national_regulator": self.overdue && !national_decided,
            }),
        )
        .await?;
        Ok(())
    }

    /// The overdue timer of an appeal filed before its due year was loaded has just been
    /// computed: write `answer_due_on` where readers see it and schedule the reminders.
    async fn deadline_known(
        &self,
        tx: &mut Tx,
        timer: &DueTimer,
        calendar: &WorkingCalendar,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        if !self.overdue {
            return Ok(());
        }
        let Some(row) = appeals::lock(&self.store, tx, &timer.subject).await? else {
            return Ok(());
        };
        let mut appeal = pb::Appeal::decode(row.body.as_slice())?;
        if row.state.transition(AppealEvent::SetAnswerDue).is_err()
            || appeal.answer_due_on.is_some()
        {
            return Ok(());
        }
        let filed_on = appeal
            .filed_on
            .and_then(|d| {
                NaiveDate::from_ymd_opt(
                    d.year,
                    u32::try_from(d.month).ok()?,
                    u32::try_from(d.day).ok()?,
                )
            })
            .with_context(|| format!("appeal {} has no valid filed_on", row.id))?;
        let (due_on, due_at) = appeal::answer_due(calendar, filed_on)?;
        if due_at != timer.due_at {
            // Both count 30 working days from the filing day; a mismatch is a bug to see.
            tracing::error!(appeal = %row.id, %due_at, timer_due_at = %timer.due_at,
                "the appeal's answer deadline and its overdue timer disagree");
        }
        appeal.answer_due_on = Some(date_to_pb(due_on));
        appeals::set_answer_due(
            tx,
            &appeals::AppealRow {
                answer_due_at: Some(to_micros(due_at)),
                body: appeal.encode_to_vec(),
                ..row.clone()
            },
        )
        .await?;
        schedule_reminders(tx, calendar, &row.id, due_on, now).await?;
        record_event(
            &self.store,
            tx,
            &Actor::system(),
            &appeal,
            pb::AppealEventKind::AnswerDueSet,
            now,
            serde_json::json!({
                "answer_due_on": due_on.to_string(),
                "calendar_year": due_on.format("%Y").to_string(),
            }),
        )
        .await?;
        Ok(())
    }
}
