//! Organisations, certificates, officers and officers' keys. Organisations are here; the
//! contacts register and the credentials are in their own files, re-exported so every path
//! reads `store::registry::…`.
//!
//! # Contract
//! - Functions taking `&mut Tx` change state and expect the caller to append
//!   the audit record in the same transaction.
//! - Revoking a certificate or disabling an organisation bumps `access_epoch`
//!   in the same transaction; every replica polls it to end open streams.

mod contacts;
mod credentials;

use sqlx::{AssertSqlSafe, Row};

use super::{Store, Tx};
use crate::domain::organisation::{Contact, Role};
use crate::domain::protection::ProtectionMark;

pub use contacts::*;
pub use credentials::*;

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

const ORG_COLUMNS: &str = "id, name, roles, province, parent_id, enabled, contacts_json, created_at, contacts_updated_at, \
     contacts_effective_on, contacts_reported_late, protection_json";

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
