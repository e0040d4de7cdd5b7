//! The first organisation of a production platform. A server on its own PKI starts with an
//! empty registry, and every RPC needs a registered certificate, so the first administrator
//! (the national regulator or the platform operator) is written straight into the database
//! before first start — once, audited, and never over an existing registry.

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::domain::clock::to_micros;
use crate::domain::organisation::{
    OrganisationId, Province, Role, organisation_name, roles_fit_province,
};
use crate::pki::ClientCertificate;
use crate::store::Store;
use crate::store::audit::{self, Actor};
use crate::store::registry::{self, CertificateRow, OfficerKeyRow, OfficerRow, OrganisationRow};

/// What `fenghuo bootstrap` registers.
#[derive(Debug, Clone)]
pub struct Founding {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub province: String,
    /// The administrator's client certificate (PEM), issued by the platform CA.
    pub certificate_pem: String,
    /// The first officer and the organisation's token-signing public key, so that decisions
    /// (which need an officer token) can be taken from the first day.
    pub officer: Option<FoundingOfficer>,
}

#[derive(Debug, Clone)]
pub struct FoundingOfficer {
    pub name: String,
    pub key_id: String,
    /// Ed25519 public key, PEM (`fenghuo token keygen` writes one).
    pub public_key_pem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(
        "the registry already holds {0} organisation(s): bootstrap only enters an empty platform; onboard further organisations with RegistryService.CreateOrganisation"
    )]
    NotEmpty(i64),
    #[error(
        "--role: the first organisation administers the platform, so it is national_regulator or platform_operator, not {0}"
    )]
    Role(Role),
    #[error("--{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

fn invalid(field: &'static str, problem: impl Into<String>) -> BootstrapError {
    BootstrapError::Invalid {
        field,
        problem: problem.into(),
    }
}

/// Checks `founding` against the platform CA and writes it, with its audit record, in one
/// transaction that first makes sure the registry is empty.
pub async fn bootstrap(
    store: &Store,
    ca_pem: &str,
    founding: &Founding,
    now: DateTime<Utc>,
) -> Result<(), BootstrapError> {
    if !matches!(
        founding.role,
        Role::NationalRegulator | Role::PlatformOperator
    ) {
        return Err(BootstrapError::Role(founding.role));
    }
    let id = OrganisationId::parse(&founding.id).map_err(|e| invalid("org", e.to_string()))?;
    let province =
        Province::parse(&founding.province).map_err(|e| invalid("province", e.to_string()))?;
    roles_fit_province(&[founding.role], &province).map_err(|e| invalid("province", e))?;
    let name = organisation_name(&founding.name).map_err(|e| invalid("name", e))?;
    let cert = ClientCertificate::from_pem(&founding.certificate_pem)
        .map_err(|e| invalid("cert", e.to_string()))?;
    if cert.organisation != id {
        return Err(invalid(
            "cert",
            format!(
                "the certificate names organisation {} (SAN URI urn:fenghuo:org:…), not {id}",
                cert.organisation
            ),
        ));
    }
    if !crate::pki::cert::issued_by(&cert.der, ca_pem) {
        return Err(invalid(
            "cert",
            "the certificate was not issued by the configured CA ([tls] ca_cert)",
        ));
    }
    if cert.not_after <= now {
        return Err(invalid(
            "cert",
            format!("the certificate expired at {}", cert.not_after.to_rfc3339()),
        ));
    }
    if let Some(officer) = &founding.officer {
        if officer.name.trim().is_empty() || officer.key_id.trim().is_empty() {
            return Err(invalid(
                "officer",
                "the officer's name and key id are required",
            ));
        }
        if jsonwebtoken::DecodingKey::from_ed_pem(officer.public_key_pem.as_bytes()).is_err() {
            return Err(invalid(
                "officer-key",
                "not a PEM Ed25519 public key (fenghuo token keygen writes one)",
            ));
        }
    }

    let at = to_micros(now);
    let mut tx = store.begin().await.context("starting a transaction")?;
    let (existing,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM organisations")
        .fetch_one(&mut *tx)
        .await
        .context("counting organisations")?;
    if existing > 0 {
        return Err(BootstrapError::NotEmpty(existing));
    }
    registry::insert_organisation(
        &mut tx,
        &OrganisationRow::new(id.as_str(), name, &[founding.role], province.as_str(), at),
    )
    .await
    .context("inserting the organisation")?;
    registry::insert_certificate(
        &mut tx,
        &CertificateRow::new(&cert, id.as_str(), &founding.certificate_pem, at),
    )
    .await
    .context("inserting the certificate")?;
    if let Some(officer) = &founding.officer {
        registry::insert_officer(
            &mut tx,
            &OfficerRow {
                org_id: id.to_string(),
                name: officer.name.trim().into(),
                display_name: officer.name.trim().into(),
                enabled: 1,
                registered_at: at,
            },
        )
        .await
        .context("inserting the officer")?;
        registry::insert_officer_key(
            &mut tx,
            &OfficerKeyRow {
                org_id: id.to_string(),
                kid: officer.key_id.trim().into(),
                algorithm: "EdDSA".into(),
                public_key_pem: officer.public_key_pem.trim().into(),
                registered_at: at,
                revoked_at: None,
            },
        )
        .await
        .context("inserting the officer key")?;
    }
    let details = serde_json::json!({
        "role": founding.role.as_str(),
        "province": province.as_str(),
        "certificate": cert.fingerprint,
        "officer": founding.officer.as_ref().map(|o| &o.name),
        "officer_key_id": founding.officer.as_ref().map(|o| &o.key_id),
    });
    audit::append(
        &mut tx,
        store.dialect(),
        now,
        &Actor::system(),
        "registry.bootstrap",
        &format!("organisation:{id}"),
        details,
    )
    .await
    .context("appending the audit record")?;
    tx.commit().await.context("committing the bootstrap")?;
    tracing::info!(organisation = %id, role = founding.role.as_str(), certificate = %cert.fingerprint, "bootstrapped the platform's first organisation");
    Ok(())
}
