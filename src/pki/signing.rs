//! Notice signatures (Art. 8: electronic notices "whose source can be
//! verified"). Each regulator signs with its own Ed25519 key, certified by the
//! platform CA; a verifier checks the body bytes exactly as received.

use chrono::{DateTime, Utc};
use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::cert::{ClientCertificate, issued_by};

/// OID of Ed25519 public keys (RFC 8410).
const ED25519_OID: &str = "1.3.101.112";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigningError {
    #[error("the signing key is not an Ed25519 PKCS#8 key: {0}")]
    Key(String),
    #[error("the signing certificate is unreadable: {0}")]
    Certificate(String),
    #[error("the signing certificate does not certify this key")]
    Mismatch,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the notice carries no signer certificate")]
    NoChain,
    #[error("the signer certificate is unreadable: {0}")]
    Certificate(String),
    #[error("the signer certificate was not issued by the platform CA")]
    UntrustedIssuer,
    #[error("the signer certificate does not carry an Ed25519 key")]
    NotEd25519,
    #[error("key id {claimed} does not match the signer certificate ({actual})")]
    KeyId { claimed: String, actual: String },
    #[error("the notice names issuer {claimed} but was signed by {signer}")]
    Issuer { claimed: String, signer: String },
    #[error(
        "the signing key was not valid at the notice's issue time {issued_at} (valid {from} to {until})"
    )]
    NotValidAt {
        issued_at: DateTime<Utc>,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    #[error(
        "the signature does not match the notice body: it was altered or signed by another key"
    )]
    BadSignature,
}

/// What a signature travels with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub signature: Vec<u8>,
    /// SHA-256 of the signer certificate (DER), lower-case hex.
    pub key_id: String,
    pub chain_der: Vec<Vec<u8>>,
}

/// A regulator's signing key with its certificate.
pub struct NoticeSigner {
    key: Ed25519KeyPair,
    certificate_der: Vec<u8>,
    key_id: String,
}

fn ed25519_key(cert: &X509Certificate<'_>) -> Result<Vec<u8>, VerifyError> {
    let spki = cert.public_key();
    if spki.algorithm.algorithm.to_id_string() != ED25519_OID {
        return Err(VerifyError::NotEd25519);
    }
    Ok(spki.subject_public_key.data.to_vec())
}

/// The key id of a certificate: its SHA-256 fingerprint.
pub fn key_id(certificate_der: &[u8]) -> String {
    hex::encode(Sha256::digest(certificate_der))
}

/// Whether a certificate carries an Ed25519 key.
pub fn is_ed25519(certificate_der: &[u8]) -> bool {
    X509Certificate::from_der(certificate_der)
        .map(|(_, c)| ed25519_key(&c).is_ok())
        .unwrap_or(false)
}

