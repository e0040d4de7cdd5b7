//! Offline notification (Art. 8(3)): an informational notice to a party off the platform
//! (public security) is delivered by the regulator by phone, letter, fax or in person, and
//! recorded here once, by its deadline.

use chrono::{DateTime, Utc};
use prost::Message;

use super::{Disposals, Fault, NoticeProgress, Refused, operation_error};
use crate::auth::{Caller, OutsideScope};
use crate::compliance::timers::MISSING_OFFLINE_NOTIFICATION;
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::notice::lifecycle::{NoticeEvent, TransitionError};
use crate::pb;
use crate::store::notices;

/// How the party was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Phone,
    Letter,
    Fax,
    InPerson,
}

/// The regulator's record of telling a party off the platform.
#[derive(Debug, Clone)]
pub struct RecordOfflineNotification {
    pub notice_id: String,
    pub notified_at: DateTime<Utc>,
    pub notifying_officer: String,
    pub channel: Channel,
    pub recipient_person: String,
    pub note: String,
}

/// Why the record is refused: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error("lies in the future")]
    NotifiedInFuture,
    #[error("notice {notice_id} does not exist")]
    NoticeNotFound { notice_id: String },
    #[error(transparent)]
    OutsideScope(#[from] OutsideScope),
    /// Recorded once only.
    #[error("notified offline at {} by {officer}", at.map(|t| t.to_rfc3339()).unwrap_or_default())]
    AlreadyNotified {
        notice_id: String,
        at: Option<DateTime<Utc>>,
        officer: String,
    },
    /// The lifecycle refuses: not an informational notice off the platform.
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Fault(Fault),
}

operation_error!(OfflineError);

impl Disposals {
    /// Records the notification and settles the missed-notification duty.
    ///
    /// # Errors
    /// [`OfflineError`].
    pub async fn record_offline(
        &self,
        caller: &Caller,
        command: RecordOfflineNotification,
    ) -> Result<NoticeProgress, OfflineError> {
        let id = command.notice_id;
        let now = self.clock.now();
        if command.notified_at > now {
            return Err(OfflineError::NotifiedInFuture);
        }
        let record = pb::OfflineNotification {
            notified_at: Some(pb::timestamp(to_micros(command.notified_at))),
            notifying_officer: command.notifying_officer,
            channel: match command.channel {
                Channel::Phone => pb::OfflineNotificationChannel::Phone,
                Channel::Letter => pb::OfflineNotificationChannel::Letter,
                Channel::Fax => pb::OfflineNotificationChannel::Fax,
                Channel::InPerson => pb::OfflineNotificationChannel::InPerson,
            } as i32,
            recipient_person: command.recipient_person,
            note: command.note,
            recorded_by_officer_name: caller.officer.clone().unwrap_or_default(),
        };
        let mut tx = self.store.begin().await?;
        let (row, targets) =
            self.lock(&mut tx, &id)
                .await?
                .ok_or_else(|| OfflineError::NoticeNotFound {
                    notice_id: id.clone(),
                })?;
        caller.within_scope(
            row.issuer == caller.organisation_id,
            &row.province,
            &format!("notice {id}"),
        )?;
        let mut facts = super::facts(&row, &targets);
        let reached = match facts.transition(NoticeEvent::NotifyOffline) {
            Ok(state) => state,
            Err(TransitionError::AlreadyNotifiedOffline) => {
                let existing = row
                    .offline
                    .as_deref()
                    .map(pb::OfflineNotification::decode)
                    .transpose()
                    .map_err(|e| Fault::Corrupt(format!("notice {id}: the offline record: {e}")))?
                    .unwrap_or_default();
                return Err(OfflineError::AlreadyNotified {
                    notice_id: id,
                    at: existing
                        .notified_at
                        .map(|t| from_micros(t.seconds * 1_000_000)),
                    officer: existing.notifying_officer,
                });
            }
            Err(by) => return Err(Refused::new(&id, None, by).into()),
        };
        notices::set_offline(&mut tx, &id, &record.encode_to_vec()).await?;
        notices::fulfil_non_compliance(
            &mut tx,
            MISSING_OFFLINE_NOTIFICATION,
            &id,
            "",
            to_micros(now),
        )
        .await?;
        self.audit(
            &mut tx,
            caller,
            now,
            "disposal.record_offline_notification",
            &format!("notice:{id}"),
            serde_json::json!({
                "notified_at": to_micros(command.notified_at),
                "notifying_officer": record.notifying_officer,
                "channel": record.channel,
                "recipient_person": record.recipient_person,
            }),
        )
        .await?;
        let progress = self.settle(&mut tx, &id, reached).await?;
        tx.commit().await?;
        Ok(progress)
    }
}
