//! Publishing a month's bulletin: rendered in both languages, signed by the publishing
//! institution like a notice (Ed25519 over a manifest that names the SHA-256 of each
//! document, verifiable offline), stored and audited in one transaction.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::figures::{MonthFigures, assemble};
use super::pdf::Fonts;
use super::{Language, RenderError, html, pdf};
use crate::domain::clock::to_micros;
use crate::pki::keyring::SigningKeyring;
use crate::pki::signing::{self, Signature, VerifyError};
use crate::store::bulletins::{self, BulletinRow};
use crate::store::{Store, audit};

/// What the signature covers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Always `fenghuo.monthly-bulletin.v1`: a signature over a manifest is never mistaken
    /// for one over a notice body.
    pub r#type: String,
    /// `YYYY-MM`.
    pub month: String,
    pub language: String,
    pub publisher: String,
    /// RFC 3339, UTC.
    pub published_at: String,
    pub html_sha256: String,
    pub pdf_sha256: String,
}

pub const MANIFEST_TYPE: &str = "fenghuo.monthly-bulletin.v1";

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "{publisher} holds no current signing key on this server (RegistryService.RegisterSigningKey; \
         key files under notice_signing_dir): a bulletin is published signed (2009 reporting measures Art. 19)"
    )]
    NoSigningKey { publisher: String },
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("storing the bulletin failed: {0}")]
    Storage(#[from] sqlx::Error),
}

pub fn month_key(figures: &MonthFigures) -> String {
    figures.month.format("%Y-%m").to_string()
}

/// Renders, signs, stores and audits the bulletin of `figures.month` in Chinese and English.
/// Rendering runs off the async threads; a month published again is replaced (the audit
/// log keeps each version's hashes).
///
/// # Errors
/// [`PublishError`]: no signing key, a rendering failure, or storage.
pub async fn publish(
    store: &Store,
    keyring: &SigningKeyring,
    fonts: Arc<Fonts>,
    figures: &MonthFigures,
    actor: &audit::Actor,
    now: DateTime<Utc>,
) -> Result<Vec<BulletinRow>, PublishError> {
    let publisher = figures.publisher_id.clone();
    let signer = keyring
        .current(store, &publisher, now)
        .await?
        .ok_or_else(|| PublishError::NoSigningKey {
            publisher: publisher.clone(),
        })?;
    let month = month_key(figures);
    let figures_json = serde_json::to_string(figures).unwrap_or_default();
    let mut rows = Vec::new();
    for language in Language::ALL {
        let doc = assemble(figures, language);
        let fonts = fonts.clone();
        let (html, pdf) = tokio::task::spawn_blocking(move || {
            Ok::<_, RenderError>((html::render(&doc)?.into_bytes(), pdf::render(&doc, &fonts)?))
        })
        .await
        .map_err(|e| RenderError::Typeset(format!("the renderer stopped: {e}")))??;
        let manifest = Manifest {
            r#type: MANIFEST_TYPE.into(),
            month: month.clone(),
            language: language.tag().into(),
            publisher: publisher.clone(),
            published_at: now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            html_sha256: hex::encode(Sha256::digest(&html)),
            pdf_sha256: hex::encode(Sha256::digest(&pdf)),
        };
        let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
        let signature = signer.sign(&manifest_bytes);
        rows.push(BulletinRow {
            month: month.clone(),
            language: language.tag().into(),
            publisher: publisher.clone(),
            published_at: to_micros(now),
            manifest: manifest_bytes,
            signature: signature.signature,
            key_id: signature.key_id,
            chain_der: encode_chain(&signature.chain_der),
            html,
            pdf,
            figures: figures_json.clone(),
        });
    }
    let mut tx = store.begin().await?;
    for row in &rows {
        bulletins::replace(&mut tx, row).await?;
    }
    audit::append(
        &mut tx,
        store.dialect(),
        now,
        actor,
        "bulletin.published",
        &format!("bulletin:{month}"),
        serde_json::json!({
            "publisher": publisher,
            "key_id": rows.first().map(|r| r.key_id.clone()),
            "documents": rows.iter().map(|r| serde_json::json!({
                "language": r.language,
                "manifest_sha256": hex::encode(Sha256::digest(&r.manifest)),
            })).collect::<Vec<_>>(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// The certificate chain as stored: each DER with a 4-byte big-endian length.
pub fn encode_chain(chain: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for der in chain {
        out.extend_from_slice(&(der.len() as u32).to_be_bytes());
        out.extend_from_slice(der);
    }
    out
}

pub fn decode_chain(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut chain = Vec::new();
    while !bytes.is_empty() {
        let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        chain.push(bytes.get(4..4 + len)?.to_vec());
        bytes = &bytes[4 + len..];
    }
    Some(chain)
}

#[derive(Debug, thiserror::Error)]
pub enum BulletinVerifyError {
    #[error("the manifest is not a bulletin manifest: {0}")]
    Manifest(String),
    #[error("the signature does not hold: {0}")]
    Signature(#[from] VerifyError),
    #[error("the {document} does not match the signed manifest: SHA-256 {actual}, signed {signed}")]
    Altered {
        document: &'static str,
        actual: String,
        signed: String,
    },
}

/// Verifies a bulletin offline: the signature over the manifest (chain to the platform CA,
/// the publisher named by the certificate, the key valid when published), then each
/// document's SHA-256 against the manifest.
///
/// # Errors
/// [`BulletinVerifyError`] naming what failed.
pub fn verify(
    manifest: &[u8],
    signature: &Signature,
    html: Option<&[u8]>,
    pdf: Option<&[u8]>,
    ca_pem: &str,
) -> Result<Manifest, BulletinVerifyError> {
    let m: Manifest = serde_json::from_slice(manifest)
        .map_err(|e| BulletinVerifyError::Manifest(e.to_string()))?;
    if m.r#type != MANIFEST_TYPE {
        return Err(BulletinVerifyError::Manifest(format!(
            "type {:?}",
            m.r#type
        )));
    }
    let at = DateTime::parse_from_rfc3339(&m.published_at)
        .map_err(|e| BulletinVerifyError::Manifest(format!("published_at: {e}")))?
        .with_timezone(&Utc);
    signing::verify(manifest, signature, ca_pem, &m.publisher, at)?;
    for (document, bytes, signed) in [("HTML", html, &m.html_sha256), ("PDF", pdf, &m.pdf_sha256)] {
        if let Some(bytes) = bytes {
            let actual = hex::encode(Sha256::digest(bytes));
            if &actual != signed {
                return Err(BulletinVerifyError::Altered {
                    document,
                    actual,
                    signed: signed.clone(),
                });
            }
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_survives_storage() {
        let chain = vec![vec![1, 2, 3], Vec::new(), vec![9; 300]];
        assert_eq!(decode_chain(&encode_chain(&chain)), Some(chain));
        assert_eq!(decode_chain(&[0, 0, 0, 5, 1]), None);
    }
}
