//! Organisations (Art. 5): who registers whom, in which province, under which parent, and
//! who may disable an organisation.

use super::{AddressedError, Registry, registry_error};
use crate::auth::policy::Scope;
use crate::auth::{Caller, OutsideScope};
use crate::domain::calendar::local_date;
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::contacts::Contact;
use crate::domain::organisation::{OrganisationId, Province, Role};
use crate::store::registry::{self as reg, ContactChangeRow, OrganisationRow, is_unique_violation};

/// A new organisation, checked in itself (id, name, roles that fit the province, contacts).
#[derive(Debug, Clone)]
pub struct NewOrganisation {
    pub id: OrganisationId,
    pub name: String,
    pub roles: Vec<Role>,
    pub province: Province,
    pub parent: Option<OrganisationId>,
    pub contacts: Vec<Contact>,
}

/// Why an organisation cannot be registered: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum CreateOrganisationError {
    /// Art. 3: a province cannot mint a second regulator.
    #[error(
        "only the national regulator or the platform operator registers regulators, institutions and operators"
    )]
    AuthorityOutsideNationalScope,
    #[error(transparent)]
    OutsideScope(#[from] OutsideScope),
    #[error("organisation {parent} is not registered")]
    UnknownParent { parent: String },
    #[error("organisation {id} is already registered")]
    AlreadyRegistered { id: String },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Why an organisation cannot be enabled or disabled.
#[derive(Debug, thiserror::Error)]
pub enum SetEnabledError {
    #[error(transparent)]
    Addressed(AddressedError),
    #[error("an organisation cannot disable itself")]
    SelfDisable { id: String },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

registry_error!(SetEnabledError);

/// The register an organisation is created with: in effect and reported that day.
pub fn creation_change(org_id: &str, contacts: &[Contact], at: i64) -> ContactChangeRow {
    let today = local_date(from_micros(at)).to_string();
    ContactChangeRow {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: org_id.to_owned(),
        contacts_json: serde_json::to_string(contacts).unwrap_or_else(|_| "[]".into()),
        effective_on: today.clone(),
        reported_on: today,
        working_days_to_report: 0,
        reported_late: 0,
        recorded_at: at,
        at_creation: 1,
    }
}

/// The province an organisation listing is confined to: the caller's own for a provincial
/// regulator (naming another is refused), else the one asked for.
///
/// # Errors
/// [`OutsideScope`] when a provincial caller names another province.
pub fn listing_province(
    caller: &Caller,
    asked: Option<String>,
) -> Result<Option<String>, OutsideScope> {
    if caller.scope != Scope::OwnProvince {
        return Ok(asked);
    }
    match asked {
        Some(p) if p != caller.province => Err(OutsideScope::new(format!(
            "{} may list only organisations of province {}",
            caller.organisation_id, caller.province
        ))),
        _ => Ok(Some(caller.province.clone())),
    }
}

impl Registry {
    /// Registers an organisation with its contacts register, audited.
    ///
    /// # Errors
    /// [`CreateOrganisationError`].
    pub async fn create_organisation(
        &self,
        caller: &Caller,
        new: NewOrganisation,
    ) -> Result<OrganisationRow, CreateOrganisationError> {
        let authority = new.roles.iter().any(|r| {
            matches!(
                r,
                Role::NationalRegulator
                    | Role::ProvincialRegulator
                    | Role::Institution
                    | Role::PlatformOperator
            )
        });
        if authority && caller.scope != Scope::Allow {
            return Err(CreateOrganisationError::AuthorityOutsideNationalScope);
        }
        caller.within_scope(
            false,
            new.province.as_str(),
            &format!("province {}", new.province),
        )?;
        if let Some(parent) = &new.parent
            && reg::get_organisation(&self.store, parent.as_str())
                .await?
                .is_none()
        {
            return Err(CreateOrganisationError::UnknownParent {
                parent: parent.to_string(),
            });
        }
        let now = to_micros(self.clock.now());
        let id = new.id.to_string();
        let creation = creation_change(&id, &new.contacts, now);
        let row = OrganisationRow {
            id: id.clone(),
            name: new.name,
            roles: reg::roles_column(&new.roles),
            province: new.province.to_string(),
            parent_id: new.parent.map(|p| p.to_string()),
            enabled: 1,
            contacts_json: serde_json::to_string(&new.contacts).unwrap_or_else(|_| "[]".into()),
            created_at: now,
            contacts_updated_at: (!new.contacts.is_empty()).then_some(now),
            contacts_effective_on: (!new.contacts.is_empty())
                .then(|| creation.effective_on.clone()),
            contacts_reported_late: 0,
            protection_json: String::new(),
        };
        let details = serde_json::json!({"name": row.name, "roles": row.roles, "province": row.province, "parent_id": row.parent_id});
        let mut tx = self.store.begin().await?;
        reg::insert_organisation(&mut tx, &row).await.map_err(|e| {
            if is_unique_violation(&e) {
                CreateOrganisationError::AlreadyRegistered { id: id.clone() }
            } else {
                e.into()
            }
        })?;
        if !new.contacts.is_empty() {
            reg::insert_contact_change(&mut tx, &creation).await?;
        }
        self.finish(
            tx,
            caller,
            "registry.organisation.create",
            format!("organisation:{id}"),
            details,
        )
        .await?;
        Ok(row)
    }

    /// Enables or disables an organisation (its certificates and officers stop working while
    /// it is disabled); disabling needs the reason, which is audited.
    ///
    /// # Errors
    /// [`SetEnabledError`].
    pub async fn set_organisation_enabled(
        &self,
        caller: &Caller,
        id: &OrganisationId,
        enabled: bool,
        reason: &str,
    ) -> Result<OrganisationRow, SetEnabledError> {
        let org = self.addressed(caller, id).await?;
        if org.id == caller.organisation_id && !enabled {
            return Err(SetEnabledError::SelfDisable { id: org.id });
        }
        let details = serde_json::json!({"enabled": enabled, "reason": reason});
        let action = if enabled {
            "registry.organisation.enable"
        } else {
            "registry.organisation.disable"
        };
        let mut tx = self.store.begin().await?;
        reg::set_organisation_enabled(&mut tx, &org.id, enabled).await?;
        self.finish(
            tx,
            caller,
            action,
            format!("organisation:{}", org.id),
            details,
        )
        .await?;
        Ok(reg::get_organisation(&self.store, &org.id)
            .await?
            .unwrap_or(org))
    }
}
