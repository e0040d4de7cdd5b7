//! The export of ordered measures: whose notices a caller sees (its ListNotices scope) and
//! the bundles of their courses of action.

use serde_json::Value;

use super::ExportQuery;
use crate::api::threat::view;
use crate::auth::Caller;
use crate::auth::policy::{Policy, Scope};
use crate::domain::threat::visibility::Reader;
use crate::pb;
use crate::store::Store;
use crate::store::taxii::{NoticeReader, OrderedMeasure, visible_measures};
use crate::store::threats as store;

/// The matrix row whose record-level rule decides which ordered measures a reader sees.
pub const LIST_NOTICES_RULE: &str = "/fenghuo.v1.DisposalService/ListNotices";

/// Whose disposal notices `caller` sees under `scope`, its scope for
/// `DisposalService.ListNotices`: every notice, its province's and its own, or its own. None:
/// the role may not list notices at all.
pub fn notice_reader(caller: &Caller, scope: Scope) -> Option<NoticeReader> {
    match scope {
        Scope::Allow => Some(NoticeReader::All),
        Scope::OwnProvince => Some(NoticeReader::Province {
            province: caller.province.clone(),
            org: caller.organisation_id.clone(),
        }),
        Scope::OwnOrganisation => Some(NoticeReader::Addressee(caller.organisation_id.clone())),
        Scope::Deny => None,
    }
}

/// [`notice_reader`] for a caller admitted under another RPC (ExportStix): its roles' scope
/// for ListNotices comes from the matrix.
pub fn notice_reader_of(caller: &Caller) -> Option<NoticeReader> {
    let scope = Policy::embedded()
        .rule_for_path(LIST_NOTICES_RULE)
        .map_or(Scope::Deny, |rule| rule.best_scope(&caller.roles));
    notice_reader(caller, scope)
}

/// An ordered measure as STIX (docs/stix.md).
pub struct Measure {
    /// The Art. 2 category of the notice's threat.
    pub category: i64,
    pub issuer_organisation_id: String,
    /// The notice's course of action and its relationships to the report object of every
    /// sighting of its threat the reader sees that was received by the notice's issue.
    pub objects: Vec<Value>,
}

/// The [`Measure`] of a disposal notice for `reader`. None: the stored body does not decode
/// or the threat is gone (retention), so there is nothing to show.
///
/// # Errors
/// Storage failures.
pub async fn ordered_measure(
    store: &Store,
    reader: &Reader,
    row: &OrderedMeasure,
) -> Result<Option<Measure>, sqlx::Error> {
    use prost::Message as _;
    let Ok(body) = pb::NoticeBody::decode(row.body.as_slice()) else {
        return Ok(None);
    };
    let Some(threat) = store::get_threat(store, &row.threat_id).await? else {
        return Ok(None);
    };
    let shown = view::threat(&threat, Default::default(), Vec::new());
    let sightings = store::visible_sightings(store, &row.threat_id, reader, None, 500).await?;
    let reports: Vec<(String, String)> = sightings
        .iter()
        .filter(|s| s.received_at <= row.issued_at)
        .filter_map(|s| {
            let objects = crate::stix::export::sighting_objects(&view::sighting(s), &shown);
            let id = objects.first()?["id"].as_str()?.to_owned();
            Some((s.id.clone(), id))
        })
        .collect();
    Ok(Some(Measure {
        category: threat.category,
        objects: crate::stix::measures::measure_objects(&body, &reports),
        issuer_organisation_id: body.issuer_organisation_id,
    }))
}

/// One exported bundle of ordered measures and the notice position after it.
pub struct MeasuresPage {
    pub bundle: Value,
    pub measures: u32,
    /// The notice position the next page starts at; None: this was the last.
    pub next: Option<i64>,
}

/// The bundle of the ordered measures `notices` sees, issued in `[query.from, until)`, of the
/// query's categories, from notice position `from` on; None when there are none.
///
/// # Errors
/// Storage failures.
pub async fn export_measures_page(
    store: &Store,
    reader: &Reader,
    notices: &NoticeReader,
    query: &ExportQuery,
    until: i64,
    mut from: i64,
) -> Result<Option<MeasuresPage>, sqlx::Error> {
    let added_after = (query.from != i64::MIN).then(|| query.from - 1);
    let mut measures = Vec::new();
    loop {
        let rows = visible_measures(store, notices, from, added_after, query.per_bundle).await?;
        let full = rows.len() as u32 == query.per_bundle;
        for row in &rows {
            from = row.position + 1;
            if row.issued_at >= until {
                continue;
            }
            let Some(m) = ordered_measure(store, reader, row).await? else {
                continue;
            };
            if query.categories.is_empty() || query.categories.contains(&m.category) {
                measures.push((m.issuer_organisation_id, m.objects));
            }
            if measures.len() as u32 == query.per_bundle {
                let bundle = crate::stix::export::measures_bundle(&measures);
                return Ok(Some(MeasuresPage {
                    bundle,
                    measures: query.per_bundle,
                    next: Some(from),
                }));
            }
        }
        if !full {
            break;
        }
    }
    if measures.is_empty() {
        return Ok(None);
    }
    Ok(Some(MeasuresPage {
        bundle: crate::stix::export::measures_bundle(&measures),
        measures: measures.len() as u32,
        next: None,
    }))
}
