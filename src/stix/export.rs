//! A visible sighting as STIX 2.1 objects, and bundles of them (docs/stix.md).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::pattern;
use super::{
    EXTENSION_ID, OTHER_THREAT_TYPE, PLATFORM_IDENTITY, derived_id, from_timestamp, report_to_json,
    sco_id, stix_time, tlp_marking, tlp_marking_id,
};
use crate::domain::threat::Tlp;
use crate::pb;
use crate::pb::threat_report::{Category as Payload, Information};

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

fn category_word(category: i32) -> String {
    pb::ThreatCategory::try_from(category)
        .map(|c| enum_word(c.as_str_name(), "THREAT_CATEGORY_"))
        .unwrap_or_default()
}

fn grade_word(grade: i32) -> Option<String> {
    match pb::EventGrade::try_from(grade) {
        Ok(pb::EventGrade::Unspecified) | Err(_) => None,
        Ok(g) => Some(enum_word(g.as_str_name(), "EVENT_GRADE_")),
    }
}

/// The objects one sighting shows, in the order a reader needs them.
struct Parts {
    objects: Vec<Value>,
    /// SCOs, by id: shared between sightings of one bundle.
    scos: Vec<(String, Value)>,
}

/// The SDO a report is about: (type, properties beyond the common ones, its SCOs).
fn main_object(
    report: &pb::ThreatReport,
    description: &str,
) -> (String, Map<String, Value>, Vec<Value>) {
    let mut p = Map::new();
    let mut scos = Vec::new();
    let valid_from = report
        .discovered_at
        .as_ref()
        .map(|t| stix_time(from_timestamp(t)))
        .unwrap_or_else(|| PUBLISHED.into());
    if !description.is_empty() {
        p.insert("description".into(), description.into());
    }
    let ty = match &report.category {
        Some(Payload::MaliciousResource(r)) => {
            use pb::MaliciousResourceKind as K;
            let kind = K::try_from(r.kind).unwrap_or(K::Unspecified);
            let (object, path, sco_type) = match kind {
                K::Ip if r.value.contains(':') => ("ipv6-addr", "value", Some("ipv6-addr")),
                K::Ip => ("ipv4-addr", "value", Some("ipv4-addr")),
                K::Domain => ("domain-name", "value", Some("domain-name")),
                K::Url => ("url", "value", Some("url")),
                K::EmailAddress => ("email-addr", "value", Some("email-addr")),
                K::EmailMessage => ("email-message", "from_ref.value", Some("email-addr")),
                K::PhoneNumber => ("fenghuo-phone-number", "value", None),
                K::SmsMessage => ("fenghuo-sms-message", "sender", None),
                K::MmsMessage => ("fenghuo-mms-message", "sender", None),
                K::InstantMessage | K::Unspecified => ("fenghuo-instant-message", "sender", None),
            };
            if let Some(t) = sco_type {
                let id = sco_id(t, &json!({"value": r.value}));
                scos.push(json!({"type": t, "spec_version": "2.1", "id": id, "value": r.value}));
            }
            let purpose = pb::MaliciousResourcePurpose::try_from(r.purpose)
                .ok()
                .filter(|p| *p != pb::MaliciousResourcePurpose::Unspecified)
                .map(|p| {
                    enum_word(p.as_str_name(), "MALICIOUS_RESOURCE_PURPOSE_").replace('_', " ")
                });
            let kind_word =
                enum_word(kind.as_str_name(), "MALICIOUS_RESOURCE_KIND_").replace('_', " ");
            let name = match purpose {
                Some(p) => format!("Malicious {kind_word} {} ({p})", r.value),
                None => format!("Malicious {kind_word} {}", r.value),
            };
            p.insert("name".into(), name.into());
            p.insert("indicator_types".into(), json!(["malicious-activity"]));
            p.insert(
                "pattern".into(),
                pattern::equals(object, path, &r.value).into(),
            );
            p.insert("pattern_type".into(), "stix".into());
            p.insert("pattern_version".into(), "2.1".into());
            p.insert("valid_from".into(), valid_from.into());
            "indicator"
        }
        Some(Payload::MaliciousProgram(m)) => {
            let mut hashes = Map::new();
            hashes.insert("SHA-256".into(), m.sha256.clone().into());
            let file_id = sco_id("file", &json!({"hashes": {"SHA-256": m.sha256}}));
            if !m.md5.is_empty() {
                hashes.insert("MD5".into(), m.md5.clone().into());
            }
            if !m.sha1.is_empty() {
                hashes.insert("SHA-1".into(), m.sha1.clone().into());
            }
            let mut file =
                json!({"type": "file", "spec_version": "2.1", "id": file_id, "hashes": hashes});
            if !m.file_name.is_empty() {
                file["name"] = m.file_name.clone().into();
            }
            if m.size_bytes > 0 {
                file["size"] = m.size_bytes.into();
            }
            scos.push(file);
            let kind = match pb::MalwareKind::try_from(m.kind) {
                Ok(pb::MalwareKind::Trojan) => "trojan",
                Ok(pb::MalwareKind::Virus) => "virus",
                Ok(pb::MalwareKind::Bot) => "bot",
                _ => "unknown",
            };
            let name = [&m.family, &m.file_name, &m.sha256]
                .into_iter()
                .find(|s| !s.is_empty())
                .cloned()
                .unwrap_or_default();
            p.insert("name".into(), name.into());
            p.insert("is_family".into(), false.into());
            p.insert("malware_types".into(), json!([kind]));
            p.insert("sample_refs".into(), json!([file_id]));
            "malware"
        }
        Some(Payload::SecurityHazard(h)) => {
            let mut refs = Vec::new();
            if !h.cve_id.is_empty() {
                refs.push(json!({"source_name": "cve", "external_id": h.cve_id}));
            }
            if !h.cnvd_id.is_empty() {
                refs.push(json!({"source_name": "cnvd", "external_id": h.cnvd_id}));
            }
            let id = if h.cve_id.is_empty() {
                &h.cnvd_id
            } else {
                &h.cve_id
            };
            let name = if id.is_empty() {
                h.product.clone()
            } else {
                format!("{id} in {}", h.product)
            };
            p.insert("name".into(), name.into());
            if !refs.is_empty() {
                p.insert("external_references".into(), refs.into());
            }
            "vulnerability"
        }
        Some(Payload::SecurityIncident(i)) => {
            let kind = pb::IncidentKind::try_from(i.kind)
                .map(|k| enum_word(k.as_str_name(), "INCIDENT_KIND_").replace('_', " "))
                .unwrap_or_default();
            let asset = asset_text(i.asset.as_ref());
            p.insert(
                "name".into(),
                format!("Security incident ({kind}): {asset}").into(),
            );
            "incident"
        }
        Some(Payload::Other(o)) => {
            let name = if o.title.is_empty() {
                "Other threat (Art. 2(5))"
            } else {
                &o.title
            };
            p.insert("name".into(), name.into());
            if !o.description.is_empty() {
                p.insert("description".into(), o.description.clone().into());
            }
            p.insert(
                "extensions".into(),
                json!({EXTENSION_ID: {"extension_type": "new-sdo"}}),
            );
            OTHER_THREAT_TYPE
        }
        // A follow-up without a category: a note-like SDO would add nothing; the sighting
        // still needs an SDO to sight.
        None => {
            p.insert(
                "name".into(),
                "Follow-up report (reporting measures Art. 16)".into(),
            );
            p.insert(
                "extensions".into(),
                json!({EXTENSION_ID: {"extension_type": "new-sdo"}}),
            );
            OTHER_THREAT_TYPE
        }
    };
    (ty.to_owned(), p, scos)
}

