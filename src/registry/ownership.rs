//! The ownership registry (Art. 9): units declare the resources they are responsible for
//! (or hold, Art. 10), and notices are routed by it. A claim that overlaps another
//! organisation's, or names a province other than its owner's, waits for the regulator of
//! that province; every change bumps the registry's version so every replica re-routes.

use std::collections::BTreeMap;

use crate::auth::policy::Scope;
use crate::auth::{Caller, OutsideScope};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::organisation::{OrganisationId, Province};
use crate::domain::routing::{
    self, ClaimError, OwnershipEntry, OwnershipKind, Relation, RoutingTable,
};
use crate::store::audit::{self, AuditEntry};
use crate::store::ownership::{self, EntryRow};
use crate::store::registry::{self as reg, OrganisationRow};

use super::Registry;

/// One entry as declared, checked in itself (kind, relation, normalised value, owner id).
#[derive(Debug, Clone)]
pub struct DeclaredEntry {
    pub kind: OwnershipKind,
    pub relation: Relation,
    pub value: String,
    pub origin_asn: Option<u32>,
    pub owner: OrganisationId,
    /// The province asked for; empty: the owner's.
    pub province: String,
}

/// An import of entries, each named by its index in errors.
#[derive(Debug, Clone)]
pub struct ImportOwnership {
    pub entries: Vec<DeclaredEntry>,
    /// Close every current entry of the owners named before importing.
    pub replace_owner_entries: bool,
}

/// What an import changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub imported: u32,
    pub replaced: u32,
    pub unchanged: u32,
    pub pending_entry_ids: Vec<String>,
}

