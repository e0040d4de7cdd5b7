//! The ownership registry and notice routing of Art. 9 of the 2017 Measures:
//! which unit is responsible for an IP, domain, URL, mailbox or number.
//!
//! Pure: entries come in, a [`RoutingTable`] is built once and shared behind
//! an `Arc`; no I/O.

mod bench;
mod claim;
mod entry;
mod table;

use super::threat::indicator;

pub use bench::{LookupReport, lookup_benchmark};
pub use claim::{
    Approval, ClaimError, OwnedTarget, Relation, Target, check_claim, covers, entry_province,
    holds, role_list, target_of,
};
pub use entry::{EntryError, OwnershipEntry, OwnershipKind, asn, normalise, prefix};
pub use table::{Route, RouteRef, RoutingTable};

#[cfg(test)]
mod tests;
