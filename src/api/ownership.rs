//! RegistryService, ownership part (Art. 9): units declare the resources they
//! are responsible for; regulators ask who is responsible for a resource.

use std::collections::BTreeMap;

use tonic::Status;

use super::registry::RegistryApi;
use super::{
    internal, invalid, next_page_token, optional_timestamp, page, precondition, timestamp,
};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::domain::clock::to_micros;
use crate::domain::echo::{ECHO_LIMIT, shorten};
use crate::domain::organisation::{OrganisationId, Province};
use crate::domain::routing::{self, OwnershipKind};
use crate::pb;
use crate::store::audit::{self, AuditEntry};
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
    }
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
        let now = self.clock.now();
        let at = to_micros(now);
        let mut owners: BTreeMap<String, reg::OrganisationRow> = BTreeMap::new();
        let mut rows = Vec::with_capacity(req.entries.len());
        for (i, e) in req.entries.iter().enumerate() {
            let field = |f: &str| format!("entries[{i}].{f}");
            let kind = OwnershipKind::from_i32(e.kind).ok_or_else(|| {
                invalid(&field("kind"), "required: one of the seven ownership kinds")
            })?;
            let (value, origin_asn) = routing::normalise(kind, &e.value, e.origin_asn)
                .map_err(|err| invalid(&field("value"), err.to_string()))?;
            let owner_id = OrganisationId::parse(&e.owner_organisation_id)
                .map_err(|err| invalid(&field("owner_organisation_id"), err.to_string()))?;
            if !owners.contains_key(owner_id.as_str()) {
                let org = reg::get_organisation(&self.store, owner_id.as_str())
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| {
                        invalid(
                            &field("owner_organisation_id"),
                            format!("organisation {owner_id} is not registered"),
                        )
                    })?;
                caller.check_organisation(&self.store, &org).await?;
                owners.insert(org.id.clone(), org);
            }
            let province = match e.province.as_str() {
                "" => owners[owner_id.as_str()].province.clone(),
                p => Province::parse(p)
                    .map_err(|err| invalid(&field("province"), err.to_string()))?
                    .to_string(),
            };
            rows.push(EntryRow {
                id: uuid::Uuid::now_v7().to_string(),
                kind: i64::from(kind.as_i32()),
                value,
                origin_asn: origin_asn.map(i64::from),
                owner_org: owner_id.to_string(),
                province,
                valid_from: at,
                valid_until: None,
            });
        }
        let mut tx = self.store.begin().await.map_err(internal)?;
        ownership::lock_and_bump(&self.store, &mut tx)
            .await
            .map_err(internal)?;
        let mut replaced = 0u64;
        if req.replace_owner_entries {
            for owner in owners.keys() {
                replaced += ownership::close_owner(&mut tx, owner, at)
                    .await
                    .map_err(internal)?;
            }
        }
        let mut inserted = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            if let Some(held) = ownership::current_holder(&mut tx, row.kind, &row.value)
                .await
                .map_err(internal)?
            {
                // Declared again as it stands: nothing changes, so a re-run of an import
                // that stopped half-way neither duplicates nor rewrites history.
                if held.owner_org == row.owner_org
                    && held.origin_asn == row.origin_asn
                    && held.province == row.province
                {
                    continue;
                }
                // A unit re-declares its own entry freely; moving one between units is the
                // platform's decision (Art. 9 disputes go to the regulator).
                if held.owner_org != row.owner_org && caller.scope != Scope::Allow {
                    return Err(precondition(
                        "HELD_BY_ANOTHER_UNIT",
                        &format!("entries[{i}]"),
                        format!(
                            "{} is registered to {}; the national regulator or the platform operator transfers it",
                            row.value, held.owner_org
                        ),
                    ));
                }
                ownership::close(&mut tx, &held.id, at)
                    .await
                    .map_err(internal)?;
                replaced += 1;
            }
            ownership::insert(&mut tx, row).await.map_err(internal)?;
            inserted.push(row);
        }
        let entries: Vec<AuditEntry> = owners
            .keys()
            .map(|owner| {
                let mine: Vec<String> = inserted
                    .iter()
                    .filter(|r| &r.owner_org == owner)
                    .map(|r| format!("{}:{}", OwnershipKind::from_i32(r.kind as i32).map(|k| k.as_str()).unwrap_or("?"), r.value))
                    .collect();
                AuditEntry {
                    actor: caller.actor(),
                    action: "registry.ownership.import".into(),
                    subject: format!("ownership:{owner}"),
                    details: serde_json::json!({"imported": mine.len(), "replace_owner_entries": req.replace_owner_entries, "entries": mine}),
                }
            })
            .collect();
        audit::append_many(&mut tx, self.store.dialect(), now, &entries)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        tracing::info!(
            organisation = %caller.organisation_id,
            owners = owners.len(),
            imported = inserted.len(),
            replaced,
            "ownership entries imported"
        );
        Ok(pb::ImportOwnershipEntriesResponse {
            imported: inserted.len() as u32,
            replaced: replaced as u32,
            unchanged: (rows.len() - inserted.len()) as u32,
        })
    }

    pub(super) async fn remove_ownership(
        &self,
        caller: &Caller,
        req: pb::RemoveOwnershipEntryRequest,
    ) -> Result<pb::OwnershipEntry, Status> {
        let id = uuid::Uuid::parse_str(req.id.trim())
            .map_err(|_| invalid("id", "not an ownership entry id"))?
            .to_string();
        let row = ownership::get(&self.store, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("ownership entry {id} does not exist")))?;
        let org = reg::get_organisation(&self.store, &row.owner_org)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("entry owner vanished"))?;
        caller.check_organisation(&self.store, &org).await?;
        if let Some(until) = row.valid_until {
            return Err(precondition(
                "ALREADY_REMOVED",
                &format!("ownership:{id}"),
                format!(
                    "removed at {}",
                    crate::domain::clock::from_micros(until).to_rfc3339()
                ),
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await.map_err(internal)?;
        ownership::lock_and_bump(&self.store, &mut tx)
            .await
            .map_err(internal)?;
        ownership::close(&mut tx, &id, to_micros(now))
            .await
            .map_err(internal)?;
        let details = serde_json::json!({"entry": id, "kind": row.kind, "value": row.value});
        audit::append(
            &mut tx,
            self.store.dialect(),
            now,
            &caller.actor(),
            "registry.ownership.remove",
            &format!("ownership:{}", row.owner_org),
            details,
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(entry_to_pb(&EntryRow {
            valid_until: Some(to_micros(now)),
            ..row
        }))
    }

    pub(super) async fn list_ownership(
        &self,
        caller: &Caller,
        req: pb::ListOwnershipEntriesRequest,
    ) -> Result<pb::ListOwnershipEntriesResponse, Status> {
        let id = OrganisationId::parse(&req.owner_organisation_id)
            .map_err(|e| invalid("owner_organisation_id", e.to_string()))?;
        let org = reg::get_organisation(&self.store, id.as_str())
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("organisation {id} is not registered")))?;
        caller.check_organisation(&self.store, &org).await?;
        let kind = match req.kind {
            0 => None,
            k => Some(i64::from(
                OwnershipKind::from_i32(k)
                    .ok_or_else(|| invalid("kind", "unknown ownership kind"))?
                    .as_i32(),
            )),
        };
        let (size, after) = page(req.page.as_ref())?;
        let rows = ownership::list_current(&self.store, &org.id, kind, &after, size)
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
        let matched = ownership::get(&self.store, &route.entry_id)
            .await
            .map_err(internal)?;
        Ok(pb::LookupResponsibleResponse {
            organisation_id: route.owner.clone(),
            province: route.province.clone(),
            matched: matched.as_ref().map(entry_to_pb),
        })
    }
}