fn asset_text(a: Option<&pb::AffectedAsset>) -> String {
    use pb::affected_asset::Asset;
    match a.and_then(|a| a.asset.as_ref()) {
        Some(Asset::Ip(v) | Asset::Domain(v) | Asset::Url(v) | Asset::SystemName(v)) => v.clone(),
        None => String::new(),
    }
}

/// The courses of action a report states: (what, text).
fn measures(report: &pb::ThreatReport) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(d) = report
        .self_disposal
        .as_ref()
        .filter(|d| !d.measures_taken.is_empty())
    {
        out.push((
            "Measures taken (self-disposal report, Art. 11)",
            d.measures_taken.clone(),
        ));
    }
    match &report.information {
        Some(Information::Event(e)) if !e.measures_taken.is_empty() => {
            out.push((
                "Emergency measures taken (reporting measures Art. 14)",
                e.measures_taken.clone(),
            ));
        }
        Some(Information::Warning(w)) if !w.recommended_countermeasures.is_empty() => out.push((
            "Recommended countermeasures (reporting measures Art. 15)",
            w.recommended_countermeasures.clone(),
        )),
        _ => {}
    }
    out
}

/// The ids of the objects that belong to one sighting alone: UUIDv5 of the sighting id.
struct OwnIds {
    sdo: String,
    /// An indicator's (observable, `based-on` relationship).
    based_on: Vec<(String, String)>,
    /// Each stated measure's (course of action, relationship).
    measures: Vec<(String, String)>,
    sighting: String,
}

