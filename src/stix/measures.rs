//! Measures a regulator ordered (Art. 8 disposal notices) as STIX 2.1: a `course-of-action`
//! and `mitigates` (or `related-to`) relationships to the report objects of the threat (docs/stix.md).

use serde_json::{Value, json};

use super::export::{enum_word, organisation_identity_id};
use super::{EXTENSION_ID, derived_id, from_timestamp, stix_time, tlp_marking_id};
use crate::domain::threat::Tlp;
use crate::pb;

/// A notice goes to its addressee and the regulators over it: TLP:AMBER+STRICT, the
/// organisation only.
pub const MEASURE_TLP: Tlp = Tlp::AmberStrict;

/// The course of action a disposal notice orders, and one `mitigates` relationship to each
/// of `report_objects` (the SDOs of the threat's sightings the reader sees, by sighting id).
pub fn measure_objects(notice: &pb::NoticeBody, report_objects: &[(String, String)]) -> Vec<Value> {
    let issued = notice
        .issued_at
        .as_ref()
        .map(|t| stix_time(from_timestamp(t)))
        .unwrap_or_default();
    let marking = json!([tlp_marking_id(MEASURE_TLP)]);
    let issuer = organisation_identity_id(&notice.issuer_organisation_id);
    let common = |ty: &str, id: &str| {
        json!({
            "type": ty, "spec_version": "2.1", "id": id,
            "created_by_ref": issuer, "created": issued, "modified": issued,
            "object_marking_refs": marking,
        })
    };
    let measure = pb::MeasureType::try_from(notice.measure_type)
        .map(|m| enum_word(m.as_str_name(), "MEASURE_TYPE_").replace('_', " "))
        .unwrap_or_else(|_| "other".into());
    let targets: Vec<&str> = notice
        .targets
        .iter()
        .filter_map(|t| t.target.as_ref().map(|t| t.value.as_str()))
        .collect();
    let mut description = format!(
        "Ordered of {} by {}: {measure} of {}.",
        notice.addressee_organisation_id,
        notice.issuer_organisation_id,
        targets.join(", ")
    );
    if let Some(d) = &notice.deadline {
        description.push_str(&format!(" Deadline {}.", stix_time(from_timestamp(d))));
    }
    if !notice.instructions.is_empty() {
        description.push_str(&format!(" {}", notice.instructions));
    }
    let coa_id = derived_id("course-of-action", "notice", &notice.notice_id);
    let mut coa = common("course-of-action", &coa_id);
    coa["name"] = format!(
        "Ordered measure: {measure} ({})",
        if notice.legal_basis.is_empty() {
            "Art. 8 of the 2017 Measures"
        } else {
            notice.legal_basis.as_str()
        }
    )
    .into();
    coa["description"] = description.into();
    coa["extensions"] = json!({ EXTENSION_ID: {
        "extension_type": "property-extension",
        "threat_id": notice.threat_id,
        "notice_id": notice.notice_id,
        "decision_id": notice.decision_id,
        "addressee_organisation_id": notice.addressee_organisation_id,
        "measure_type": measure,
    }});
    let mut out = vec![coa];
    for (sighting_id, sdo) in report_objects {
        let rel_id = derived_id(
            "relationship",
            "notice-mitigates",
            &format!("{}:{sighting_id}", notice.notice_id),
        );
        let mut rel = common("relationship", &rel_id);
        // STIX 2.1 lets a course of action mitigate these; anything else it is related to.
        let mitigable = ["indicator--", "malware--", "vulnerability--"]
            .iter()
            .any(|p| sdo.starts_with(p));
        rel["relationship_type"] = if mitigable { "mitigates" } else { "related-to" }.into();
        rel["source_ref"] = coa_id.clone().into();
        rel["target_ref"] = sdo.clone().into();
        out.push(rel);
    }
    out
}
