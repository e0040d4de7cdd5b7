//! A visible sighting as STIX 2.1 objects, and bundles of them (docs/stix.md).
//!
//! This module holds the shared context (markings, identities, the extension definition) and
//! the bundles; `sdo.rs` maps a report to its SDO, `sighting.rs` one sighting to its objects.

mod sdo;
mod sighting;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{EXTENSION_ID, PLATFORM_IDENTITY, derived_id, tlp_marking, tlp_marking_id};
use crate::domain::threat::Tlp;
use crate::pb;
use sighting::sighting_parts;

pub use sighting::{sighting_object_ids, sighting_objects};

/// When the extension definition and the identities were first published: a constant,
/// so every export shows the same version of them.
const PUBLISHED: &str = "2026-12-01T00:00:00.000Z";

/// The extension definition that makes fenghuo's properties and SDO valid STIX.
pub fn extension_definition() -> Value {
    json!({
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": EXTENSION_ID,
        "created_by_ref": PLATFORM_IDENTITY,
        "created": PUBLISHED,
        "modified": PUBLISHED,
        "name": "fenghuo threat report",
        "description": "What the 2017 Public Internet Cybersecurity Threat Monitoring and Disposal Measures and the 2009 reporting measures require of a threat report and STIX 2.1 has no property for: on a sighting, the whole fenghuo report (submission kind, event grade or warning colour with their contents, category details, evidence), the threat's status and identification grade; and the fenghuo-other-threat SDO for Art. 2(5) threats.",
        "schema": "fenghuo docs/stix.md: the sighting property extension holds threat_id, sighting_id, reporter_organisation_id, category, threat_status, identification_grade, event_grade, warning_colour, received_at, report_due, report_deadline, reported_late and report (the fenghuo.v1.ThreatReport message in the protobuf JSON mapping with proto field names); fenghuo-other-threat has name and description; on a course-of-action for an ordered measure (Art. 8 disposal notice) it holds threat_id, notice_id, decision_id, addressee_organisation_id and measure_type.",
        "version": "1.1.0",
        "extension_types": ["property-extension", "new-sdo"],
        "object_marking_refs": [tlp_marking_id(Tlp::Clear)]
    })
}

fn platform_identity() -> Value {
    json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": PLATFORM_IDENTITY,
        "created": PUBLISHED,
        "modified": PUBLISHED,
        "name": "fenghuo threat sharing platform",
        "identity_class": "system",
        "object_marking_refs": [tlp_marking_id(Tlp::Clear)]
    })
}

/// The reporting organisation, for `where_sighted_refs` and `created_by_ref`.
pub fn organisation_identity_id(org: &str) -> String {
    derived_id("identity", "organisation", org)
}

fn organisation_identity(org: &str) -> Value {
    json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": organisation_identity_id(org),
        "created": PUBLISHED,
        "modified": PUBLISHED,
        "name": org,
        "identity_class": "organization",
        "object_marking_refs": [tlp_marking_id(Tlp::Clear)]
    })
}

/// The enum value's name without its prefix, lower case: "EVENT_GRADE_MAJOR" -> "major".
pub(super) fn enum_word(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix).to_ascii_lowercase()
}

/// A bundle of visible sightings, each with the threat it belongs to (for the status
/// and identification grade the extension shows).
pub fn bundle(sightings: &[(pb::Sighting, pb::Threat)]) -> Value {
    let mut tlps: Vec<Tlp> = Vec::new();
    let mut reporters = BTreeMap::new();
    let mut body = Vec::new();
    let mut scos: BTreeMap<String, (Value, Tlp)> = BTreeMap::new();
    for (s, t) in sightings {
        let tlp = s
            .report
            .as_ref()
            .and_then(|r| Tlp::from_i64(i64::from(r.tlp)))
            .unwrap_or(Tlp::Red);
        tlps.push(tlp);
        reporters.insert(s.reporter_organisation_id.clone(), ());
        let parts = sighting_parts(s, t);
        body.extend(parts.objects);
        // An observable shared by sightings carries the strictest of their markings.
        for (id, sco) in parts.scos {
            let e = scos.entry(id).or_insert((sco, tlp));
            if (tlp as i64) > (e.1 as i64) {
                e.1 = tlp;
            }
        }
    }
    let mut objects = context(tlps, reporters.keys());
    for (_, (mut sco, tlp)) in scos {
        sco["object_marking_refs"] = json!([tlp_marking_id(tlp)]);
        objects.push(sco);
    }
    objects.extend(body);
    let key: Vec<&str> = sightings.iter().map(|(s, _)| s.id.as_str()).collect();
    json!({
        "type": "bundle",
        "id": derived_id("bundle", "sightings", &key.join(",")),
        "objects": objects,
    })
}

/// What every bundle starts with: the markings its objects use, the platform identity, the
/// extension definition and the identities of the organisations that created its objects.
fn context<'a>(mut tlps: Vec<Tlp>, organisations: impl Iterator<Item = &'a String>) -> Vec<Value> {
    tlps.push(Tlp::Clear);
    tlps.sort_by_key(|t| *t as i64);
    tlps.dedup();
    let mut objects: Vec<Value> = tlps.into_iter().map(tlp_marking).collect();
    objects.push(platform_identity());
    objects.push(extension_definition());
    objects.extend(organisations.map(|o| organisation_identity(o)));
    objects
}

/// A bundle of ordered measures, each (issuing organisation, the objects
/// `stix::measures::measure_objects` gives its notice), with the marking, the identities of
/// the issuers and the extension definition they use. The report objects their relationships
/// name are in the bundles of the sightings (an export sends those first).
pub fn measures_bundle(measures: &[(String, Vec<Value>)]) -> Value {
    let issuers: BTreeMap<&String, ()> = measures.iter().map(|(org, _)| (org, ())).collect();
    let mut objects = context(vec![super::measures::MEASURE_TLP], issuers.into_keys());
    let mut key = Vec::new();
    for (_, measure) in measures {
        key.extend(measure.first().and_then(|coa| coa["id"].as_str()));
        objects.extend(measure.iter().cloned());
    }
    json!({
        "type": "bundle",
        "id": derived_id("bundle", "measures", &key.join(",")),
        "objects": objects,
    })
}

/// Several exported bundles as one (`fenghuo threat export --out`): each object once; an
/// observable that appears under several markings keeps the strictest.
pub fn merge(bundles: &[Value]) -> Value {
    let mut order: Vec<String> = Vec::new();
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    let strictness = |o: &Value| {
        o["object_marking_refs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| super::tlp_of_marking_id(m.as_str()?))
            .max()
    };
    let mut ids = Vec::new();
    for b in bundles {
        ids.extend(b["id"].as_str().map(str::to_owned));
        for o in b["objects"].as_array().into_iter().flatten() {
            let id = o["id"].as_str().unwrap_or_default().to_owned();
            match by_id.get(&id) {
                None => {
                    order.push(id.clone());
                    by_id.insert(id, o.clone());
                }
                Some(prev) if strictness(o) > strictness(prev) => {
                    by_id.insert(id, o.clone());
                }
                Some(_) => {}
            }
        }
    }
    let objects: Vec<Value> = order.iter().filter_map(|id| by_id.remove(id)).collect();
    json!({
        "type": "bundle",
        "id": derived_id("bundle", "bundles", &ids.join(",")),
        "objects": objects,
    })
}
