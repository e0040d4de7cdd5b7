//! The registry workflows' refusals as gRPC statuses.

use tonic::Status;

use crate::api::{internal, invalid, precondition};
use crate::registry::credentials::{
    OfficerError, OfficerKeyError, RegisterCertificateError, RevokeCertificateError,
    SigningKeyError,
};
use crate::registry::organisations::{CreateOrganisationError, SetEnabledError};
use crate::registry::{AddressedError, CertificateRefusal};

pub(super) fn addressed_status(e: AddressedError) -> Status {
    match e {
        AddressedError::NotRegistered { .. } => Status::not_found(e.to_string()),
        AddressedError::OutsideScope(o) => o.into(),
        AddressedError::Storage(s) => internal(s),
    }
}

fn certificate_refused(e: &CertificateRefusal) -> Status {
    invalid("certificate_pem", e.to_string())
}

impl From<CreateOrganisationError> for Status {
    fn from(e: CreateOrganisationError) -> Status {
        use CreateOrganisationError as E;
        match e {
            E::AuthorityOutsideNationalScope => Status::permission_denied(e.to_string()),
            E::OutsideScope(o) => o.into(),
            E::UnknownParent { .. } => invalid("parent_id", e.to_string()),
            E::AlreadyRegistered { .. } => Status::already_exists(e.to_string()),
            E::Storage(s) => internal(s),
        }
    }
}

impl From<SetEnabledError> for Status {
    fn from(e: SetEnabledError) -> Status {
        match e {
            SetEnabledError::Addressed(a) => addressed_status(a),
            SetEnabledError::SelfDisable { ref id } => {
                precondition("SELF_DISABLE", &format!("organisation:{id}"), e.to_string())
            }
            SetEnabledError::Storage(s) => internal(s),
        }
    }
}

impl From<RegisterCertificateError> for Status {
    fn from(e: RegisterCertificateError) -> Status {
        use RegisterCertificateError as E;
        match e {
            E::Addressed(a) => addressed_status(a),
            E::Refused(ref r) => certificate_refused(r),
            E::AlreadyRegistered { .. } => Status::already_exists(e.to_string()),
            E::Storage(s) => internal(s),
        }
    }
}

impl From<RevokeCertificateError> for Status {
    fn from(e: RevokeCertificateError) -> Status {
        use RevokeCertificateError as E;
        match e {
            E::NotRegistered { .. } => Status::not_found(e.to_string()),
            E::Addressed(a) => addressed_status(a),
            E::AlreadyRevoked {
                ref fingerprint, ..
            } => precondition(
                "ALREADY_REVOKED",
                &format!("certificate:{fingerprint}"),
                e.to_string(),
            ),
            E::Storage(s) => internal(s),
        }
    }
}

impl From<OfficerError> for Status {
    fn from(e: OfficerError) -> Status {
        match e {
            OfficerError::Addressed(a) => addressed_status(a),
            OfficerError::AlreadyRegistered { .. } => Status::already_exists(e.to_string()),
            OfficerError::NotRegistered { .. } => Status::not_found(e.to_string()),
            OfficerError::Storage(s) => internal(s),
        }
    }
}

impl From<OfficerKeyError> for Status {
    fn from(e: OfficerKeyError) -> Status {
        use OfficerKeyError as E;
        match e {
            E::Addressed(a) => addressed_status(a),
            E::AlreadyRegistered { .. } => Status::already_exists(e.to_string()),
            E::NotRegistered { .. } => Status::not_found(e.to_string()),
            E::AlreadyRevoked {
                ref organisation,
                ref kid,
            } => precondition(
                "ALREADY_REVOKED",
                &format!("officer_key:{organisation}/{kid}"),
                e.to_string(),
            ),
            E::Storage(s) => internal(s),
        }
    }
}

impl From<SigningKeyError> for Status {
    fn from(e: SigningKeyError) -> Status {
        use SigningKeyError as E;
        match e {
            E::Addressed(a) => addressed_status(a),
            E::NotASigner { ref organisation } => precondition(
                "NOT_A_REGULATOR",
                &format!("organisation:{organisation}"),
                e.to_string(),
            ),
            E::Refused(ref r) => certificate_refused(r),
            E::NotEd25519 => invalid("certificate_pem", e.to_string()),
            E::AlreadyRegistered { .. } => Status::already_exists(e.to_string()),
            E::Storage(s) => internal(s),
        }
    }
}