impl OwnIds {
    fn of<'a>(
        sighting_id: &str,
        ty: &str,
        scos: impl Iterator<Item = &'a String>,
        measures: usize,
    ) -> OwnIds {
        let based_on = if ty == "indicator" {
            scos.map(|sco| {
                let rel = format!("{sighting_id}:{sco}");
                (sco.clone(), derived_id("relationship", "based-on", &rel))
            })
            .collect()
        } else {
            Vec::new()
        };
        OwnIds {
            sdo: derived_id(ty, "sighting-object", sighting_id),
            based_on,
            measures: (0..measures)
                .map(|i| {
                    (
                        derived_id("course-of-action", &format!("measure{i}"), sighting_id),
                        derived_id(
                            "relationship",
                            &format!("measure{i}-mitigates"),
                            sighting_id,
                        ),
                    )
                })
                .collect(),
            sighting: derived_id("sighting", "sighting", sighting_id),
        }
    }
}

/// The ids of the objects [`sighting_objects`] gives a sighting, from its id and report
/// alone (cheaper than building them): what the object-id index keeps.
pub fn sighting_object_ids(sighting_id: &str, report: &pb::ThreatReport) -> Vec<String> {
    let (ty, _, scos) = main_object(report, "");
    let scos: Vec<String> = scos
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    let ids = OwnIds::of(sighting_id, &ty, scos.iter(), measures(report).len());
    let mut out = vec![ids.sdo];
    out.extend(ids.based_on.into_iter().map(|(_, rel)| rel));
    for (coa, rel) in ids.measures {
        out.push(coa);
        out.push(rel);
    }
    out.push(ids.sighting);
    out
}

