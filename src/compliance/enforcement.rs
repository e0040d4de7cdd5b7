//! Art. 12: enforcement (interview, warning, fine) recorded against a unit that was ordered to
//! act, citing the missed duties it punishes and settling the review items it answers.

use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;

use super::{SettleError, settle_review};
use crate::auth::{Caller, OutsideScope};
use crate::domain::calendar::local_date;
use crate::domain::clock::to_micros;
use crate::pb;
use crate::store::{Store, audit, notices, registry};

/// The measures Art. 12 lets a regulator take, numbered as in the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnforcementKind {
    Interview = 1,
    Warning = 2,
    /// The only kind with an amount.
    Fine = 3,
}

/// An enforcement as the regulator records it, its input already well-formed.
#[derive(Debug, Clone)]
pub struct RecordEnforcement {
    pub organisation_id: String,
    pub kind: EnforcementKind,
    pub decided_on: NaiveDate,
    pub document_number: String,
    /// Fen; non-zero exactly for a fine.
    pub fine_amount_fen: u64,
    pub description: String,
    /// The law the measure stands on.
    pub legal_basis: String,
    /// The missed duties it punishes (missing results or lifts).
    pub non_compliance_ids: Vec<String>,
    /// Review items this enforcement answers, settled with it.
    pub resolves_review_item_ids: Vec<String>,
}

/// Why an enforcement is refused: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum EnforceError {
    #[error("no organisation {0:?}")]
    UnknownOrganisation(String),
    #[error(transparent)]
    OutsideScope(#[from] OutsideScope),
    #[error("lies in the future")]
    DecidedInFuture { decided_on: NaiveDate },
    #[error(
        "Art. 12: {0} was never the addressee of a disposal notice, so it has no notice to have failed to carry out"
    )]
    NotAnAddressee(String),
    #[error("no such record")]
    UnknownRecord { index: usize },
    #[error("record of {of}, not of {organisation}")]
    OtherUnitsRecord {
        index: usize,
        of: String,
        organisation: String,
    },
    #[error(
        "a missing receipt is a delivery figure and a missing verification the institution's KPI, not an Art. 12 breach: an enforcement cites missing results or lifts"
    )]
    NotAnArt12Breach { id: String },
    #[error("concerns {concerns}, not {organisation}")]
    ReviewOfOtherUnit {
        id: String,
        concerns: String,
        organisation: String,
    },
    #[error(transparent)]
    Settle(#[from] SettleError),
}

impl From<sqlx::Error> for EnforceError {
    fn from(e: sqlx::Error) -> Self {
        EnforceError::Settle(SettleError::Storage(e))
    }
}

/// Records `command` for `caller`'s regulator: the enforcement, the review items it settles
/// and the audit record in one transaction.
///
/// # Errors
/// [`EnforceError`].
pub async fn record(
    store: &Store,
    caller: &Caller,
    command: RecordEnforcement,
    now: DateTime<Utc>,
) -> Result<pb::Enforcement, EnforceError> {
    let org = registry::get_organisation(store, &command.organisation_id)
        .await?
        .ok_or_else(|| EnforceError::UnknownOrganisation(command.organisation_id.clone()))?;
    let is_own = match caller.scope {
        crate::auth::policy::Scope::Allow => true,
        _ => registry::is_same_or_descendant(store, &caller.organisation_id, &org.id).await?,
    };
    caller.within_scope(is_own, &org.province, &format!("organisation {}", org.id))?;
    if command.decided_on > local_date(now) {
        return Err(EnforceError::DecidedInFuture {
            decided_on: command.decided_on,
        });
    }
    // Art. 12 binds the units a notice ordered to act.
    if !notices::was_addressee(store, &org.id).await? {
        return Err(EnforceError::NotAnAddressee(org.id));
    }
    let enforcement = pb::Enforcement {
        id: uuid::Uuid::now_v7().to_string(),
        organisation_id: org.id.clone(),
        kind: command.kind as i32,
        decided_on: Some(pb::date_to_pb(command.decided_on)),
        document_number: command.document_number,
        fine_amount_fen: command.fine_amount_fen,
        description: command.description,
        non_compliance_ids: command.non_compliance_ids.clone(),
        regulator_organisation_id: caller.organisation_id.clone(),
        officer_name: caller.officer.clone().unwrap_or_default(),
        recorded_at: Some(pb::timestamp(to_micros(now))),
        legal_basis: command.legal_basis,
    };
    let nc_ids = command.non_compliance_ids;
    let review_ids = command.resolves_review_item_ids;
    let mut tx = store.begin().await?;
    for (index, id) in nc_ids.iter().enumerate() {
        let nc = notices::non_compliance_in_tx(&mut tx, id)
            .await?
            .ok_or(EnforceError::UnknownRecord { index })?;
        if nc.org_id != org.id {
            return Err(EnforceError::OtherUnitsRecord {
                index,
                of: nc.org_id,
                organisation: org.id,
            });
        }
        if !crate::domain::notice::is_art12_breach(nc.kind) {
            return Err(EnforceError::NotAnArt12Breach { id: id.clone() });
        }
    }
    for id in &review_ids {
        let settled_by = format!("enforcement:{}", enforcement.id);
        let item = settle_review(&mut tx, caller, id, "", &settled_by, now).await?;
        if item.addressee != org.id {
            return Err(EnforceError::ReviewOfOtherUnit {
                id: id.clone(),
                concerns: item.addressee,
                organisation: org.id,
            });
        }
    }
    notices::insert_enforcement(
        &mut tx,
        &enforcement.id,
        &org.id,
        &caller.organisation_id,
        to_micros(now),
        &enforcement.encode_to_vec(),
        &nc_ids,
    )
    .await?;
    audit::append(
        &mut tx,
        store.dialect(),
        now,
        &caller.actor(),
        "disposal.record_enforcement",
        &format!("organisation:{}", org.id),
        serde_json::json!({
            "enforcement_id": enforcement.id,
            "kind": enforcement.kind,
            "fine_amount_fen": enforcement.fine_amount_fen,
            "non_compliance_ids": nc_ids,
            "settles_review_items": review_ids,
            "legal_basis": enforcement.legal_basis,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(enforcement)
}
