//! Organisations, certificates, officers and officers' keys.
//!
//! # Contract
//! - Functions taking `&mut Tx` change state and expect the caller to append
//!   the audit record in the same transaction.
//! - Revoking a certificate or disabling an organisation bumps `access_epoch`
//!   in the same transaction; every replica polls it to end open streams.

use sqlx::{AssertSqlSafe, Row};

use super::bulk::{SqlValue, Statement};
use super::{Store, Tx};
use crate::domain::organisation::{Contact, Role};
use crate::domain::protection::ProtectionMark;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganisationRow {
    pub id: String,
    pub name: String,
    pub roles: String,
    pub province: String,
    pub parent_id: Option<String>,
    pub enabled: i64,
    pub contacts_json: String,
    pub created_at: i64,
    pub contacts_updated_at: Option<i64>,
    /// The latest change of contacts (Asia/Shanghai, YYYY-MM-DD) and whether it was reported late.
    pub contacts_effective_on: Option<String>,
    pub contacts_reported_late: i64,
    /// [`ProtectionMark`] as JSON; empty when the organisation is not marked (Art. 8(3)).
    pub protection_json: String,
}

impl OrganisationRow {
    /// A new, enabled organisation without contacts or parent, registered at `at` (micros).
    pub fn new(id: &str, name: &str, roles: &[Role], province: &str, at: i64) -> Self {
        OrganisationRow {
            id: id.to_owned(),
            name: name.to_owned(),
            roles: roles_column(roles),
            province: province.to_owned(),
            parent_id: None,
            enabled: 1,
            contacts_json: "[]".into(),
            created_at: at,
            contacts_updated_at: None,
            contacts_effective_on: None,
            contacts_reported_late: 0,
            protection_json: String::new(),
        }
    }

    pub fn roles(&self) -> Vec<Role> {
        self.roles.split(',').filter_map(Role::parse).collect()
    }

    pub fn enabled(&self) -> bool {
        self.enabled != 0
    }

    pub fn contacts(&self) -> Vec<Contact> {
        serde_json::from_str(&self.contacts_json).unwrap_or_default()
    }

    /// The registry's Art. 8(3) mark, if any.
    pub fn protection(&self) -> Option<ProtectionMark> {
        serde_json::from_str(&self.protection_json).ok()
    }
}

pub fn roles_column(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

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

const ORG_COLUMNS: &str = "id, name, roles, province, parent_id, enabled, contacts_json, created_at, contacts_updated_at, \
     contacts_effective_on, contacts_reported_late, protection_json";
const CERT_COLUMNS: &str = "fingerprint, org_id, subject, not_before, not_after, registered_at, revoked_at, revocation_reason, pem";

pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

pub async fn insert_organisation(tx: &mut Tx, org: &OrganisationRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO organisations (id, name, roles, province, parent_id, enabled, contacts_json, created_at, contacts_updated_at, \
         contacts_effective_on, contacts_reported_late, protection_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&org.id)
    .bind(&org.name)
    .bind(&org.roles)
    .bind(&org.province)
    .bind(org.parent_id.clone())
    .bind(org.enabled)
    .bind(&org.contacts_json)
    .bind(org.created_at)
    .bind(org.contacts_updated_at)
    .bind(org.contacts_effective_on.clone())
    .bind(org.contacts_reported_late)
    .bind(&org.protection_json)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The organisation as `tx` sees it: a handler inside a write transaction on SQLite must
/// not wait for a second pool connection.
pub async fn organisation_in_tx(
    tx: &mut Tx,
    id: &str,
) -> Result<Option<OrganisationRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ORG_COLUMNS} FROM organisations WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn get_organisation(
    store: &Store,
    id: &str,
) -> Result<Option<OrganisationRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ORG_COLUMNS} FROM organisations WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(store.pool())
    .await
}

#[derive(Debug, Default)]
pub struct OrganisationFilter {
    pub role: Option<Role>,
    pub province: Option<String>,
    pub after_id: String,
}

pub async fn list_organisations(
    store: &Store,
    filter: &OrganisationFilter,
    limit: u32,
) -> Result<Vec<OrganisationRow>, sqlx::Error> {
    let mut sql = format!("SELECT {ORG_COLUMNS} FROM organisations WHERE id > $1");
    if filter.province.is_some() {
        sql.push_str(" AND province = $2");
    }
    // Roles are few per organisation; filter in memory over the page so that
    // the role column stays a plain list.
    sql.push_str(&format!(
        " ORDER BY id LIMIT {}",
        if filter.role.is_some() {
            100_000
        } else {
            limit
        }
    ));
    let mut q =
        sqlx::query_as::<_, OrganisationRow>(AssertSqlSafe(sql)).bind(filter.after_id.clone());
    if let Some(p) = &filter.province {
        q = q.bind(p.clone());
    }
    let mut rows = q.fetch_all(store.pool()).await?;
    if let Some(role) = filter.role {
        rows.retain(|o| o.roles().contains(&role));
        rows.truncate(limit as usize);
    }
    Ok(rows)
}

/// Whether `org` is `ancestor` or one of its subsidiaries (parent chain).
pub async fn is_same_or_descendant(
    store: &Store,
    ancestor: &str,
    org: &str,
) -> Result<bool, sqlx::Error> {
    let mut current = Some(org.to_owned());
    // Bounded: a group structure is a few levels deep; a cycle cannot loop forever.
    for _ in 0..16 {
        match current {
            Some(ref id) if id == ancestor => return Ok(true),
            Some(id) => {
                current = sqlx::query("SELECT parent_id FROM organisations WHERE id = $1")
                    .bind(id)
                    .fetch_optional(store.pool())
                    .await?
                    .and_then(|r| r.try_get::<Option<String>, _>(0).ok().flatten());
            }
            None => return Ok(false),
        }
    }
    Ok(false)
}

