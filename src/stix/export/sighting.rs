//! One sighting as its own STIX objects (SDO, relationships, courses of action, the
//! `sighting` with fenghuo's extension), and their ids without building them.

use serde_json::{Map, Value, json};

use super::sdo::{main_object, measures};
use super::{PUBLISHED, enum_word, organisation_identity_id};
use crate::domain::threat::Tlp;
use crate::pb;
use crate::pb::threat_report::Information;
use crate::stix::{
    EXTENSION_ID, derived_id, from_timestamp, report_to_json, stix_time, tlp_marking_id,
};

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
pub(super) struct Parts {
    pub(super) objects: Vec<Value>,
    /// SCOs, by id: shared between sightings of one bundle.
    pub(super) scos: Vec<(String, Value)>,
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

pub(super) fn sighting_parts(sighting: &pb::Sighting, threat: &pb::Threat) -> Parts {
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