fn sighting_parts(sighting: &pb::Sighting, threat: &pb::Threat) -> Parts {
    let report = sighting.report.clone().unwrap_or_default();
    let tlp = Tlp::from_i64(i64::from(report.tlp)).unwrap_or(Tlp::Red);
    let marking = json!([tlp_marking_id(tlp)]);
    let created = sighting
        .received_at
        .as_ref()
        .map(|t| stix_time(from_timestamp(t)))
        .unwrap_or_else(|| PUBLISHED.into());
    let reporter = organisation_identity_id(&sighting.reporter_organisation_id);
    let description = match &report.information {
        Some(Information::Event(e)) => e.brief_course.clone(),
        Some(Information::Warning(w)) => w.description.clone(),
        None => String::new(),
    };
    let common = |ty: &str, id: &str| {
        json!({
            "type": ty, "spec_version": "2.1", "id": id,
            "created_by_ref": reporter, "created": created, "modified": created,
            "object_marking_refs": marking,
        })
    };
    let (ty, props, scos) = main_object(&report, &description);
    let scos: Vec<(String, Value)> = scos
        .into_iter()
        .map(|s| (s["id"].as_str().unwrap_or_default().to_owned(), s))
        .collect();
    let stated = measures(&report);
    let ids = OwnIds::of(
        &sighting.id,
        &ty,
        scos.iter().map(|(id, _)| id),
        stated.len(),
    );
    let sdo_id = ids.sdo.clone();
    let mut sdo = common(&ty, &sdo_id);
    extend(&mut sdo, props);
    let mut objects = vec![sdo];
    for (sco, rel_id) in &ids.based_on {
        let mut rel = common("relationship", rel_id);
        extend(
            &mut rel,
            obj(json!({"relationship_type": "based-on", "source_ref": sdo_id, "target_ref": sco})),
        );
        objects.push(rel);
    }
    for ((name, text), (coa_id, rel_id)) in stated.into_iter().zip(&ids.measures) {
        let mut coa = common("course-of-action", coa_id);
        extend(&mut coa, obj(json!({"name": name, "description": text})));
        objects.push(coa);
        let rel_type = if matches!(ty.as_str(), "indicator" | "malware" | "vulnerability") {
            "mitigates"
        } else {
            "related-to"
        };
        let mut rel = common("relationship", rel_id);
        extend(
            &mut rel,
            obj(json!({"relationship_type": rel_type, "source_ref": coa_id, "target_ref": sdo_id})),
        );
        objects.push(rel);
    }
    let mut ext = Map::new();
    ext.insert("extension_type".into(), "property-extension".into());
    ext.insert("threat_id".into(), sighting.threat_id.clone().into());
    ext.insert("sighting_id".into(), sighting.id.clone().into());
    ext.insert(
        "reporter_organisation_id".into(),
        sighting.reporter_organisation_id.clone().into(),
    );
    ext.insert("category".into(), category_word(threat.category).into());
    if let Ok(s) = pb::ThreatStatus::try_from(threat.status) {
        ext.insert(
            "threat_status".into(),
            enum_word(s.as_str_name(), "THREAT_STATUS_").into(),
        );
    }
    if let Some(g) = grade_word(threat.grade) {
        ext.insert("identification_grade".into(), g.into());
    }
    match &report.information {
        Some(Information::Event(e)) => {
            if let Some(g) = grade_word(e.grade) {
                ext.insert("event_grade".into(), g.into());
            }
        }
        Some(Information::Warning(w)) => {
            if let Ok(c) = pb::WarningColour::try_from(w.colour) {
                ext.insert(
                    "warning_colour".into(),
                    enum_word(c.as_str_name(), "WARNING_COLOUR_").into(),
                );
            }
        }
        None => {}
    }
    ext.insert("received_at".into(), created.clone().into());
    if let Some(due) = &sighting.report_due {
        ext.insert("report_due".into(), stix_time(from_timestamp(due)).into());
    }
    if !sighting.report_deadline.is_empty() {
        ext.insert(
            "report_deadline".into(),
            sighting.report_deadline.clone().into(),
        );
    }
    ext.insert("reported_late".into(), sighting.reported_late.into());
    // The marking is the object's; the report carries everything else.
    let mut unmarked = report.clone();
    unmarked.tlp = 0;
    ext.insert("report".into(), report_to_json(&unmarked));
    let seen = report
        .discovered_at
        .as_ref()
        .map(|t| stix_time(from_timestamp(t)))
        .unwrap_or_else(|| created.clone());
    let mut sro = common("sighting", &ids.sighting);
    let mut props = obj(json!({
        "sighting_of_ref": sdo_id,
        "where_sighted_refs": [reporter],
        "first_seen": seen, "last_seen": seen, "count": 1,
        "extensions": {EXTENSION_ID: Value::Object(ext)},
    }));
    if !description.is_empty() {
        props.insert("description".into(), description.into());
    }
    extend(&mut sro, props);
    objects.push(sro);
    Parts { objects, scos }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn extend(target: &mut Value, props: Map<String, Value>) {
    if let Value::Object(m) = target {
        m.extend(props);
    }
}

/// The objects that belong to one sighting alone (its SDO, relationships, courses of action
/// and the `sighting`), in the order a reader needs them: what TAXII serves for it. The
/// observables, markings and identities several sightings share are left to bundles.
pub fn sighting_objects(sighting: &pb::Sighting, threat: &pb::Threat) -> Vec<Value> {
    sighting_parts(sighting, threat).objects
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
