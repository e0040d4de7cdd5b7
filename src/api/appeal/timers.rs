//! The answer clock of an appeal (Art. 10): reminders to the deciding regulator
//! 5 and 1 working days before the 30th, and the overdue flag after it, which
//! the national regulator sees (or, when it decided itself, the audit trail).

use chrono::{DateTime, Utc};
use prost::Message;

use super::{OVERDUE_TIMER, REMINDER_TIMER, record_event};
use crate::domain::appeal::AppealState;
use crate::pb;
use crate::store::audit::Actor;
use crate::store::{Store, Tx, appeals};
use crate::timers::{DueTimer, TimerHandler, TimerHandlers};

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
        if row.state != AppealState::Open as i64 {
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
}
