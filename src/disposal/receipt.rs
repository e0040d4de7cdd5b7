//! Receipt (送达): the addressee acknowledges the notice as signed, and a receipt before
//! the receipt deadline brings a result deadline that runs from receipt forward
//! (2009 mechanism Art. 9(2)).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Disposals, DueError, Fault, NoticeProgress, operation_error};
use crate::auth::Caller;
use crate::compliance::timers::{MISSING_RECEIPT, RESULT_TIMER};
use crate::domain::clock::to_micros;
use crate::domain::notice::NoticeKind;
use crate::domain::notice::lifecycle::NoticeEvent;
use crate::store::notices::{self, NoticeRow};
use crate::store::{Tx, timers};

/// The addressee's acknowledgement of one notice.
#[derive(Debug, Clone)]
pub struct AcknowledgeReceipt {
    pub notice_id: String,
    /// SHA-256 of `SignedNotice.body` as the addressee received it.
    pub body_sha256: [u8; 32],
}

/// Why a receipt is refused: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum AcknowledgeError {
    /// Absent, or addressed to someone else.
    #[error("no notice {notice_id} addressed to the caller")]
    NoticeNotFound { notice_id: String },
    /// What the addressee holds is not what was signed.
    #[error(
        "does not match the notice as signed (SHA-256 {actual}): verify the signature of what you received"
    )]
    BodyMismatch { actual: String },
    #[error(transparent)]
    Fault(Fault),
}

operation_error!(AcknowledgeError);

impl Disposals {
    /// Records receipt once (a repeat answers with the notice as it stands), settles the
    /// missed-receipt duty, and moves a result deadline that runs from receipt.
    ///
    /// # Errors
    /// [`AcknowledgeError`].
    pub async fn acknowledge(
        &self,
        caller: &Caller,
        command: AcknowledgeReceipt,
    ) -> Result<NoticeProgress, AcknowledgeError> {
        let id = command.notice_id;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let (row, targets) = self.lock_own(&mut tx, caller, &id).await?.ok_or_else(|| {
            AcknowledgeError::NoticeNotFound {
                notice_id: id.clone(),
            }
        })?;
        let actual = Sha256::digest(&row.body);
        if actual[..] != command.body_sha256[..] {
            return Err(AcknowledgeError::BodyMismatch {
                actual: hex::encode(actual),
            });
        }
        let mut facts = super::facts(&row, &targets);
        let first = !facts.received;
        let reached = facts
            .transition(NoticeEvent::Receive)
            .map_err(|e| Fault::Corrupt(format!("receipt refused by the lifecycle: {e}")))?;
        if first {
            let at = to_micros(now);
            notices::set_received(&mut tx, &id, at, &hex::encode(actual)).await?;
            let deadline = self.deadline_from_receipt(&mut tx, &row, now).await?;
            notices::fulfil_non_compliance(&mut tx, MISSING_RECEIPT, &id, "", at).await?;
            self.audit(
                &mut tx,
                caller,
                now,
                "disposal.acknowledge_receipt",
                &format!("notice:{id}"),
                serde_json::json!({
                    "body_sha256": hex::encode(actual),
                    "receipt_due": row.receipt_due,
                    "late": row.receipt_due.is_some_and(|d| at >= d),
                    "result_deadline": deadline.map(to_micros),
                }),
            )
            .await?;
        }
        let progress = self.settle(&mut tx, &id, reached).await?;
        tx.commit().await?;
        Ok(progress)
    }

    /// 2009 mechanism Art. 9(2): feedback is due `time_limit` after the unit receives the
    /// notice. The signed deadline runs from the receipt deadline; a receipt before it brings
    /// the deadline (and its Art. 12 timer) forward. Returns the deadline if it moved.
    async fn deadline_from_receipt(
        &self,
        tx: &mut Tx,
        row: &NoticeRow,
        received: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, Fault> {
        if row.kind != NoticeKind::Disposal {
            return Ok(None);
        }
        let body = super::body(row)?;
        let (Some(receipt_due), Some(current)) = (row.receipt_due, row.deadline) else {
            return Ok(None);
        };
        let limit = super::time_limit(body.time_limit.as_ref()).map_err(|e| {
            Fault::Corrupt(format!("notice {}: the signed time limit: {e}", row.id))
        })?;
        let (true, Some(limit)) = (body.deadline_runs_from_receipt, limit) else {
            return Ok(None);
        };
        if to_micros(received) >= receipt_due {
            return Ok(None);
        }
        let deadline = match super::due(tx, "time_limit", received, limit).await {
            Ok(d) => d,
            // A calendar year not loaded: the signed (latest) deadline stands.
            Err(DueError::Gap(_)) => return Ok(None),
            Err(DueError::Fault(f)) => return Err(f),
        };
        let at = to_micros(deadline);
        if at >= current {
            return Ok(None);
        }
        notices::set_deadline(tx, &row.id, at).await?;
        timers::cancel_for(tx, RESULT_TIMER, &row.id, received).await?;
        timers::schedule(tx, deadline, RESULT_TIMER, &row.id, serde_json::Value::Null).await?;
        Ok(Some(deadline))
    }
}
