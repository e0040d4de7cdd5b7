//! The export of sightings: a checked `ExportStix` query and the bundles of what the
//! caller's reader sees, page by page.

use std::collections::HashMap;

use serde_json::Value;

use super::MAX_SIGHTINGS_PER_BUNDLE;
use crate::api::threat::view;
use crate::domain::threat::visibility::Reader;
use crate::pb;
use crate::store::Store;
use crate::store::threats::{self as store, SightingRow, ThreatRow};

/// A checked `ExportStix` request.
#[derive(Debug, Clone)]
pub struct ExportQuery {
    /// Received at or after (micros); `i64::MIN`: from the oldest retained.
    pub from: i64,
    pub categories: Vec<i64>,
    pub per_bundle: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("categories[{index}]: unknown category")]
    UnknownCategory { index: usize },
    #[error("max_sightings_per_bundle: at most 500 sightings per bundle")]
    TooManySightings,
}

impl ExportQuery {
    /// # Errors
    /// An unknown category, or more sightings per bundle than [`MAX_SIGHTINGS_PER_BUNDLE`].
    pub fn new(
        from: Option<i64>,
        categories: &[i32],
        per_bundle: u32,
    ) -> Result<Self, ExportError> {
        let mut checked = Vec::new();
        for (index, c) in categories.iter().enumerate() {
            if !(1..=5).contains(c) {
                return Err(ExportError::UnknownCategory { index });
            }
            checked.push(i64::from(*c));
        }
        let per_bundle = match per_bundle {
            0 => MAX_SIGHTINGS_PER_BUNDLE,
            n if n <= MAX_SIGHTINGS_PER_BUNDLE => n,
            _ => return Err(ExportError::TooManySightings),
        };
        Ok(ExportQuery {
            from: from.unwrap_or(i64::MIN),
            categories: checked,
            per_bundle,
        })
    }
}

/// One exported bundle and where the next one starts.
pub struct ExportPage {
    pub bundle: Value,
    pub sightings: u32,
    /// The `(received_at, sighting id)` cursor after this page; None: this was the last.
    pub next: Option<(i64, String)>,
}

/// The bundle of the visible sightings received in `[query.from, until)` after `after`;
/// None when there are none.
///
/// # Errors
/// Storage failures.
pub async fn export_page(
    store: &Store,
    reader: &Reader,
    query: &ExportQuery,
    until: i64,
    after: Option<&(i64, String)>,
) -> Result<Option<ExportPage>, sqlx::Error> {
    let rows = store::visible_sightings_received(
        store,
        reader,
        (query.from, until),
        &query.categories,
        after.map(|(t, id)| (*t, id.as_str())),
        query.per_bundle,
    )
    .await?;
    let Some(last) = rows.last() else {
        return Ok(None);
    };
    let full = rows.len() as u32 == query.per_bundle;
    let next = full.then(|| (last.received_at, last.id.clone()));
    let threats = threats_of(store, &rows).await?;
    let sightings = shown(&rows, &threats);
    Ok(Some(ExportPage {
        bundle: crate::stix::export::bundle(&sightings),
        sightings: sightings.len() as u32,
        next,
    }))
}

/// The threats these sightings belong to, by id.
pub async fn threats_of(
    store: &Store,
    rows: &[SightingRow],
) -> Result<HashMap<String, ThreatRow>, sqlx::Error> {
    let mut ids: Vec<String> = rows.iter().map(|r| r.threat_id.clone()).collect();
    ids.sort();
    ids.dedup();
    store::threats_by_id(store, &ids).await
}

/// The sightings as the contract shows them, each with its threat.
pub fn shown(
    rows: &[SightingRow],
    threats: &HashMap<String, ThreatRow>,
) -> Vec<(pb::Sighting, pb::Threat)> {
    rows.iter()
        .filter_map(|r| {
            let t = threats.get(&r.threat_id)?;
            Some((
                view::sighting(r),
                view::threat(t, Default::default(), Vec::new()),
            ))
        })
        .collect()
}
