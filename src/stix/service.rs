//! The STIX 2.1 workflows every edge calls: gRPC's `ImportStixBundle` / `ExportStix` and the
//! TAXII 2.1 server (`crate::taxii`). One implementation of each rule: the import plans a
//! bundle, validates each report as `SubmitThreat` does and commits it through the intake
//! queue; the export reads only what the caller's reader may see, and the ordered measures
//! only as ListNotices shows them; an organisation's stored import defaults stand in for a
//! call's own (docs/stix.md).
//!
//! No tonic, no HTTP: callers convert [`ObjectResult`], [`ImportError`] and [`ExportError`]
//! to their own protocol.

use std::collections::HashMap;

use serde_json::Value;

use super::import::{self, Plan};
use crate::api::threat::view;
use crate::auth::Caller;
use crate::auth::policy::{Policy, Scope};
use crate::domain::clock::SharedClock;
use crate::domain::threat::visibility::Reader;
use crate::intake::report as validation;
use crate::intake::{IntakeError, IntakeQueue, MAX_BATCH};
use crate::ownership::OwnershipRouter;
use crate::pb;
use crate::store::Store;
use crate::store::taxii::{NoticeReader, OrderedMeasure, visible_measures};
use crate::store::threats::{self as store, IngestOutcome, Refusal, SightingRow, ThreatRow};

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

/// What became of one object of an imported bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The report created a new threat.
    Stored,
    /// The report is a new sighting of an existing threat.
    Sighting,
    /// Stored already (same id and modified, or the caller's own exported sighting).
    Replayed,
    /// Part of another object's report.
    Used,
    Refused,
}

/// Why an object was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectRefusal {
    /// The mapping or the intake's validation refused it: input wrong in itself.
    Invalid { field: String, reason: String },
    /// What is stored refused it (idempotency conflict, unknown or mismatched follow-up).
    Stored(Refusal),
}

/// One object's answer, in the bundle's order.
#[derive(Debug, Clone)]
pub struct ObjectResult {
    pub object_id: String,
    pub stix_type: String,
    pub outcome: Outcome,
    pub threat_id: String,
    pub sighting_id: String,
    pub submission_id: String,
    pub used_by: String,
    pub refusal: Option<ObjectRefusal>,
    pub notes: Vec<String>,
}

