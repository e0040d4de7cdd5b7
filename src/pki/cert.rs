//! Reading a client certificate: who it names, its fingerprint, its validity.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::domain::organisation::{CERTIFICATE_URI_PREFIX, OrganisationId};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    #[error("certificate is not valid PEM or DER: {0}")]
    Encoding(String),
    #[error("certificate names no organisation: it needs the SAN URI urn:fenghuo:org:<id>")]
    NoOrganisation,
    #[error("certificate names more than one organisation")]
    SeveralOrganisations,
    #[error("certificate names an invalid organisation id: {0}")]
    BadOrganisation(String),
}

/// The facts of a client certificate the platform relies on.
#[derive(Debug, Clone)]
pub struct ClientCertificate {
    pub der: Vec<u8>,
    /// SHA-256 of the DER, lower-case hex: the registry key.
    pub fingerprint: String,
    /// SHA-256 of the DER, base64url: the `cnf.x5t#S256` token binding (RFC 8705).
    pub thumbprint: String,
    pub organisation: OrganisationId,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl ClientCertificate {
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| CertificateError::Encoding(e.to_string()))?;
        let mut orgs = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                if let GeneralName::URI(uri) = name
                    && let Some(id) = uri.strip_prefix(CERTIFICATE_URI_PREFIX)
                {
                    orgs.push(id.to_owned());
                }
            }
        }
        let raw = match orgs.as_slice() {
            [] => return Err(CertificateError::NoOrganisation),
            [one] => one.clone(),
            _ => return Err(CertificateError::SeveralOrganisations),
        };
        let organisation = OrganisationId::parse(&raw)
            .map_err(|e| CertificateError::BadOrganisation(e.to_string()))?;
        let validity = cert.validity();
        let ts = |t: x509_parser::time::ASN1Time| {
            DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        let digest = Sha256::digest(der);
        Ok(ClientCertificate {
            der: der.to_vec(),
            fingerprint: hex::encode(digest),
            thumbprint: URL_SAFE_NO_PAD.encode(digest),
            organisation,
            subject: cert.subject().to_string(),
            not_before: ts(validity.not_before),
            not_after: ts(validity.not_after),
        })
    }

    pub fn from_pem(pem: &str) -> Result<Self, CertificateError> {
        let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| CertificateError::Encoding(e.to_string()))?;
        Self::from_der(&parsed.contents)
    }
}

/// Whether `cert_pem` was signed by the CA in `ca_pem`.
pub fn issued_by(cert_der: &[u8], ca_pem: &str) -> bool {
    let Ok((_, ca)) = x509_parser::pem::parse_x509_pem(ca_pem.as_bytes()) else {
        return false;
    };
    let Ok((_, ca)) = X509Certificate::from_der(&ca.contents) else {
        return false;
    };
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return false;
    };
    cert.verify_signature(Some(ca.public_key())).is_ok()
}
