//! Disposal (Art. 8, 9, 10 of the 2017 Measures): what happens to a notice once it is
//! issued. Its addressee acknowledges receipt and reports results; the identifying
//! institution verifies them; the regulator revokes a measure, and the addressee reports a
//! revoked blocking lifted; an addressee off the platform is notified offline.
//!
//! Every change goes through the notice's lifecycle
//! ([`crate::domain::notice::lifecycle::NoticeFacts::transition`]) before it is written, in
//! the transaction that locked the notice. The gRPC edge (`api::disposal`) and the appeal
//! answer call these workflows; none of them builds a `tonic::Status`.

pub mod decision;
pub mod offline;
pub mod receipt;
pub mod results;
pub mod revocation;
pub mod signing;
pub mod verification;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use prost::Message;

use crate::auth::Caller;
use crate::delivery::NoticeSignal;
use crate::domain::clock::SharedClock;
use crate::domain::notice::NoticeState;
use crate::domain::notice::lifecycle::{NoticeFacts, TargetRecord, TransitionError};
use crate::domain::policy::{DeadlinePolicy, TimeLimit};
use crate::ownership::OwnershipRouter;
use crate::pb;
use crate::pki::keyring::SigningKeyring;
use crate::pki::signing::NoticeSigner;
use crate::store::notices::{self, NoticeRow, TargetRow};
use crate::store::{Store, Tx, audit};

/// The disposal workflows and what they need.
#[derive(Clone)]
pub struct Disposals {
    pub store: Store,
    pub clock: SharedClock,
    pub policy: Arc<DeadlinePolicy>,
    pub keyring: Arc<SigningKeyring>,
    /// Who is responsible for each resource (Art. 9), cached per registry version.
    pub router: Arc<OwnershipRouter>,
    /// Wakes the addressees' notice streams after a commit.
    pub signal: NoticeSignal,
}

/// A notice as it stands after a change: its row (with the stored state) and its targets.
#[derive(Debug, Clone)]
pub struct NoticeProgress {
    pub row: NoticeRow,
    pub targets: Vec<TargetRow>,
}

/// A failure that is not the caller's: storage, or a stored record that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("{0}")]
    Corrupt(String),
    #[error("the working calendar cannot be read: {0:#}")]
    Calendar(anyhow::Error),
}

/// A deadline the loaded calendar cannot compute: the year it falls in is not loaded.
#[derive(Debug, thiserror::Error)]
#[error("the deadline of {limit} cannot be computed: {reason} (CalendarService.LoadYear)")]
pub struct CalendarGap {
    /// The field or duty whose deadline it is.
    pub field: String,
    pub limit: TimeLimit,
    pub reason: String,
}

/// Why a deadline could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum DueError {
    #[error(transparent)]
    Gap(#[from] CalendarGap),
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// The regulator holds no current notice-signing key (Art. 8: a notice's source can be
/// verified, so nothing is sent unsigned).
#[derive(Debug, thiserror::Error)]
#[error(
    "no current notice-signing key of this regulator is registered and held by the server \
     (RegistryService.RegisterSigningKey; key files under notice_signing_dir); Art. 8 \
     requires notices whose source can be verified"
)]
pub struct NoSigningKey {
    pub regulator: String,
}

/// The due instant of `limit` after `event`, on the stored official calendar.
///
/// # Errors
/// [`DueError::Gap`] when a working-day limit reaches a year not loaded.
pub async fn due(
    tx: &mut Tx,
    field: &str,
    event: DateTime<Utc>,
    limit: TimeLimit,
) -> Result<DateTime<Utc>, DueError> {
    let calendar = if limit.needs_calendar() {
        crate::store::calendar::effective(tx)
            .await
            .map_err(Fault::Calendar)?
    } else {
        crate::domain::calendar::WorkingCalendar::new()
    };
    limit.due_at(event, &calendar).map_err(|e| {
        DueError::Gap(CalendarGap {
            field: field.to_owned(),
            limit,
            reason: e.to_string(),
        })
    })
}

/// A time limit outside the contract's range: hours 1 to 8784, or working days 1 to 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("hours 1 to 8784, or working days 1 to 1000")]
pub struct TimeLimitOutOfRange;

/// A time limit as the contract carries it; `None` when absent.
///
/// # Errors
/// [`TimeLimitOutOfRange`].
pub fn time_limit(t: Option<&pb::TimeLimit>) -> Result<Option<TimeLimit>, TimeLimitOutOfRange> {
    use pb::time_limit::Limit;
    match t.and_then(|t| t.limit) {
        None => Ok(None),
        Some(Limit::Hours(h)) if (1..=8784).contains(&h) => Ok(Some(TimeLimit::Hours(h))),
        Some(Limit::WorkingDays(d)) if (1..=1000).contains(&d) => {
            Ok(Some(TimeLimit::WorkingDays(d)))
        }
        Some(_) => Err(TimeLimitOutOfRange),
    }
}