impl NoticeSigner {
    pub fn from_pem(private_key_pem: &str, certificate_pem: &str) -> Result<Self, SigningError> {
        let (_, key_pem) = x509_parser::pem::parse_x509_pem(private_key_pem.as_bytes())
            .map_err(|e| SigningError::Key(e.to_string()))?;
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&key_pem.contents)
            .map_err(|e| SigningError::Key(e.to_string()))?;
        let (_, cert_pem) = x509_parser::pem::parse_x509_pem(certificate_pem.as_bytes())
            .map_err(|e| SigningError::Certificate(e.to_string()))?;
        let (_, cert) = X509Certificate::from_der(&cert_pem.contents)
            .map_err(|e| SigningError::Certificate(e.to_string()))?;
        use ring::signature::KeyPair;
        if ed25519_key(&cert).ok().as_deref() != Some(key.public_key().as_ref()) {
            return Err(SigningError::Mismatch);
        }
        Ok(NoticeSigner {
            key_id: key_id(&cert_pem.contents),
            certificate_der: cert_pem.contents,
            key,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs the body bytes as they will travel.
    pub fn sign(&self, body: &[u8]) -> Signature {
        Signature {
            signature: self.key.sign(body).as_ref().to_vec(),
            key_id: self.key_id.clone(),
            chain_der: vec![self.certificate_der.clone()],
        }
    }
}

/// Verifies a notice offline: the chain to the platform CA, the key id, the
/// issuer named by the certificate, the key's validity at issue time, and the
/// signature over `body` exactly as received.
pub fn verify(
    body: &[u8],
    signature: &Signature,
    ca_pem: &str,
    issuer_organisation: &str,
    issued_at: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let leaf_der = signature.chain_der.first().ok_or(VerifyError::NoChain)?;
    let (_, leaf) =
        X509Certificate::from_der(leaf_der).map_err(|e| VerifyError::Certificate(e.to_string()))?;
    if !issued_by(leaf_der, ca_pem) {
        return Err(VerifyError::UntrustedIssuer);
    }
    let actual = key_id(leaf_der);
    if actual != signature.key_id {
        return Err(VerifyError::KeyId {
            claimed: signature.key_id.clone(),
            actual,
        });
    }
    let signer = ClientCertificate::from_der(leaf_der)
        .map_err(|e| VerifyError::Certificate(e.to_string()))?;
    if signer.organisation.as_str() != issuer_organisation {
        return Err(VerifyError::Issuer {
            claimed: issuer_organisation.into(),
            signer: signer.organisation.to_string(),
        });
    }
    if issued_at < signer.not_before || issued_at > signer.not_after {
        return Err(VerifyError::NotValidAt {
            issued_at,
            from: signer.not_before,
            until: signer.not_after,
        });
    }
    let public = ed25519_key(&leaf)?;
    UnparsedPublicKey::new(&ED25519, public)
        .verify(body, &signature.signature)
        .map_err(|_| VerifyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::CertificateAuthority;

    fn setup() -> (CertificateAuthority, NoticeSigner) {
        let (ca, _) = CertificateAuthority::generate("test CA").unwrap();
        let (cert, key) = ca.issue_signing("miit", "MIIT notice signing").unwrap();
        (ca, NoticeSigner::from_pem(&key, &cert).unwrap())
    }

    #[test]
    fn a_signed_body_verifies_and_any_altered_byte_fails() {
        let (ca, signer) = setup();
        let body = b"notice: block 45.33.32.156 within 4 hours".to_vec();
        let sig = signer.sign(&body);
        let now = Utc::now();
        assert_eq!(verify(&body, &sig, &ca.cert_pem, "miit", now), Ok(()));
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert_eq!(
            verify(&tampered, &sig, &ca.cert_pem, "miit", now),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn the_issuer_key_id_ca_and_issue_time_are_checked() {
        let (ca, signer) = setup();
        let body = b"notice".to_vec();
        let sig = signer.sign(&body);
        let now = Utc::now();
        assert!(matches!(
            verify(&body, &sig, &ca.cert_pem, "gdca", now),
            Err(VerifyError::Issuer { .. })
        ));
        let (other_ca, _) = CertificateAuthority::generate("other CA").unwrap();
        assert_eq!(
            verify(&body, &sig, &other_ca.cert_pem, "miit", now),
            Err(VerifyError::UntrustedIssuer)
        );
        let wrong_id = Signature {
            key_id: "00".repeat(32),
            ..sig.clone()
        };
        assert!(matches!(
            verify(&body, &wrong_id, &ca.cert_pem, "miit", now),
            Err(VerifyError::KeyId { .. })
        ));
        let long_ago = now - chrono::Duration::days(3650);
        assert!(matches!(
            verify(&body, &sig, &ca.cert_pem, "miit", long_ago),
            Err(VerifyError::NotValidAt { .. })
        ));
        assert_eq!(
            verify(
                &body,
                &Signature {
                    chain_der: vec![],
                    ..sig
                },
                &ca.cert_pem,
                "miit",
                now
            ),
            Err(VerifyError::NoChain)
        );
    }

    #[test]
    fn a_rotated_key_still_verifies_what_it_signed() {
        let (ca, old) = setup();
        let body = b"old notice".to_vec();
        let sig = old.sign(&body);
        let (cert, key) = ca.issue_signing("miit", "MIIT notice signing 2").unwrap();
        let new = NoticeSigner::from_pem(&key, &cert).unwrap();
        assert_ne!(new.key_id(), old.key_id());
        assert_eq!(
            verify(&body, &sig, &ca.cert_pem, "miit", Utc::now()),
            Ok(())
        );
    }

    #[test]
    fn a_key_that_does_not_match_its_certificate_is_refused() {
        let (ca, _) = setup();
        let (cert, _) = ca.issue_signing("miit", "a").unwrap();
        let (_, other_key) = ca.issue_signing("miit", "b").unwrap();
        assert!(matches!(
            NoticeSigner::from_pem(&other_key, &cert),
            Err(SigningError::Mismatch)
        ));
    }
}
