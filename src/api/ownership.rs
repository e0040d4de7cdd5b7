//! RegistryService, ownership part (Art. 9): units declare the resources they
//! are responsible for; regulators ask who is responsible for a resource.

use tonic::Status;

use super::registry::RegistryApi;
use super::{
    internal, invalid, next_page_token, optional_timestamp, page, precondition, timestamp,
};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::domain::clock::to_micros;
use crate::domain::echo::{ECHO_LIMIT, shorten};
use crate::domain::organisation::OrganisationId;
use crate::domain::routing::{self, ClaimError, OwnershipEntry, OwnershipKind, Relation};
use crate::pb;
use crate::registry::ownership::{
    DecideError, DeclaredEntry, ImportError, ImportOwnership, RemoveError,
};
use crate::store::ownership::{self, EntryRow};
use crate::store::registry as reg;

/// Entries one import may carry; bulk loads go through several calls (the CLI batches).
pub const MAX_IMPORT: usize = 10_000;

pub fn entry_to_pb(e: &EntryRow) -> pb::OwnershipEntry {
    pb::OwnershipEntry {
        id: e.id.clone(),
        kind: e.kind as i32,
        value: e.value.clone(),
        origin_asn: e.origin_asn.unwrap_or_default() as u32,
        owner_organisation_id: e.owner_org.clone(),
        province: e.province.clone(),
        valid_from: Some(timestamp(e.valid_from)),
        valid_until: optional_timestamp(e.valid_until),
        relation: e.relation as i32,
        approval: e.approval as i32,
        pending_reason: e.pending_reason.clone().unwrap_or_default(),
        declared_at: optional_timestamp(e.declared_at),
        decided_by: e.decided_by.clone().unwrap_or_default(),
        decision_reason: e.decision_reason.clone().unwrap_or_default(),
    }
}

/// A row as the routing domain sees it.
fn domain_entry(row: &EntryRow) -> Option<OwnershipEntry> {
    crate::ownership::entry(row)
}

impl From<ImportError> for Status {
    fn from(e: ImportError) -> Status {
        match e {
            ImportError::UnknownOwner { index, .. } => invalid(
                &format!("entries[{index}].owner_organisation_id"),
                e.to_string(),
            ),
            ImportError::OutsideScope(o) => o.into(),
            ImportError::Province { index, .. } => {
                invalid(&format!("entries[{index}].province"), e.to_string())
            }
            ImportError::Claim {
                index,
                error: ClaimError::HolderKind(_),
            } => invalid(&format!("entries[{index}].relation"), e.to_string()),
            ImportError::Claim { index, .. } => precondition(
                "NOT_A_PROVIDER",
                &format!("entries[{index}]"),
                e.to_string(),
            ),
            ImportError::Corrupt(_) | ImportError::Storage(_) => internal(e),
        }
    }
}

impl From<DecideError> for Status {
    fn from(e: DecideError) -> Status {
        match e {
            DecideError::NotFound { .. } => Status::not_found(e.to_string()),
            DecideError::OutsideScope(o) => o.into(),
            DecideError::NotPending { ref id, .. } => {
                precondition("NOT_PENDING", &format!("ownership:{id}"), e.to_string())
            }
            DecideError::Corrupt(_) | DecideError::Storage(_) => internal(e),
        }
    }
}

impl From<RemoveError> for Status {
    fn from(e: RemoveError) -> Status {
        match e {
            RemoveError::NotFound { .. } => Status::not_found(e.to_string()),
            RemoveError::OutsideScope(o) => o.into(),
            RemoveError::AlreadyRemoved { ref id, .. } => {
                precondition("ALREADY_REMOVED", &format!("ownership:{id}"), e.to_string())
            }
            RemoveError::Corrupt(_) | RemoveError::Storage(_) => internal(e),
        }
    }
}

fn entry_id(field: &str, raw: &str) -> Result<String, Status> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| u.to_string())
        .map_err(|_| invalid(field, "not an ownership entry id"))
}

impl RegistryApi {
    pub(super) async fn import_ownership(
        &self,
        caller: &Caller,
        req: pb::ImportOwnershipEntriesRequest,
    ) -> Result<pb::ImportOwnershipEntriesResponse, Status> {
        if req.entries.is_empty() || req.entries.len() > MAX_IMPORT {
            return Err(invalid(
                "entries",
                format!("1 to {MAX_IMPORT} entries per call"),
            ));
        }
        let mut entries = Vec::with_capacity(req.entries.len());
        for (i, e) in req.entries.iter().enumerate() {
            let field = |f: &str| format!("entries[{i}].{f}");
            let kind = OwnershipKind::from_i32(e.kind).ok_or_else(|| {
                invalid(&field("kind"), "required: one of the seven ownership kinds")
            })?;
            let relation = Relation::from_i32(e.relation).ok_or_else(|| {
                invalid(
                    &field("relation"),
                    "responsible or holder (unspecified: responsible)",
                )
            })?;
            let (value, origin_asn) = routing::normalise(kind, &e.value, e.origin_asn)
                .map_err(|err| invalid(&field("value"), err.to_string()))?;
            let owner = OrganisationId::parse(&e.owner_organisation_id)
                .map_err(|err| invalid(&field("owner_organisation_id"), err.to_string()))?;
            entries.push(DeclaredEntry {
                kind,
                relation,
                value,
                origin_asn,
                owner,
                province: e.province.clone(),
            });
        }
        let import = ImportOwnership {
            entries,
            replace_owner_entries: req.replace_owner_entries,
        };
        let done = self.workflow.import_ownership(caller, import).await?;
        Ok(pb::ImportOwnershipEntriesResponse {
            imported: done.imported,
            replaced: done.replaced,
            unchanged: done.unchanged,
            pending_entry_ids: done.pending_entry_ids,
        })
    }

