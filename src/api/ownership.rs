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
use crate::domain::routing::{
    self, ClaimError, OwnershipEntry, OwnershipKind, Relation, RoutingTable,
};
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

/// Why a responsible entry must wait for the regulator, if it must (issue #18 item 5, #11
/// item 2): another owner's approved entry covering it — in the registry, or accepted
/// earlier in this call — or a province other than its owner's.
fn pending_reason(
    caller: &Caller,
    existing: &RoutingTable,
    accepted: &[OwnershipEntry],
    entry: &OwnershipEntry,
    owner_province: &str,
) -> Option<String> {
    let in_registry = existing.covering(entry).filter(|e| e.owner != entry.owner);
    let in_call = accepted
        .iter()
        .filter(|e| e.owner != entry.owner && routing::covers(e, entry))
        .max_by_key(|e| e.value.len());
    if let Some(other) = in_call.or(in_registry) {
        return Some(format!(
            "overlaps entry {} of {} ({} {}): another organisation's claim, approved by the regulator of province {} or the national regulator",
            other.id, other.owner, other.kind, other.value, entry.province
        ));
    }
    // A national owner's regulator reaches every province: it names any one freely.
    let national_owner = owner_province == Province::National.as_str();
    if entry.province != owner_province && !national_owner && caller.scope != Scope::Allow {
        return Some(format!(
            "province {} is not its owner's ({owner_province}): a unit cannot move its resources out of its regulator's reach; the regulator of {} or the national regulator approves",
            entry.province, entry.province
        ));
    }
    None
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
        let now = self.workflow.clock.now();
        let at = to_micros(now);
        let mut owners: BTreeMap<String, reg::OrganisationRow> = BTreeMap::new();
        let mut rows = Vec::with_capacity(req.entries.len());
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
            let owner_id = OrganisationId::parse(&e.owner_organisation_id)
                .map_err(|err| invalid(&field("owner_organisation_id"), err.to_string()))?;
            if !owners.contains_key(owner_id.as_str()) {
                let org = reg::get_organisation(&self.workflow.store, owner_id.as_str())
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| {
                        invalid(
                            &field("owner_organisation_id"),
                            format!("organisation {owner_id} is not registered"),
                        )
                    })?;
                caller
                    .check_organisation(&self.workflow.store, &org)
                    .await?;
                owners.insert(org.id.clone(), org);
            }
            let owner = &owners[owner_id.as_str()];
            let province = routing::entry_province(&owner.id, &owner.province, &e.province)
                .map_err(|err| invalid(&field("province"), err.to_string()))?;
            routing::check_claim(kind, relation, &owner.id, &owner.roles()).map_err(
                |err| match err {
                    ClaimError::HolderKind(_) => invalid(&field("relation"), err.to_string()),
                    _ => precondition("NOT_A_PROVIDER", &format!("entries[{i}]"), err.to_string()),
                },
            )?;
            rows.push(EntryRow {
                id: uuid::Uuid::now_v7().to_string(),
                kind: i64::from(kind.as_i32()),
                value,
                origin_asn: origin_asn.map(i64::from),
                owner_org: owner_id.to_string(),
                province,
                valid_from: at,
                valid_until: None,
                relation: i64::from(relation.as_i32()),
                approval: ownership::APPROVED,
                declared_at: Some(at),
                pending_reason: None,
                decided_by: None,
                decision_reason: None,
            });
        }
        let mut tx = self.workflow.store.begin().await.map_err(internal)?;
        ownership::lock_and_bump(&self.workflow.store, &mut tx)
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
        // Read under the registry's lock: what routes now, for the overlap check.
        let existing = RoutingTable::build(
            ownership::routing_in_tx(&mut tx)
                .await
                .map_err(internal)?
                .iter()
                .filter_map(domain_entry)
                .collect::<Vec<_>>(),
        );
        let mut accepted: Vec<OwnershipEntry> = Vec::new();
        let mut inserted = Vec::with_capacity(rows.len());
        let mut pending_ids = Vec::new();
        for mut row in rows.iter().cloned() {
            let held = ownership::current_of_value(&mut tx, row.kind, &row.value, row.relation)
                .await
                .map_err(internal)?;
            let mine: Vec<&EntryRow> = held
                .iter()
                .filter(|h| h.owner_org == row.owner_org)
                .collect();
            // Declared again as it stands: nothing changes, so a re-run of an import that
            // stopped half-way neither duplicates nor rewrites history.
            if mine
                .iter()
                .any(|h| h.origin_asn == row.origin_asn && h.province == row.province)
            {
                continue;
            }
            let entry = domain_entry(&row).ok_or_else(|| internal("unknown kind"))?;
            if row.relation == ownership::RESPONSIBLE
                && let Some(why) = pending_reason(
                    caller,
                    &existing,
                    &accepted,
                    &entry,
                    &owners[&row.owner_org].province,
                )
            {
                row.approval = ownership::PENDING;
                row.pending_reason = Some(why);
                pending_ids.push(row.id.clone());
            } else {
                // A unit re-declares its own entry freely: the old one closes.
                for h in &mine {
                    ownership::close(&mut tx, &h.id, at)
                        .await
                        .map_err(internal)?;
                    replaced += 1;
                }
                if row.relation == ownership::RESPONSIBLE {
                    accepted.push(entry);
                }
            }
            ownership::insert(&mut tx, &row).await.map_err(internal)?;
            inserted.push(row);
        }
        let entries: Vec<AuditEntry> = owners
            .keys()
            .map(|owner| {
                let listed = |pending: bool| -> Vec<String> {
                    inserted
                        .iter()
                        .filter(|r| {
                            &r.owner_org == owner && (r.approval == ownership::PENDING) == pending
                        })
                        .map(|r| {
                            format!(
                                "{}:{}:{}",
                                Relation::from_i32(r.relation as i32)
                                    .map(|k| k.as_str())
                                    .unwrap_or("?"),
                                OwnershipKind::from_i32(r.kind as i32)
                                    .map(|k| k.as_str())
                                    .unwrap_or("?"),
                                r.value
                            )
                        })
                        .collect()
                };
                let (mine, waiting) = (listed(false), listed(true));
                AuditEntry {
                    actor: caller.actor(),
                    action: "registry.ownership.import".into(),
                    subject: format!("ownership:{owner}"),
                    details: serde_json::json!({
                        "imported": mine.len() + waiting.len(),
                        "replace_owner_entries": req.replace_owner_entries,
                        "entries": mine,
                        "pending": waiting,
                    }),
                }
            })
            .collect();
        audit::append_many(&mut tx, self.workflow.store.dialect(), now, &entries)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        tracing::info!(
            organisation = %caller.organisation_id,
            owners = owners.len(),
            imported = inserted.len(),
            pending = pending_ids.len(),
            replaced,
            "ownership entries imported"
        );
        Ok(pb::ImportOwnershipEntriesResponse {
            imported: inserted.len() as u32,
            replaced: replaced as u32,
            unchanged: (rows.len() - inserted.len()) as u32,
            pending_entry_ids: pending_ids,
        })
    }

    /// ApproveOwnershipEntry / RefuseOwnershipEntry (issue #18 item 5): the regulator of the
    /// entry's province or the national regulator decides on a pending claim.
    pub(super) async fn decide_ownership(
        &self,
        caller: &Caller,
        req: pb::DecideOwnershipEntryRequest,
        approve: bool,
    ) -> Result<pb::OwnershipEntry, Status> {
        let id = uuid::Uuid::parse_str(req.entry_id.trim())
            .map_err(|_| invalid("entry_id", "not an ownership entry id"))?
            .to_string();
        let reason = req.reason.trim();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return Err(invalid("reason", "required: 1 to 2000 characters"));
        }
        let row = ownership::get(&self.workflow.store, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("ownership entry {id} does not exist")))?;
        caller.check_scope(
            false,
            &row.province,
            &format!("ownership entry {id} (province {})", row.province),
        )?;
        let now = self.workflow.clock.now();
        let at = to_micros(now);
        let by = match &caller.officer {
            Some(o) => format!("{}/{o}", caller.organisation_id),
            None => caller.organisation_id.clone(),
        };
        let mut tx = self.workflow.store.begin().await.map_err(internal)?;
        ownership::lock_and_bump(&self.workflow.store, &mut tx)
            .await
            .map_err(internal)?;
        let approval = if approve {
            ownership::APPROVED
        } else {
            ownership::REFUSED
        };
        if !ownership::decide(&mut tx, &id, approval, at, &by, reason)
            .await
            .map_err(internal)?
        {
            return Err(precondition(
                "NOT_PENDING",
                &format!("ownership:{id}"),
                match (row.approval, row.valid_until) {
                    (_, Some(_)) if row.approval == ownership::REFUSED => {
                        "refused already".to_owned()
                    }
                    (_, Some(u)) => format!(
                        "removed at {}",
                        crate::domain::clock::from_micros(u).to_rfc3339()
                    ),
                    _ => "approved already: only a pending entry is decided".to_owned(),
                },
            ));
        }
        let mut closed = Vec::new();
        if approve {
            // The same resource changes hands: the approved entry it overrides closes.
            for h in ownership::current_of_value(&mut tx, row.kind, &row.value, row.relation)
                .await
                .map_err(internal)?
            {
                if h.id != id && h.approval == ownership::APPROVED {
                    ownership::close(&mut tx, &h.id, at)
                        .await
                        .map_err(internal)?;
                    closed.push(h.id);
                }
            }
        }
        audit::append(
            &mut tx,
            self.workflow.store.dialect(),
            now,
            &caller.actor(),
            if approve {
                "registry.ownership.approve"
            } else {
                "registry.ownership.refuse"
            },
            &format!("ownership:{}", row.owner_org),
            serde_json::json!({
                "entry": id, "kind": row.kind, "value": row.value, "province": row.province,
                "pending_reason": row.pending_reason, "reason": reason, "closed": closed,
            }),
        )
        .await
        .map_err(internal)?;
        let decided = ownership::get_in_tx(&mut tx, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("decided entry vanished"))?;
        tx.commit().await.map_err(internal)?;
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
        let id = uuid::Uuid::parse_str(req.id.trim())
            .map_err(|_| invalid("id", "not an ownership entry id"))?
            .to_string();
        let row = ownership::get(&self.workflow.store, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("ownership entry {id} does not exist")))?;
        let org = reg::get_organisation(&self.workflow.store, &row.owner_org)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("entry owner vanished"))?;
        caller
            .check_organisation(&self.workflow.store, &org)
            .await?;
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
        let now = self.workflow.clock.now();
        let mut tx = self.workflow.store.begin().await.map_err(internal)?;
        ownership::lock_and_bump(&self.workflow.store, &mut tx)
            .await
            .map_err(internal)?;
        ownership::close(&mut tx, &id, to_micros(now))
            .await
            .map_err(internal)?;
        let details = serde_json::json!({"entry": id, "kind": row.kind, "value": row.value});
        audit::append(
            &mut tx,
            self.workflow.store.dialect(),
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
