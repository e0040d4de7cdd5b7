//! RegistryService: organisations, certificates, officers and their keys.

mod errors;
mod service;
mod view;

use tonic::Status;

use super::invalid;
use crate::auth::Caller;
use crate::domain::organisation::OrganisationId;
use crate::registry::Registry;
use crate::store::registry::OrganisationRow;

use self::errors::addressed_status;
pub use self::view::{organisation_to_pb, role_from_pb, role_to_pb};

pub struct RegistryApi {
    /// The registry workflows (organisations and their credentials).
    pub workflow: Registry,
    /// Routes resources to the units responsible for them (Art. 9).
    pub router: std::sync::Arc<crate::ownership::OwnershipRouter>,
}

/// Officer names and key ids: what a token's `sub` or `kid` can carry safely.
fn parse_name(field: &str, raw: &str) -> Result<String, Status> {
    let ok = (1..=128).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(invalid(
            field,
            "1 to 128 characters: letters, digits, '-', '_', '.', '@'",
        ))
    }
}

fn required_reason(field: &str, raw: &str) -> Result<String, Status> {
    let r = raw.trim();
    if r.is_empty() || r.len() > 2000 {
        Err(invalid(
            field,
            "a reason is required (at most 2000 characters); it goes into the audit log",
        ))
    } else {
        Ok(r.to_owned())
    }
}

fn organisation_id(field: &str, raw: &str) -> Result<OrganisationId, Status> {
    OrganisationId::parse(raw).map_err(|e| invalid(field, e.to_string()))
}

impl RegistryApi {
    /// The organisation a request addresses, after the caller's scope is checked.
    pub(super) async fn addressed_organisation(
        &self,
        caller: &Caller,
        field: &str,
        raw: &str,
    ) -> Result<OrganisationRow, Status> {
        let id = organisation_id(field, raw)?;
        self.workflow
            .addressed(caller, &id)
            .await
            .map_err(addressed_status)
    }
}