pub async fn set_organisation_enabled(
    tx: &mut Tx,
    id: &str,
    enabled: bool,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("UPDATE organisations SET enabled = $1 WHERE id = $2")
        .bind(i64::from(enabled))
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    bump_access_epoch(tx).await?;
    Ok(n == 1)
}

/// Sets (or, with `None`, clears) an organisation's Art. 8(3) mark.
pub async fn set_protection(
    tx: &mut Tx,
    org_id: &str,
    mark: Option<&ProtectionMark>,
) -> Result<(), sqlx::Error> {
    let json = mark
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?
        .unwrap_or_default();
    sqlx::query("UPDATE organisations SET protection_json = $1 WHERE id = $2")
        .bind(json)
        .bind(org_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replaces the register with `change` and records it in the history.
pub async fn update_contacts(tx: &mut Tx, change: &ContactChangeRow) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE organisations SET contacts_json = $1, contacts_updated_at = $2, contacts_effective_on = $3, \
         contacts_reported_late = $4 WHERE id = $5",
    )
    .bind(&change.contacts_json)
    .bind(change.recorded_at)
    .bind(&change.effective_on)
    .bind(change.reported_late)
    .bind(&change.org_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 1 {
        insert_contact_change(tx, change).await?;
    }
    Ok(n == 1)
}

/// One change of the contacts register (Art. 5; 2009 mechanism Art. 15).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactChangeRow {
    pub id: String,
    pub org_id: String,
    pub contacts_json: String,
    pub effective_on: String,
    pub reported_on: String,
    pub working_days_to_report: i64,
    pub reported_late: i64,
    pub recorded_at: i64,
    pub at_creation: i64,
}

const CHANGE_COLUMNS: &str = "id, org_id, contacts_json, effective_on, reported_on, working_days_to_report, reported_late, recorded_at, at_creation";

pub async fn insert_contact_change(tx: &mut Tx, c: &ContactChangeRow) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO contact_changes ({CHANGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )))
    .bind(&c.id)
    .bind(&c.org_id)
    .bind(&c.contacts_json)
    .bind(&c.effective_on)
    .bind(&c.reported_on)
    .bind(c.working_days_to_report)
    .bind(c.reported_late)
    .bind(c.recorded_at)
    .bind(c.at_creation)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Which changes a history read covers.
#[derive(Debug, Default, Clone)]
pub struct ContactChangeFilter {
    pub org_id: Option<String>,
    /// Organisations of this province only (a provincial regulator's view).
    pub province: Option<String>,
    pub late_only: bool,
    /// Keyset: changes with an id below this one (newest first).
    pub before_id: Option<String>,
}

pub async fn contact_changes(
    store: &Store,
    filter: &ContactChangeFilter,
    limit: u32,
) -> Result<Vec<ContactChangeRow>, sqlx::Error> {
    let columns: Vec<String> = CHANGE_COLUMNS
        .split(", ")
        .map(|c| format!("c.{c}"))
        .collect();
    let mut st = Statement::new(
        store.dialect(),
        &format!(
            "SELECT {} FROM contact_changes c JOIN organisations o ON o.id = c.org_id WHERE 1 = 1",
            columns.join(", ")
        ),
    );
    if let Some(org) = &filter.org_id {
        st.push(" AND c.org_id = ")
            .bind(SqlValue::Text(org.clone()));
    }
    if let Some(p) = &filter.province {
        st.push(" AND o.province = ")
            .bind(SqlValue::Text(p.clone()));
    }
    if filter.late_only {
        st.push(" AND c.reported_late = 1");
    }
    if let Some(b) = &filter.before_id {
        st.push(" AND c.id < ").bind(SqlValue::Text(b.clone()));
    }
    st.push(&format!(" ORDER BY c.id DESC LIMIT {limit}"));
    st.query_as().fetch_all(store.pool()).await
}

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

async fn bump_access_epoch(tx: &mut Tx) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE access_epoch SET epoch = epoch + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn access_epoch(store: &Store) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT epoch FROM access_epoch WHERE id = 1")
        .fetch_one(store.pool())
        .await?
        .try_get(0)
}

/// Revoked certificates and disabled organisations: what must be cut off.
pub async fn blocked(store: &Store) -> Result<(Vec<String>, Vec<String>), sqlx::Error> {
    let certs = sqlx::query("SELECT fingerprint FROM certificates WHERE revoked_at IS NOT NULL")
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let orgs = sqlx::query("SELECT id FROM organisations WHERE enabled = 0")
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    Ok((certs, orgs))
}

/// The organisation and all its subsidiaries, down the parent chain.
pub async fn with_descendants(store: &Store, root: &str) -> Result<Vec<String>, sqlx::Error> {
    let mut all = vec![root.to_owned()];
    let mut frontier = vec![root.to_owned()];
    while let Some(parent) = frontier.pop() {
        let children = sqlx::query("SELECT id FROM organisations WHERE parent_id = $1")
            .bind(&parent)
            .fetch_all(store.pool())
            .await?;
        for row in children {
            let id: String = row.try_get(0)?;
            if !all.contains(&id) {
                all.push(id.clone());
                frontier.push(id);
            }
        }
    }
    Ok(all)
}

pub async fn ids_in_province(store: &Store, province: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("SELECT id FROM organisations WHERE province = $1")
        .bind(province)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect()
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