impl ObjectResult {
    fn of(p: &import::Planned, outcome: Outcome) -> ObjectResult {
        ObjectResult {
            object_id: p.id.clone(),
            stix_type: p.stix_type.clone(),
            outcome,
            threat_id: String::new(),
            sighting_id: String::new(),
            submission_id: String::new(),
            used_by: String::new(),
            refusal: None,
            notes: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading the routing table or the caller's own sightings failed.
    #[error("reading the store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("intake: {0}")]
    Intake(#[from] IntakeError),
}

/// Imports a parsed bundle as `caller`'s reports. Acknowledged only after commit: every
/// stored outcome comes from a committed intake batch.
///
/// # Errors
/// Only unexpected failures; every refusal of an object is in its [`ObjectResult`].
pub async fn import_bundle(
    s: Services<'_>,
    caller: &Caller,
    bundle: &Value,
    defaults: Option<&pb::StixImportDefaults>,
) -> Result<Vec<ObjectResult>, ImportError> {
    let planned = import::plan(bundle, defaults);
    let now = s.clock.now();
    let table = s.router.current().await?;
    let mut results: Vec<ObjectResult> = Vec::with_capacity(planned.len());
    let mut items = Vec::new();
    let mut waiting = Vec::new(); // index into `results` of each queued item
    for p in &planned {
        let answer = match &p.plan {
            Plan::Used { by } => ObjectResult {
                used_by: by.clone(),
                ..ObjectResult::of(p, Outcome::Used)
            },
            Plan::Refused { field, reason } => ObjectResult {
                refusal: Some(ObjectRefusal::Invalid {
                    field: field.clone(),
                    reason: reason.clone(),
                }),
                ..ObjectResult::of(p, Outcome::Refused)
            },
            Plan::Report {
                request,
                notes,
                origin,
            } => {
                let mut answer = ObjectResult {
                    submission_id: request.submission_id.clone(),
                    notes: notes.clone(),
                    ..ObjectResult::of(p, Outcome::Stored)
                };
                // The platform's own export of the caller's own sighting, imported back:
                // that report is stored already (nothing is stored twice).
                if let Some((sighting_id, reporter)) = origin
                    && *reporter == caller.organisation_id
                    && let Some(row) = store::get_sighting(s.store, sighting_id).await?
                    && row.reporter_org == caller.organisation_id
                {
                    answer.outcome = Outcome::Replayed;
                    answer.threat_id = row.threat_id;
                    answer.sighting_id = row.id;
                    answer
                        .notes
                        .push("this platform's export of your own sighting: already stored".into());
                    results.push(answer);
                    continue;
                }
                match validation::validate(request, now) {
                    Ok(submission) => {
                        waiting.push(results.len());
                        items.push(crate::intake::item(caller, &table, submission));
                    }
                    Err(e) => {
                        answer.outcome = Outcome::Refused;
                        answer.refusal = Some(ObjectRefusal::Invalid {
                            field: e.field,
                            reason: e.reason,
                        });
                    }
                }
                answer
            }
        };
        results.push(answer);
    }
    let mut waiting = waiting.into_iter();
    for chunk in items.chunks(MAX_BATCH) {
        let outcomes = s.queue.submit(chunk.to_vec()).await?;
        for outcome in outcomes {
            let Some(i) = waiting.next() else { break };
            let answer = &mut results[i];
            match outcome {
                IngestOutcome::Stored {
                    threat_id,
                    sighting_id,
                    created_threat,
                    replayed,
                    ..
                } => {
                    answer.outcome = if replayed {
                        Outcome::Replayed
                    } else if created_threat {
                        Outcome::Stored
                    } else {
                        Outcome::Sighting
                    };
                    answer.threat_id = threat_id;
                    answer.sighting_id = sighting_id;
                }
                IngestOutcome::Refused(r) => {
                    answer.outcome = Outcome::Refused;
                    answer.refusal = Some(ObjectRefusal::Stored(r));
                }
            }
        }
    }
    Ok(results)
}

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
        bundle: super::export::bundle(&sightings),
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

/// An organisation's STIX import defaults, checked: what its TAXII POSTs (and its
/// ImportStixBundle calls without `defaults`) give objects without the fenghuo extension.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportDefaults(pb::StixImportDefaults);

impl ImportDefaults {
    /// # Errors
    /// The first field at fault under `defaults.`: the information the intake requires of a
    /// first report (reporting measures Art. 10-11, 14-15), a known kind and TLP.
    pub fn parse(
        defaults: Option<pb::StixImportDefaults>,
    ) -> Result<ImportDefaults, validation::FieldError> {
        let at = |e: validation::FieldError| validation::FieldError {
            field: e.field.replacen("report.", "defaults.", 1),
            reason: e.reason,
        };
        let Some(d) = defaults else {
            return Err(validation::FieldError {
                field: "defaults".into(),
                reason: "required: the information (event or warning) for objects without the fenghuo extension (reporting measures Art. 10-11)".into(),
            });
        };
        let information = d.information.clone().map(|i| match i {
            pb::stix_import_defaults::Information::Event(e) => {
                pb::threat_report::Information::Event(e)
            }
            pb::stix_import_defaults::Information::Warning(w) => {
                pb::threat_report::Information::Warning(w)
            }
        });
        validation::information(&pb::ThreatReport {
            information,
            ..Default::default()
        })
        .map_err(at)?;
        if pb::SubmissionKind::try_from(d.kind).is_err() {
            return Err(validation::FieldError {
                field: "defaults.kind".into(),
                reason: "unknown submission kind: ABOUT_OTHERS or SELF_DISPOSAL_REPORT (Art. 6, 11), or unset".into(),
            });
        }
        if pb::Tlp::try_from(d.tlp).is_err() {
            return Err(validation::FieldError {
                field: "defaults.tlp".into(),
                reason: "unknown TLP level: CLEAR, GREEN, AMBER, AMBER_STRICT or RED, or unset (TLP:AMBER)".into(),
            });
        }
        Ok(ImportDefaults(d))
    }

    pub fn get(&self) -> &pb::StixImportDefaults {
        &self.0
    }
}

/// The STIX import defaults `org` stored, with when (micros); None when it stored none.
///
/// # Errors
/// Storage failures; stored bytes that no longer decode are reported as a decode error.
pub async fn stored_defaults(
    store: &Store,
    org: &str,
) -> Result<Option<(pb::StixImportDefaults, i64)>, sqlx::Error> {
    use prost::Message as _;
    let Some((bytes, at)) = crate::store::taxii::get_import_defaults(store, org).await? else {
        return Ok(None);
    };
    let d = pb::StixImportDefaults::decode(bytes.as_slice())
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some((d, at)))
}

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
            let objects = super::export::sighting_objects(&view::sighting(s), &shown);
            let id = objects.first()?["id"].as_str()?.to_owned();
            Some((s.id.clone(), id))
        })
        .collect();
    Ok(Some(Measure {
        category: threat.category,
        objects: super::measures::measure_objects(&body, &reports),
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
                let bundle = super::export::measures_bundle(&measures);
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
        bundle: super::export::measures_bundle(&measures),
        measures: measures.len() as u32,
        next: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::organisation::Role;

    fn caller(role: Role) -> Caller {
        Caller {
            organisation_id: "org".into(),
            roles: vec![role],
            province: "440000".into(),
            certificate_fingerprint: String::new(),
            officer: None,
            rpc: "ThreatService.ExportStix".into(),
            scope: Scope::Allow,
        }
    }

    #[test]
    fn an_exporters_ordered_measures_follow_the_list_notices_row_not_export_stixs() {
        assert!(matches!(
            notice_reader_of(&caller(Role::NationalRegulator)),
            Some(NoticeReader::All)
        ));
        assert!(matches!(
            notice_reader_of(&caller(Role::ProvincialRegulator)),
            Some(NoticeReader::Province { province, org }) if province == "440000" && org == "org"
        ));
        assert!(matches!(
            notice_reader_of(&caller(Role::BasicTelecom)),
            Some(NoticeReader::Addressee(org)) if org == "org"
        ));
        // ExportStix allows the platform operator; ListNotices does not.
        assert!(notice_reader_of(&caller(Role::PlatformOperator)).is_none());
    }

    #[test]
    fn import_defaults_name_the_field_the_rule_and_the_article() {
        let field = |d: Option<pb::StixImportDefaults>| ImportDefaults::parse(d).unwrap_err();
        assert_eq!(field(None).field, "defaults");
        let e = field(Some(pb::StixImportDefaults::default()));
        assert_eq!(e.field, "defaults.information");
        assert!(e.reason.contains("Art. 10-11"), "{e:?}");
        let warning = |w: pb::WarningInformation| pb::StixImportDefaults {
            information: Some(pb::stix_import_defaults::Information::Warning(w)),
            ..Default::default()
        };
        let e = field(Some(warning(pb::WarningInformation::default())));
        assert_eq!(e.field, "defaults.warning.colour");
        let mut w = pb::WarningInformation {
            colour: pb::WarningColour::Blue as i32,
            description: "phishing wave".into(),
            ..Default::default()
        };
        let e = field(Some(warning(w.clone())));
        assert_eq!(e.field, "defaults.warning.possible_harm_and_degree");
        assert!(e.reason.contains("Art. 15"), "{e:?}");
        w.possible_harm_and_degree = "credential theft".into();
        w.affected_users_and_scope = "bank customers".into();
        w.already_known_to = "CNCERT".into();
        w.recommended_countermeasures = "block the domains".into();
        let ok = warning(w);
        assert!(ImportDefaults::parse(Some(ok.clone())).is_ok());
        let e = field(Some(pb::StixImportDefaults {
            kind: 9,
            ..ok.clone()
        }));
        assert_eq!(e.field, "defaults.kind");
        let e = field(Some(pb::StixImportDefaults { tlp: 9, ..ok }));
        assert_eq!(e.field, "defaults.tlp");
    }
}
