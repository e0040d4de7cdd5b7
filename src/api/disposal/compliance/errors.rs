//! The compliance workflows' refusals as statuses: review items, accepted reasons and
//! enforcement.

use tonic::Status;

use crate::api::{internal, invalid, precondition};
use crate::compliance::enforcement::EnforceError;
use crate::compliance::{AcceptReasonError, SettleError};

impl From<SettleError> for Status {
    fn from(e: SettleError) -> Status {
        match e {
            SettleError::NotFound { .. } => Status::not_found(e.to_string()),
            SettleError::OutsideScope(scope) => scope.into(),
            SettleError::AlreadySettled { ref id, .. } => precondition(
                "REVIEW_SETTLED",
                &format!("review_item:{id}"),
                e.to_string(),
            ),
            SettleError::OtherThreat { ref id, .. } => precondition(
                "REVIEW_OTHER_THREAT",
                &format!("review_item:{id}"),
                e.to_string(),
            ),
            SettleError::Storage(_) => internal(e),
        }
    }
}

impl From<AcceptReasonError> for Status {
    fn from(e: AcceptReasonError) -> Status {
        match e {
            AcceptReasonError::NotANotDisposedItem { ref id } => precondition(
                "NOT_A_NOT_DISPOSED_ITEM",
                &format!("review_item:{id}"),
                e.to_string(),
            ),
            AcceptReasonError::Settle(s) => s.into(),
        }
    }
}

impl From<EnforceError> for Status {
    fn from(e: EnforceError) -> Status {
        match e {
            EnforceError::UnknownOrganisation(_) => {
                invalid("enforcement.organisation_id", e.to_string())
            }
            EnforceError::OutsideScope(scope) => scope.into(),
            EnforceError::DecidedInFuture { .. } => {
                invalid("enforcement.decided_on", e.to_string())
            }
            EnforceError::NotAnAddressee(ref org) => precondition(
                "NOT_AN_ADDRESSEE",
                &format!("organisation:{org}"),
                e.to_string(),
            ),
            EnforceError::UnknownRecord { index }
            | EnforceError::OtherUnitsRecord { index, .. } => invalid(
                &format!("enforcement.non_compliance_ids[{index}]"),
                e.to_string(),
            ),
            EnforceError::NotAnArt12Breach { ref id } => precondition(
                "NOT_AN_ART12_BREACH",
                &format!("non_compliance:{id}"),
                e.to_string(),
            ),
            EnforceError::ReviewOfOtherUnit { ref id, .. } => precondition(
                "REVIEW_OTHER_UNIT",
                &format!("review_item:{id}"),
                e.to_string(),
            ),
            EnforceError::Settle(s) => s.into(),
        }
    }
}