/// Why an import is refused: one variant per rule; `index` is the entry's.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("organisation {id} is not registered")]
    UnknownOwner { index: usize, id: String },
    #[error(transparent)]
    OutsideScope(#[from] OutsideScope),
    /// Art. 3, 9: a resource's province is its provider's, never "national".
    #[error("{reason}")]
    Province { index: usize, reason: String },
    /// Art. 9, 10: who may claim what.
    #[error("{error}")]
    Claim { index: usize, error: ClaimError },
    #[error("{0}")]
    Corrupt(String),
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Why a decision on a pending entry is refused.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("ownership entry {id} does not exist")]
    NotFound { id: String },
    #[error(transparent)]
    OutsideScope(#[from] OutsideScope),
    /// Only a pending entry is approved or refused.
    #[error("{why}")]
    NotPending { id: String, why: String },
    #[error("{0}")]
    Corrupt(String),
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Why an entry cannot be removed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error("ownership entry {id} does not exist")]
    NotFound { id: String },
    #[error(transparent)]
    OutsideScope(#[from] OutsideScope),
    #[error("removed at {}", from_micros(*at).to_rfc3339())]
    AlreadyRemoved { id: String, at: i64 },
    #[error("{0}")]
    Corrupt(String),
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Why a responsible entry must wait for the regulator, if it must: another owner's
/// approved entry covering it — in the registry, or accepted earlier in this import — or a
/// province other than its owner's.
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

/// The entries of one owner an import lists for the audit, approved or pending.
fn listed(inserted: &[EntryRow], owner: &str, pending: bool) -> Vec<String> {
    inserted
        .iter()
        .filter(|r| r.owner_org == owner && (r.approval == ownership::PENDING) == pending)
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
}

impl Registry {
    /// Imports entries in one transaction under the registry's lock; an entry declared
    /// again as it stands changes nothing, so an interrupted import can be re-run.
    ///
    /// # Errors
    /// [`ImportError`].
    pub async fn import_ownership(
        &self,
        caller: &Caller,
        import: ImportOwnership,
    ) -> Result<Imported, ImportError> {
        let now = self.clock.now();
        let at = to_micros(now);
        let mut owners: BTreeMap<String, OrganisationRow> = BTreeMap::new();
        let mut rows = Vec::with_capacity(import.entries.len());
        for (index, e) in import.entries.iter().enumerate() {
            if !owners.contains_key(e.owner.as_str()) {
                let org = reg::get_organisation(&self.store, e.owner.as_str())
                    .await?
                    .ok_or_else(|| ImportError::UnknownOwner {
                        index,
                        id: e.owner.to_string(),
                    })?;
                caller.organisation_in_scope(&self.store, &org).await??;
                owners.insert(org.id.clone(), org);
            }
            let owner = &owners[e.owner.as_str()];
            let province = routing::entry_province(&owner.id, &owner.province, &e.province)
                .map_err(|err| ImportError::Province {
                    index,
                    reason: err.to_string(),
                })?;
            routing::check_claim(e.kind, e.relation, &owner.id, &owner.roles())
                .map_err(|error| ImportError::Claim { index, error })?;
            rows.push(EntryRow {
                id: uuid::Uuid::now_v7().to_string(),
                kind: i64::from(e.kind.as_i32()),
                value: e.value.clone(),
                origin_asn: e.origin_asn.map(i64::from),
                owner_org: e.owner.to_string(),
                province,
                valid_from: at,
                valid_until: None,
                relation: i64::from(e.relation.as_i32()),
                approval: ownership::APPROVED,
                declared_at: Some(at),
                pending_reason: None,
                decided_by: None,
                decision_reason: None,
            });
        }
        let mut tx = self.store.begin().await?;
        ownership::lock_and_bump(&self.store, &mut tx).await?;
        let mut replaced = 0u64;
        if import.replace_owner_entries {
            for owner in owners.keys() {
                replaced += ownership::close_owner(&mut tx, owner, at).await?;
            }
        }
        // Read under the registry's lock: what routes now, for the overlap check.
        let existing = RoutingTable::build(
            ownership::routing_in_tx(&mut tx)
                .await?
                .iter()
                .filter_map(crate::ownership::entry)
                .collect::<Vec<_>>(),
        );
        let mut accepted: Vec<OwnershipEntry> = Vec::new();
        let mut inserted = Vec::with_capacity(rows.len());
        let mut pending_ids = Vec::new();
        for mut row in rows.iter().cloned() {
            let held =
                ownership::current_of_value(&mut tx, row.kind, &row.value, row.relation).await?;
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
            let entry = crate::ownership::entry(&row)
                .ok_or_else(|| ImportError::Corrupt(format!("entry kind {}", row.kind)))?;
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
                    ownership::close(&mut tx, &h.id, at).await?;
                    replaced += 1;
                }
                if row.relation == ownership::RESPONSIBLE {
                    accepted.push(entry);
                }
            }
            ownership::insert(&mut tx, &row).await?;
            inserted.push(row);
        }
        let entries: Vec<AuditEntry> = owners
            .keys()
            .map(|owner| {
                let (mine, waiting) = (
                    listed(&inserted, owner, false),
                    listed(&inserted, owner, true),
                );
                AuditEntry {
                    actor: caller.actor(),
                    action: "registry.ownership.import".into(),
                    subject: format!("ownership:{owner}"),
                    details: serde_json::json!({
                        "imported": mine.len() + waiting.len(),
                        "replace_owner_entries": import.replace_owner_entries,
                        "entries": mine,
                        "pending": waiting,
                    }),
                }
            })
            .collect();
        audit::append_many(&mut tx, self.store.dialect(), now, &entries).await?;
        tx.commit().await?;
        tracing::info!(
            organisation = %caller.organisation_id,
            owners = owners.len(),
            imported = inserted.len(),
            pending = pending_ids.len(),
            replaced,
            "ownership entries imported"
        );
        Ok(Imported {
            imported: inserted.len() as u32,
            replaced: replaced as u32,
            unchanged: (rows.len() - inserted.len()) as u32,
            pending_entry_ids: pending_ids,
        })
    }

    /// The regulator of the entry's province, or the national regulator, approves or refuses
    /// a pending claim; an approval closes the approved entry it overrides.
    ///
    /// # Errors
    /// [`DecideError`].
    pub async fn decide_ownership(
        &self,
        caller: &Caller,
        id: &str,
        approve: bool,
        reason: &str,
    ) -> Result<EntryRow, DecideError> {
        let row = ownership::get(&self.store, id)
            .await?
            .ok_or_else(|| DecideError::NotFound { id: id.to_owned() })?;
        caller.within_scope(
            false,
            &row.province,
            &format!("ownership entry {id} (province {})", row.province),
        )?;
        let now = self.clock.now();
        let at = to_micros(now);
        let by = match &caller.officer {
            Some(o) => format!("{}/{o}", caller.organisation_id),
            None => caller.organisation_id.clone(),
        };
        let mut tx = self.store.begin().await?;
        ownership::lock_and_bump(&self.store, &mut tx).await?;
        let approval = if approve {
            ownership::APPROVED
        } else {
            ownership::REFUSED
        };
        if !ownership::decide(&mut tx, id, approval, at, &by, reason).await? {
            let why = match (row.approval, row.valid_until) {
                (_, Some(_)) if row.approval == ownership::REFUSED => "refused already".to_owned(),
                (_, Some(u)) => format!("removed at {}", from_micros(u).to_rfc3339()),
                _ => "approved already: only a pending entry is decided".to_owned(),
            };
            return Err(DecideError::NotPending {
                id: id.to_owned(),
                why,
            });
        }
        let mut closed = Vec::new();
        if approve {
            // The same resource changes hands: the approved entry it overrides closes.
            for h in
                ownership::current_of_value(&mut tx, row.kind, &row.value, row.relation).await?
            {
                if h.id != id && h.approval == ownership::APPROVED {
                    ownership::close(&mut tx, &h.id, at).await?;
                    closed.push(h.id);
                }
            }
        }
        audit::append(
            &mut tx,
            self.store.dialect(),
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
        .await?;
        let decided = ownership::get_in_tx(&mut tx, id)
            .await?
            .ok_or_else(|| DecideError::Corrupt(format!("decided entry {id} vanished")))?;
        tx.commit().await?;
        Ok(decided)
    }

    /// Removes (closes) an entry of an organisation within the caller's scope.
    ///
    /// # Errors
    /// [`RemoveError`].
    pub async fn remove_ownership(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<EntryRow, RemoveError> {
        let row = ownership::get(&self.store, id)
            .await?
            .ok_or_else(|| RemoveError::NotFound { id: id.to_owned() })?;
        let org = reg::get_organisation(&self.store, &row.owner_org)
            .await?
            .ok_or_else(|| RemoveError::Corrupt(format!("the owner of entry {id} vanished")))?;
        caller.organisation_in_scope(&self.store, &org).await??;
        if let Some(at) = row.valid_until {
            return Err(RemoveError::AlreadyRemoved {
                id: id.to_owned(),
                at,
            });
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        ownership::lock_and_bump(&self.store, &mut tx).await?;
        ownership::close(&mut tx, id, to_micros(now)).await?;
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
        .await?;
        tx.commit().await?;
        Ok(EntryRow {
            valid_until: Some(to_micros(now)),
            ..row
        })
    }
}