    /// ApproveOwnershipEntry / RefuseOwnershipEntry: the regulator of the entry's province or
    /// the national regulator decides on a pending claim.
    pub(super) async fn decide_ownership(
        &self,
        caller: &Caller,
        req: pb::DecideOwnershipEntryRequest,
        approve: bool,
    ) -> Result<pb::OwnershipEntry, Status> {
        let id = entry_id("entry_id", &req.entry_id)?;
        let reason = req.reason.trim();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return Err(invalid("reason", "required: 1 to 2000 characters"));
        }
        let decided = self
            .workflow
            .decide_ownership(caller, &id, approve, reason)
            .await?;
        Ok(entry_to_pb(&decided))
    }

    pub(super) async fn list_pending_ownership(
        &self,
        caller: &Caller,
        req: pb::ListPendingOwnershipEntriesRequest,
    ) -> Result<pb::ListPendingOwnershipEntriesResponse, Status> {
        let (size, after) = page(req.page.as_ref())?;
        let province = (caller.scope != Scope::Allow).then_some(caller.province.as_str());
        let rows = ownership::list_pending(&self.workflow.store, province, &after, size)
            .await
            .map_err(internal)?;
        Ok(pb::ListPendingOwnershipEntriesResponse {
            next_page_token: next_page_token(rows.len(), size, rows.last().map(|r| r.id.as_str())),
            entries: rows.iter().map(entry_to_pb).collect(),
        })
    }

    pub(super) async fn remove_ownership(
        &self,
        caller: &Caller,
        req: pb::RemoveOwnershipEntryRequest,
    ) -> Result<pb::OwnershipEntry, Status> {
        let id = entry_id("id", &req.id)?;
        let removed = self.workflow.remove_ownership(caller, &id).await?;
        Ok(entry_to_pb(&removed))
    }

    pub(super) async fn list_ownership(
        &self,
        caller: &Caller,
        req: pb::ListOwnershipEntriesRequest,
    ) -> Result<pb::ListOwnershipEntriesResponse, Status> {
        let id = OrganisationId::parse(&req.owner_organisation_id)
            .map_err(|e| invalid("owner_organisation_id", e.to_string()))?;
        let org = reg::get_organisation(&self.workflow.store, id.as_str())
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("organisation {id} is not registered")))?;
        caller
            .check_organisation(&self.workflow.store, &org)
            .await?;
        let kind = match req.kind {
            0 => None,
            k => Some(i64::from(
                OwnershipKind::from_i32(k)
                    .ok_or_else(|| invalid("kind", "unknown ownership kind"))?
                    .as_i32(),
            )),
        };
        let (size, after) = page(req.page.as_ref())?;
        let rows = ownership::list_current(&self.workflow.store, &org.id, kind, &after, size)
            .await
            .map_err(internal)?;
        Ok(pb::ListOwnershipEntriesResponse {
            next_page_token: next_page_token(rows.len(), size, rows.last().map(|r| r.id.as_str())),
            entries: rows.iter().map(entry_to_pb).collect(),
        })
    }

    pub(super) async fn responsible_for(
        &self,
        req: pb::LookupResponsibleRequest,
    ) -> Result<pb::LookupResponsibleResponse, Status> {
        let resource = req.resource.trim();
        if resource.is_empty() {
            return Err(invalid(
                "resource",
                "an IP address, domain, URL, e-mail address or E.164 number",
            ));
        }
        let route = match &req.at {
            Some(ts) => {
                let at = super::from_timestamp("at", ts)?;
                self.router
                    .at(to_micros(at))
                    .await
                    .map_err(internal)?
                    .route(resource)
            }
            None => self
                .router
                .current()
                .await
                .map_err(internal)?
                .route(resource),
        };
        let route = route.ok_or_else(|| {
            Status::not_found(format!(
                "no unit is registered as responsible for {}; notices about it go to the national regulator (Art. 9)",
                shorten(resource, ECHO_LIMIT)
            ))
        })?;
        let matched = ownership::get(&self.workflow.store, &route.entry_id)
            .await
            .map_err(internal)?;
        let holdings = match &req.at {
            Some(ts) => {
                ownership::holdings_at(
                    &self.workflow.store,
                    to_micros(super::from_timestamp("at", ts)?),
                )
                .await
            }
            None => ownership::holdings(&self.workflow.store, None).await,
        }
        .map_err(internal)?;
        let target = crate::domain::routing::target_of(resource);
        let holders = match &target {
            Some(t) => holdings
                .iter()
                .filter(|h| domain_entry(h).is_some_and(|e| routing::holds(&e, t.as_target())))
                .map(entry_to_pb)
                .collect(),
            None => Vec::new(),
        };
        Ok(pb::LookupResponsibleResponse {
            organisation_id: route.owner.clone(),
            province: route.province.clone(),
            matched: matched.as_ref().map(entry_to_pb),
            holders,
        })
    }
}
