//! The registry (Art. 3, 5, 8(3), 9): the organisations on the platform with their roles,
//! provinces, contacts and protection marks, the resources they are responsible for, and
//! the credentials they act with — client certificates from the platform CA,
//! officers and their token keys, and the regulators' notice-signing keys. Every change is
//! audited in the transaction that makes it.
//!
//! The gRPC edge (`api::registry`) checks a request in itself (ids, names, roles, PEM
//! formats) and maps each operation's error enum to a status.

pub mod contacts;
pub mod credentials;
pub mod marks;
pub mod organisations;
pub mod ownership;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use crate::auth::{Caller, OutsideScope};
use crate::domain::clock::SharedClock;
use crate::domain::organisation::OrganisationId;
use crate::pki::ClientCertificate;
use crate::store::registry::{self as reg, OrganisationRow};
use crate::store::{Store, Tx, audit};

/// The registry workflows and what they need.
#[derive(Clone)]
pub struct Registry {
    pub store: Store,
    pub clock: SharedClock,
    /// The CA every registered client certificate must chain to.
    pub ca_pem: String,
}

/// Why the organisation a request addresses cannot be acted on.
#[derive(Debug, thiserror::Error)]
pub enum AddressedError {
    #[error("organisation {id} is not registered")]
    NotRegistered { id: String },
    #[error(transparent)]
    OutsideScope(#[from] OutsideScope),
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Why a certificate cannot be registered for an organisation.
#[derive(Debug, thiserror::Error)]
pub enum CertificateRefusal {
    #[error("{0}")]
    Unreadable(String),
    #[error("the certificate names organisation {named} but the request registers it for {org}")]
    OtherOrganisation { named: String, org: String },
    #[error("the certificate was not issued by the platform CA")]
    NotFromPlatformCa,
    #[error("the certificate expired at {}", at.to_rfc3339())]
    Expired { at: DateTime<Utc> },
}

impl Registry {
    /// The organisation a request addresses, within the caller's scope.
    ///
    /// # Errors
    /// [`AddressedError`].
    pub async fn addressed(
        &self,
        caller: &Caller,
        id: &OrganisationId,
    ) -> Result<OrganisationRow, AddressedError> {
        let org = reg::get_organisation(&self.store, id.as_str())
            .await?
            .ok_or_else(|| AddressedError::NotRegistered { id: id.to_string() })?;
        caller.organisation_in_scope(&self.store, &org).await??;
        Ok(org)
    }

    /// A certificate from the platform CA, naming `org`, not expired: what every
    /// registered certificate must be.
    ///
    /// # Errors
    /// [`CertificateRefusal`].
    pub fn organisation_certificate(
        &self,
        org: &OrganisationRow,
        pem: &str,
    ) -> Result<ClientCertificate, CertificateRefusal> {
        let cert = ClientCertificate::from_pem(pem)
            .map_err(|e| CertificateRefusal::Unreadable(e.to_string()))?;
        if cert.organisation.as_str() != org.id {
            return Err(CertificateRefusal::OtherOrganisation {
                named: cert.organisation.to_string(),
                org: org.id.clone(),
            });
        }
        if !crate::pki::cert::issued_by(&cert.der, &self.ca_pem) {
            return Err(CertificateRefusal::NotFromPlatformCa);
        }
        if cert.not_after <= self.clock.now() {
            return Err(CertificateRefusal::Expired { at: cert.not_after });
        }
        Ok(cert)
    }

    /// Appends the audit record of the change made in `tx` and commits both.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn finish(
        &self,
        mut tx: Tx,
        caller: &Caller,
        action: &str,
        subject: String,
        details: serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        audit::append(
            &mut tx,
            self.store.dialect(),
            self.clock.now(),
            &caller.actor(),
            action,
            &subject,
            details,
        )
        .await?;
        tx.commit().await
    }
}

/// `From<sqlx::Error>` for an operation's error enum with a `Storage(sqlx::Error)` variant
/// and an `Addressed(AddressedError)` one: a storage failure stays a storage failure.
macro_rules! registry_error {
    ($($error:ty),+) => {$(
        impl From<crate::registry::AddressedError> for $error {
            fn from(e: crate::registry::AddressedError) -> Self {
                match e {
                    crate::registry::AddressedError::Storage(s) => Self::Storage(s),
                    other => Self::Addressed(other),
                }
            }
        }
    )+};
}
pub(crate) use registry_error;
