//! What organisations act with: client certificates from the platform CA, officers and the
//! keys their tokens are signed with, and the regulators' document-signing keys (Art. 8:
//! notices whose source can be verified).

use super::{AddressedError, CertificateRefusal, Registry, registry_error};
use crate::auth::Caller;
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::organisation::OrganisationId;
use crate::store::registry::{
    self as reg, CertificateRow, OfficerKeyRow, OfficerRow, SigningKeyRow, is_unique_violation,
};

/// Why a certificate cannot be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterCertificateError {
    #[error(transparent)]
    Addressed(AddressedError),
    #[error(transparent)]
    Refused(#[from] CertificateRefusal),
    #[error("certificate {fingerprint} is already registered")]
    AlreadyRegistered { fingerprint: String },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Why a certificate cannot be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeCertificateError {
    #[error("certificate {fingerprint} is not registered")]
    NotRegistered { fingerprint: String },
    #[error(transparent)]
    Addressed(AddressedError),
    #[error("already revoked at {}", from_micros(*at).to_rfc3339())]
    AlreadyRevoked { fingerprint: String, at: i64 },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Why an officer cannot be registered, enabled or disabled.
#[derive(Debug, thiserror::Error)]
pub enum OfficerError {
    #[error(transparent)]
    Addressed(AddressedError),
    #[error("officer {name} of {organisation} is already registered")]
    AlreadyRegistered { organisation: String, name: String },
    #[error("officer {name} of {organisation} is not registered")]
    NotRegistered { organisation: String, name: String },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Why an officer key cannot be registered or revoked.
#[derive(Debug, thiserror::Error)]
pub enum OfficerKeyError {
    #[error(transparent)]
    Addressed(AddressedError),
    #[error("key {kid} of {organisation} is already registered")]
    AlreadyRegistered { organisation: String, kid: String },
    #[error("key {kid} of {organisation} is not registered")]
    NotRegistered { organisation: String, kid: String },
    #[error("already revoked")]
    AlreadyRevoked { organisation: String, kid: String },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Why a signing key cannot be registered.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error(transparent)]
    Addressed(AddressedError),
    /// Art. 8 and reporting measures Art. 19: only regulators and the institution sign.
    #[error(
        "only regulators sign notices (Art. 8) and the institution its bulletins (2009 reporting measures Art. 19)"
    )]
    NotASigner { organisation: String },
    #[error(transparent)]
    Refused(#[from] CertificateRefusal),
    #[error("a notice-signing certificate carries an Ed25519 key")]
    NotEd25519,
    #[error("signing key {key_id} is already registered")]
    AlreadyRegistered { key_id: String },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

registry_error!(
    RegisterCertificateError,
    RevokeCertificateError,
    OfficerError,
    OfficerKeyError,
    SigningKeyError
);

/// An officer key as registered: the edge has checked the PEM reads for its algorithm.
#[derive(Debug, Clone)]
pub struct NewOfficerKey {
    pub organisation: OrganisationId,
    pub kid: String,
    pub algorithm: String,
    pub public_key_pem: String,
}

impl Registry {
    /// Registers a client certificate of `organisation`, audited.
    ///
    /// # Errors
    /// [`RegisterCertificateError`].
    pub async fn register_certificate(
        &self,
        caller: &Caller,
        organisation: &OrganisationId,
        pem: &str,
    ) -> Result<CertificateRow, RegisterCertificateError> {
        let org = self.addressed(caller, organisation).await?;
        let cert = self.organisation_certificate(&org, pem)?;
        let row = CertificateRow::new(&cert, &org.id, pem, to_micros(self.clock.now()));
        let details = serde_json::json!({"organisation_id": org.id, "subject": row.subject, "not_after": cert.not_after.to_rfc3339()});
        let mut tx = self.store.begin().await?;
        reg::insert_certificate(&mut tx, &row).await.map_err(|e| {
            if is_unique_violation(&e) {
                RegisterCertificateError::AlreadyRegistered {
                    fingerprint: row.fingerprint.clone(),
                }
            } else {
                e.into()
            }
        })?;
        self.finish(
            tx,
            caller,
            "registry.certificate.register",
            format!("certificate:{}", row.fingerprint),
            details,
        )
        .await?;
        Ok(row)
    }

    /// Revokes a certificate for `reason`, audited; it stops working at once.
    ///
    /// # Errors
    /// [`RevokeCertificateError`].
    pub async fn revoke_certificate(
        &self,
        caller: &Caller,
        fingerprint: &str,
        reason: &str,
    ) -> Result<CertificateRow, RevokeCertificateError> {
        let cert = reg::get_certificate(&self.store, fingerprint)
            .await?
            .ok_or_else(|| RevokeCertificateError::NotRegistered {
                fingerprint: fingerprint.to_owned(),
            })?;
        let owner = OrganisationId::parse(&cert.org_id).map_err(|_| {
            RevokeCertificateError::NotRegistered {
                fingerprint: fingerprint.to_owned(),
            }
        })?;
        self.addressed(caller, &owner).await?;
        if let Some(at) = cert.revoked_at {
            return Err(RevokeCertificateError::AlreadyRevoked {
                fingerprint: fingerprint.to_owned(),
                at,
            });
        }
        let now = to_micros(self.clock.now());
        let details = serde_json::json!({"organisation_id": cert.org_id, "reason": reason});
        let mut tx = self.store.begin().await?;
        reg::revoke_certificate(&mut tx, fingerprint, reason, now).await?;
        self.finish(
            tx,
            caller,
            "registry.certificate.revoke",
            format!("certificate:{fingerprint}"),
            details,
        )
        .await?;
        Ok(reg::get_certificate(&self.store, fingerprint)
            .await?
            .unwrap_or(cert))
    }

    /// Registers an officer of `organisation`, audited.
    ///
    /// # Errors
    /// [`OfficerError`].
    pub async fn register_officer(
        &self,
        caller: &Caller,
        organisation: &OrganisationId,
        name: String,
        display_name: String,
    ) -> Result<OfficerRow, OfficerError> {
        let org = self.addressed(caller, organisation).await?;
        let row = OfficerRow {
            org_id: org.id.clone(),
            name,
            display_name,
            enabled: 1,
            registered_at: to_micros(self.clock.now()),
        };
        let subject = format!("officer:{}/{}", row.org_id, row.name);
        let details = serde_json::json!({"display_name": row.display_name});
        let mut tx = self.store.begin().await?;
        reg::insert_officer(&mut tx, &row).await.map_err(|e| {
            if is_unique_violation(&e) {
                OfficerError::AlreadyRegistered {
                    organisation: row.org_id.clone(),
                    name: row.name.clone(),
                }
            } else {
                e.into()
            }
        })?;
        self.finish(tx, caller, "registry.officer.register", subject, details)
            .await?;
        Ok(row)
    }

    /// Enables or disables an officer; the reason is audited.
    ///
    /// # Errors
    /// [`OfficerError`].
    pub async fn set_officer_enabled(
        &self,
        caller: &Caller,
        organisation: &OrganisationId,
        name: &str,
        enabled: bool,
        reason: &str,
    ) -> Result<OfficerRow, OfficerError> {
        let org = self.addressed(caller, organisation).await?;
        let not_registered = || OfficerError::NotRegistered {
            organisation: org.id.clone(),
            name: name.to_owned(),
        };
        let action = if enabled {
            "registry.officer.enable"
        } else {
            "registry.officer.disable"
        };
        let details = serde_json::json!({"enabled": enabled, "reason": reason});
        let mut tx = self.store.begin().await?;
        let found = reg::set_officer_enabled(&mut tx, &org.id, name, enabled).await?;
        if !found {
            return Err(not_registered());
        }
        self.finish(
            tx,
            caller,
            action,
            format!("officer:{}/{name}", org.id),
            details,
        )
        .await?;
        reg::get_officer(&self.store, &org.id, name)
            .await?
            .ok_or_else(not_registered)
    }

    /// Registers the public key an officer's tokens are verified with, audited.
    ///
    /// # Errors
    /// [`OfficerKeyError`].
    pub async fn register_officer_key(
        &self,
        caller: &Caller,
        key: NewOfficerKey,
    ) -> Result<OfficerKeyRow, OfficerKeyError> {
        let org = self.addressed(caller, &key.organisation).await?;
        let row = OfficerKeyRow {
            org_id: org.id.clone(),
            kid: key.kid,
            algorithm: key.algorithm,
            public_key_pem: key.public_key_pem,
            registered_at: to_micros(self.clock.now()),
            revoked_at: None,
        };
        let subject = format!("officer_key:{}/{}", row.org_id, row.kid);
        let details =
            serde_json::json!({"algorithm": row.algorithm, "public_key_pem": row.public_key_pem});
        let mut tx = self.store.begin().await?;
        reg::insert_officer_key(&mut tx, &row).await.map_err(|e| {
            if is_unique_violation(&e) {
                OfficerKeyError::AlreadyRegistered {
                    organisation: row.org_id.clone(),
                    kid: row.kid.clone(),
                }
            } else {
                e.into()
            }
        })?;
        self.finish(
            tx,
            caller,
            "registry.officer_key.register",
            subject,
            details,
        )
        .await?;
        Ok(row)
    }

    /// Revokes an officer key for `reason`, audited; tokens it signed stop working.
    ///
    /// # Errors
    /// [`OfficerKeyError`].
    pub async fn revoke_officer_key(
        &self,
        caller: &Caller,
        organisation: &OrganisationId,
        kid: &str,
        reason: &str,
    ) -> Result<OfficerKeyRow, OfficerKeyError> {
        let org = self.addressed(caller, organisation).await?;
        let key = reg::get_officer_key(&self.store, &org.id, kid)
            .await?
            .ok_or_else(|| OfficerKeyError::NotRegistered {
                organisation: org.id.clone(),
                kid: kid.to_owned(),
            })?;
        if key.revoked_at.is_some() {
            return Err(OfficerKeyError::AlreadyRevoked {
                organisation: org.id,
                kid: kid.to_owned(),
            });
        }
        let now = to_micros(self.clock.now());
        let mut tx = self.store.begin().await?;
        reg::revoke_officer_key(&mut tx, &org.id, kid, now).await?;
        self.finish(
            tx,
            caller,
            "registry.officer_key.revoke",
            format!("officer_key:{}/{kid}", org.id),
            serde_json::json!({"reason": reason}),
        )
        .await?;
        Ok(OfficerKeyRow {
            revoked_at: Some(now),
            ..key
        })
    }

    /// Registers a regulator's (or the institution's) document-signing certificate, audited.
    ///
    /// # Errors
    /// [`SigningKeyError`].
    pub async fn register_signing_key(
        &self,
        caller: &Caller,
        organisation: &OrganisationId,
        pem: &str,
    ) -> Result<SigningKeyRow, SigningKeyError> {
        let org = self.addressed(caller, organisation).await?;
        if !org.roles().iter().any(|r| r.signs_documents()) {
            return Err(SigningKeyError::NotASigner {
                organisation: org.id,
            });
        }
        let cert = self.organisation_certificate(&org, pem)?;
        if !crate::pki::signing::is_ed25519(&cert.der) {
            return Err(SigningKeyError::NotEd25519);
        }
        let row = SigningKeyRow {
            key_id: crate::pki::signing::key_id(&cert.der),
            org_id: org.id.clone(),
            certificate_pem: pem.trim().to_owned(),
            valid_from: to_micros(cert.not_before),
            valid_until: to_micros(cert.not_after),
            registered_at: to_micros(self.clock.now()),
            retired_at: None,
        };
        let mut tx = self.store.begin().await?;
        reg::insert_signing_key(&mut tx, &row).await.map_err(|e| {
            if is_unique_violation(&e) {
                SigningKeyError::AlreadyRegistered {
                    key_id: row.key_id.clone(),
                }
            } else {
                e.into()
            }
        })?;
        let details =
            serde_json::json!({"key_id": row.key_id, "not_after": cert.not_after.to_rfc3339()});
        self.finish(
            tx,
            caller,
            "registry.signing_key.register",
            format!("organisation:{}", org.id),
            details,
        )
        .await?;
        Ok(row)
    }
}
