//! Compliance (Art. 12 of the 2017 Measures, with the Art. 9 review queue that feeds it): the
//! regulator settles review items, accepts a unit's reason for not disposing of a target,
//! and records enforcement (interview, warning, fine) against the missed duties it cites.
//!
//! Callable without gRPC: the tonic edge (`api::disposal`) parses its input into the commands
//! here and maps each operation's error enum to a status in one place.

pub mod enforcement;
pub mod timers;

use chrono::{DateTime, Utc};

use crate::auth::{Caller, OutsideScope};
use crate::domain::clock::{from_micros, to_micros};
use crate::store::notices::{self, ReviewRow};
use crate::store::{Store, Tx, audit};

/// Why a review item cannot be settled.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error("review item {id} does not exist")]
    NotFound { id: String },
    #[error(transparent)]
    OutsideScope(#[from] OutsideScope),
    #[error("settled at {} by {by}", at.to_rfc3339())]
    AlreadySettled {
        id: String,
        at: DateTime<Utc>,
        by: String,
    },
    /// A reissue settles only the items of the threat it reissues for.
    #[error("concerns threat {concerns}, not {threat_id}")]
    OtherThreat {
        id: String,
        concerns: String,
        threat_id: String,
    },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Closes an open review item in the caller's jurisdiction, in `tx`; `threat_id`, unless
/// empty, is the threat the item must concern. The settled item as it was before.
///
/// # Errors
/// [`SettleError`].
pub async fn settle_review(
    tx: &mut Tx,
    caller: &Caller,
    id: &str,
    threat_id: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<ReviewRow, SettleError> {
    let item = notices::get_review_in_tx(tx, id)
        .await?
        .ok_or_else(|| SettleError::NotFound { id: id.to_owned() })?;
    caller.within_scope(false, &item.province, &format!("review item {id}"))?;
    if let Some(at) = item.settled_at {
        return Err(SettleError::AlreadySettled {
            id: id.to_owned(),
            at: from_micros(at),
            by: item.settled_by.clone().unwrap_or_default(),
        });
    }
    if !threat_id.is_empty() && item.threat_id != threat_id {
        return Err(SettleError::OtherThreat {
            id: id.to_owned(),
            concerns: item.threat_id.clone(),
            threat_id: threat_id.to_owned(),
        });
    }
    notices::settle_review(tx, id, to_micros(now), by).await?;
    Ok(item)
}

/// Why a unit's reason for not disposing cannot be accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptReasonError {
    #[error(
        "only a target reported NOT_DISPOSED has a reason to accept; a failed verification is settled by a reissue or an enforcement"
    )]
    NotANotDisposedItem { id: String },
    #[error(transparent)]
    Settle(#[from] SettleError),
}

impl From<sqlx::Error> for AcceptReasonError {
    fn from(e: sqlx::Error) -> Self {
        AcceptReasonError::Settle(SettleError::Storage(e))
    }
}

/// Art. 9, 12: the regulator accepts a unit's reason for not disposing of a target; the item
/// is settled and the acceptance audited.
///
/// # Errors
/// [`AcceptReasonError`].
pub async fn accept_not_disposed(
    store: &Store,
    caller: &Caller,
    id: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<ReviewRow, AcceptReasonError> {
    let mut tx = store.begin().await?;
    let item = notices::get_review_in_tx(&mut tx, id)
        .await?
        .ok_or_else(|| SettleError::NotFound { id: id.to_owned() })?;
    if item.reason != notices::REVIEW_NOT_DISPOSED {
        caller
            .within_scope(false, &item.province, &format!("review item {id}"))
            .map_err(SettleError::from)?;
        return Err(AcceptReasonError::NotANotDisposedItem { id: id.to_owned() });
    }
    let by = format!(
        "accepted:{}",
        caller.officer.as_deref().unwrap_or(&caller.organisation_id)
    );
    let item = settle_review(&mut tx, caller, id, "", &by, now).await?;
    audit::append(
        &mut tx,
        store.dialect(),
        now,
        &caller.actor(),
        "disposal.accept_not_disposed_reason",
        &format!("notice:{}", item.notice_id),
        serde_json::json!({
            "review_item_id": id,
            "target_id": item.target_id,
            "addressee": item.addressee,
            "note": note,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(item)
}

#[cfg(test)]
mod tests;