/// A notice's signed body.
///
/// # Errors
/// [`Fault::Corrupt`] if the stored bytes are not a `NoticeBody`.
pub fn body(row: &NoticeRow) -> Result<pb::NoticeBody, Fault> {
    pb::NoticeBody::decode(row.body.as_slice())
        .map_err(|e| Fault::Corrupt(format!("notice {}: the stored body: {e}", row.id)))
}

/// What the lifecycle reads of a stored notice and its targets.
pub fn facts(row: &NoticeRow, targets: &[TargetRow]) -> NoticeFacts {
    NoticeFacts {
        kind: row.kind,
        on_platform: row.addressee.is_some(),
        received: row.received_at.is_some(),
        notified_offline: row.offline.is_some(),
        measure_type: row.measure_type as i32,
        targets: targets
            .iter()
            .map(|t| TargetRecord {
                target_id: t.target_id.clone(),
                reported: t.first_reported_at.is_some(),
                verified: t.verified_at.is_some(),
                revoked_by: t.revocation_notice_id.clone(),
                lifted: t.lifted_at.is_some(),
            })
            .collect(),
    }
}

/// A refusal by the lifecycle, with where in the request it arose.
#[derive(Debug, thiserror::Error)]
#[error("{by}")]
pub struct Refused {
    pub notice_id: String,
    /// The index of the request's item (result, verification, target id) it concerns.
    pub index: Option<usize>,
    pub by: TransitionError,
}

impl Refused {
    fn new(notice_id: &str, index: Option<usize>, by: TransitionError) -> Refused {
        Refused {
            notice_id: notice_id.to_owned(),
            index,
            by,
        }
    }
}

impl Disposals {
    /// The regulator's current signing key as this server holds it.
    ///
    /// # Errors
    /// [`NoSigningKey`] (outer) when none is held; storage (inner).
    pub async fn signer(
        &self,
        regulator: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Arc<NoticeSigner>, NoSigningKey>, Fault> {
        Ok(self
            .keyring
            .current(&self.store, regulator, now)
            .await?
            .ok_or_else(|| NoSigningKey {
                regulator: regulator.to_owned(),
            }))
    }

    /// The notice `id` locked for a change in `tx`, with its targets.
    async fn lock(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<(NoticeRow, Vec<TargetRow>)>, Fault> {
        let Some(row) = notices::lock_notice(&self.store, tx, id).await? else {
            return Ok(None);
        };
        let targets = notices::targets_in_tx(tx, id).await?;
        Ok(Some((row, targets)))
    }

    /// The notice `id` locked for a change by its addressee; `None` for anyone else, as
    /// if it were absent.
    async fn lock_own(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        id: &str,
    ) -> Result<Option<(NoticeRow, Vec<TargetRow>)>, Fault> {
        Ok(self
            .lock(tx, id)
            .await?
            .filter(|(n, _)| n.addressee.as_deref() == Some(caller.organisation_id.as_str())))
    }

    /// Re-reads the notice after its changes, checks the records give the state the
    /// lifecycle reached, and stores it.
    async fn settle(
        &self,
        tx: &mut Tx,
        id: &str,
        reached: NoticeState,
    ) -> Result<NoticeProgress, Fault> {
        let (row, targets) = self
            .lock(tx, id)
            .await?
            .ok_or_else(|| Fault::Corrupt(format!("notice {id} vanished inside its change")))?;
        let recorded = facts(&row, &targets).state();
        if recorded != reached {
            return Err(Fault::Corrupt(format!(
                "notice {id}: the lifecycle reached {reached:?} but the records give {recorded:?}"
            )));
        }
        notices::set_state(tx, id, recorded as i64).await?;
        Ok(NoticeProgress {
            row: NoticeRow {
                state: recorded as i64,
                ..row
            },
            targets,
        })
    }

    async fn audit(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        now: DateTime<Utc>,
        action: &str,
        subject: &str,
        details: serde_json::Value,
    ) -> Result<(), Fault> {
        audit::append(
            tx,
            self.store.dialect(),
            now,
            &caller.actor(),
            action,
            subject,
            details,
        )
        .await?;
        Ok(())
    }
}

/// `From<sqlx::Error>` and `From<Fault>` for an operation's error enum with a `Fault`
/// variant.
macro_rules! operation_error {
    ($($error:ty),+) => {$(
        impl From<sqlx::Error> for $error {
            fn from(e: sqlx::Error) -> Self {
                Self::Fault(crate::disposal::Fault::Storage(e))
            }
        }
        impl From<crate::disposal::Fault> for $error {
            fn from(e: crate::disposal::Fault) -> Self {
                Self::Fault(e)
            }
        }
    )+};
}
pub(crate) use operation_error;

/// `From<DueError>` for an operation's error enum with `Calendar(CalendarGap)` and `Fault`
/// variants.
macro_rules! calendar_error {
    ($($error:ty),+) => {$(
        impl From<crate::disposal::DueError> for $error {
            fn from(e: crate::disposal::DueError) -> Self {
                match e {
                    crate::disposal::DueError::Gap(g) => Self::Calendar(g),
                    crate::disposal::DueError::Fault(f) => Self::Fault(f),
                }
            }
        }
    )+};
}
pub(crate) use calendar_error;
