//! The STIX 2.1 workflows every edge calls: gRPC's `ImportStixBundle` / `ExportStix` and the
//! TAXII 2.1 server (`crate::taxii`). One implementation of each rule: the import plans a
//! bundle, validates each report as `SubmitThreat` does and commits it through the intake
//! queue; the export reads only what the caller's reader may see, and the ordered measures
//! only as ListNotices shows them; an organisation's stored import defaults stand in for a
//! call's own (docs/stix.md).
//!
//! No tonic, no HTTP: callers convert [`ObjectResult`], [`ImportError`] and [`ExportError`]
//! to their own protocol.
//!
//! `importing.rs` holds the import, `exporting.rs` the export of sightings and
//! `ordered_measures.rs` that of the ordered measures; every item is re-exported here.

mod exporting;
mod importing;
mod ordered_measures;

use crate::domain::clock::SharedClock;
use crate::intake::IntakeQueue;
use crate::ownership::OwnershipRouter;
use crate::store::Store;

pub use exporting::{ExportError, ExportPage, ExportQuery, export_page, shown, threats_of};
pub use importing::{
    ImportDefaults, ImportError, ObjectRefusal, ObjectResult, Outcome, import_bundle,
    stored_defaults,
};
pub use ordered_measures::{
    LIST_NOTICES_RULE, Measure, MeasuresPage, export_measures_page, notice_reader,
    notice_reader_of, ordered_measure,
};

/// The largest bundle an import reads: a feed's day, not a database dump.
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;
/// Sightings per exported bundle, at most and by default.
pub const MAX_SIGHTINGS_PER_BUNDLE: u32 = 500;

/// What the import workflow needs of the server.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    pub store: &'a Store,
    pub clock: &'a SharedClock,
    pub queue: &'a IntakeQueue,
    pub router: &'a OwnershipRouter,
}

#[cfg(test)]
mod tests;
