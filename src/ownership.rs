//! The routing table of the ownership registry as this replica holds it:
//! rebuilt from the store whenever `ownership_version` has moved, so an import
//! on any replica routes everywhere from the next look-up on.

use std::sync::{Arc, RwLock};

use crate::domain::routing::{OwnershipEntry, OwnershipKind, RoutingTable};
use crate::store::Store;
use crate::store::ownership::{self, EntryRow};

pub struct OwnershipRouter {
    store: Store,
    cached: RwLock<(i64, Arc<RoutingTable>)>,
}

pub fn entry(row: &EntryRow) -> Option<OwnershipEntry> {
    Some(OwnershipEntry {
        id: row.id.clone(),
        kind: OwnershipKind::from_i32(row.kind as i32)?,
        value: row.value.clone(),
        origin_asn: row.origin_asn.and_then(|a| u32::try_from(a).ok()),
        owner: row.owner_org.clone(),
        province: row.province.clone(),
    })
}

impl OwnershipRouter {
    pub fn new(store: Store) -> Self {
        OwnershipRouter {
            store,
            cached: RwLock::new((-1, Arc::new(RoutingTable::build(Vec::new())))),
        }
    }

    /// The table of the entries in force now.
    pub async fn current(&self) -> Result<Arc<RoutingTable>, sqlx::Error> {
        let version = ownership::version(&self.store).await?;
        {
            let cached = self.cached.read().unwrap_or_else(|e| e.into_inner());
            if cached.0 == version {
                return Ok(cached.1.clone());
            }
        }
        let rows = ownership::in_force(&self.store, None).await?;
        let table = Arc::new(RoutingTable::build(
            rows.iter().filter_map(entry).collect::<Vec<_>>(),
        ));
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = (version, table.clone());
        Ok(table)
    }

    /// The table as it stood at `at` (microseconds): who was responsible then.
    pub async fn at(&self, at: i64) -> Result<RoutingTable, sqlx::Error> {
        let rows = ownership::in_force(&self.store, Some(at)).await?;
        Ok(RoutingTable::build(
            rows.iter().filter_map(entry).collect::<Vec<_>>(),
        ))
    }
}
