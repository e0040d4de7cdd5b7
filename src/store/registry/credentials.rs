//! Certificates, officers and their keys, and the regulators' notice-signing keys.

use sqlx::AssertSqlSafe;

use super::bump_access_epoch;
use crate::store::{Store, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertificateRow {
    pub fingerprint: String,
    pub org_id: String,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    pub registered_at: i64,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<String>,
    pub pem: String,
}

impl CertificateRow {
    /// A parsed client certificate of `org_id`, registered at `at` (micros), not revoked.
    pub fn new(cert: &crate::pki::ClientCertificate, org_id: &str, pem: &str, at: i64) -> Self {
        CertificateRow {
            fingerprint: cert.fingerprint.clone(),
            org_id: org_id.to_owned(),
            subject: cert.subject.clone(),
            not_before: crate::domain::clock::to_micros(cert.not_before),
            not_after: crate::domain::clock::to_micros(cert.not_after),
            registered_at: at,
            revoked_at: None,
            revocation_reason: None,
            pem: pem.trim().to_owned(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfficerRow {
    pub org_id: String,
    pub name: String,
    pub display_name: String,
    pub enabled: i64,
    pub registered_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfficerKeyRow {
    pub org_id: String,
    pub kid: String,
    pub algorithm: String,
    pub public_key_pem: String,
    pub registered_at: i64,
    pub revoked_at: Option<i64>,
}

const CERT_COLUMNS: &str = "fingerprint, org_id, subject, not_before, not_after, registered_at, revoked_at, revocation_reason, pem";

pub async fn insert_certificate(tx: &mut Tx, c: &CertificateRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO certificates (fingerprint, org_id, subject, not_before, not_after, registered_at, revoked_at, revocation_reason, pem) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&c.fingerprint)
    .bind(&c.org_id)
    .bind(&c.subject)
    .bind(c.not_before)
    .bind(c.not_after)
    .bind(c.registered_at)
    .bind(c.revoked_at)
    .bind(c.revocation_reason.clone())
    .bind(&c.pem)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get_certificate(
    store: &Store,
    fingerprint: &str,
) -> Result<Option<CertificateRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE fingerprint = $1"
    )))
    .bind(fingerprint)
    .fetch_optional(store.pool())
    .await
}

pub async fn revoke_certificate(
    tx: &mut Tx,
    fingerprint: &str,
    reason: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE certificates SET revoked_at = $1, revocation_reason = $2 WHERE fingerprint = $3 AND revoked_at IS NULL",
    )
    .bind(at)
    .bind(reason)
    .bind(fingerprint)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    bump_access_epoch(tx).await?;
    Ok(n == 1)
}

pub async fn list_certificates(
    store: &Store,
    org_id: &str,
    after: &str,
    limit: u32,
) -> Result<Vec<CertificateRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE org_id = $1 AND fingerprint > $2 ORDER BY fingerprint LIMIT {limit}"
    )))
    .bind(org_id)
    .bind(after)
    .fetch_all(store.pool())
    .await
}

pub async fn insert_officer(tx: &mut Tx, o: &OfficerRow) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO officers (org_id, name, display_name, enabled, registered_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&o.org_id)
        .bind(&o.name)
        .bind(&o.display_name)
        .bind(o.enabled)
        .bind(o.registered_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn get_officer(
    store: &Store,
    org_id: &str,
    name: &str,
) -> Result<Option<OfficerRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT org_id, name, display_name, enabled, registered_at FROM officers WHERE org_id = $1 AND name = $2",
    )
    .bind(org_id)
    .bind(name)
    .fetch_optional(store.pool())
    .await
}

pub async fn set_officer_enabled(
    tx: &mut Tx,
    org_id: &str,
    name: &str,
    enabled: bool,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("UPDATE officers SET enabled = $1 WHERE org_id = $2 AND name = $3")
        .bind(i64::from(enabled))
        .bind(org_id)
        .bind(name)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub async fn list_officers(
    store: &Store,
    org_id: &str,
    after: &str,
    limit: u32,
) -> Result<Vec<OfficerRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT org_id, name, display_name, enabled, registered_at FROM officers \
         WHERE org_id = $1 AND name > $2 ORDER BY name LIMIT {limit}"
    )))
    .bind(org_id)
    .bind(after)
    .fetch_all(store.pool())
    .await
}

pub async fn insert_officer_key(tx: &mut Tx, k: &OfficerKeyRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO officer_keys (org_id, kid, algorithm, public_key_pem, registered_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&k.org_id)
    .bind(&k.kid)
    .bind(&k.algorithm)
    .bind(&k.public_key_pem)
    .bind(k.registered_at)
    .bind(k.revoked_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get_officer_key(
    store: &Store,
    org_id: &str,
    kid: &str,
) -> Result<Option<OfficerKeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT org_id, kid, algorithm, public_key_pem, registered_at, revoked_at FROM officer_keys WHERE org_id = $1 AND kid = $2",
    )
    .bind(org_id)
    .bind(kid)
    .fetch_optional(store.pool())
    .await
}

pub async fn revoke_officer_key(
    tx: &mut Tx,
    org_id: &str,
    kid: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("UPDATE officer_keys SET revoked_at = $1 WHERE org_id = $2 AND kid = $3 AND revoked_at IS NULL")
        .bind(at)
        .bind(org_id)
        .bind(kid)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub async fn list_officer_keys(
    store: &Store,
    org_id: &str,
    after: &str,
    limit: u32,
) -> Result<Vec<OfficerKeyRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT org_id, kid, algorithm, public_key_pem, registered_at, revoked_at FROM officer_keys \
         WHERE org_id = $1 AND kid > $2 ORDER BY kid LIMIT {limit}"
    )))
    .bind(org_id)
    .bind(after)
    .fetch_all(store.pool())
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub key_id: String,
    pub org_id: String,
    pub certificate_pem: String,
    pub valid_from: i64,
    pub valid_until: i64,
    pub registered_at: i64,
    pub retired_at: Option<i64>,
}

/// Registers a signing key and retires the organisation's earlier ones.
pub async fn insert_signing_key(tx: &mut Tx, k: &SigningKeyRow) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE org_id = $2 AND retired_at IS NULL")
        .bind(k.registered_at)
        .bind(&k.org_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO signing_keys (key_id, org_id, certificate_pem, valid_from, valid_until, registered_at, retired_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
    )
    .bind(&k.key_id)
    .bind(&k.org_id)
    .bind(&k.certificate_pem)
    .bind(k.valid_from)
    .bind(k.valid_until)
    .bind(k.registered_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Signing keys, of one organisation or of all, by key id.
pub async fn list_signing_keys(
    store: &Store,
    org_id: Option<&str>,
    after: &str,
    limit: u32,
) -> Result<Vec<SigningKeyRow>, sqlx::Error> {
    let org_clause = if org_id.is_some() {
        " AND org_id = $2"
    } else {
        ""
    };
    let mut q = sqlx::query_as::<_, SigningKeyRow>(AssertSqlSafe(format!(
        "SELECT key_id, org_id, certificate_pem, valid_from, valid_until, registered_at, retired_at FROM signing_keys \
         WHERE key_id > $1{org_clause} ORDER BY key_id LIMIT {limit}"
    )))
    .bind(after);
    if let Some(o) = org_id {
        q = q.bind(o);
    }
    q.fetch_all(store.pool()).await
}
