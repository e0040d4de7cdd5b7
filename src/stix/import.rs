//! A STIX 2.1 bundle as fenghuo reports: every object is planned as a report to submit,
//! part of one, or refused with the reason (docs/stix.md, "Import").

use std::collections::{HashMap, HashSet};

use serde_json::Value;

mod foreign;

use super::pattern;
use super::{
    DEFAULT_TLP, EXTENSION_ID, OTHER_THREAT_TYPE, TLP2_EXTENSION_ID, parse_stix_time,
    report_from_json, tlp_name, tlp_of_marking_id, tlp_of_name,
};
use crate::domain::threat::Tlp;
use crate::pb;

/// SDO types fenghuo reads as reports.
const REPORT_TYPES: [&str; 5] = [
    "indicator",
    "malware",
    "vulnerability",
    "incident",
    OTHER_THREAT_TYPE,
];
/// Types that are only ever part of a report.
const CONTEXT_TYPES: [&str; 4] = [
    "marking-definition",
    "identity",
    "extension-definition",
    "course-of-action",
];
const SCO_TYPES: [&str; 18] = [
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
];

/// What happens to one object of the bundle.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Submit this; `notes` say what the mapping assumed.
    Report {
        request: Box<pb::SubmitThreatRequest>,
        notes: Vec<String>,
        /// The sighting this object was exported from, as its fenghuo extension names it:
        /// (sighting_id, reporter_organisation_id). Its reporter importing it back is a replay.
        origin: Option<(String, String)>,
    },
    /// Part of the report of this object id.
    Used { by: String },
    /// Not stored: the property (or report field) at fault and why.
    Refused { field: String, reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub id: String,
    pub stix_type: String,
    pub plan: Plan,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a STIX bundle: the top-level object needs \"type\": \"bundle\"")]
    NotABundle,
    #[error("the bundle has no \"objects\" list")]
    NoObjects,
}

/// Parses a bundle's text.
pub fn parse(text: &[u8]) -> Result<Value, BundleError> {
    let v: Value = serde_json::from_slice(text).map_err(|e| BundleError::NotJson(e.to_string()))?;
    if v.get("type").and_then(Value::as_str) != Some("bundle") {
        return Err(BundleError::NotABundle);
    }
    if !v.get("objects").is_some_and(Value::is_array) {
        return Err(BundleError::NoObjects);
    }
    Ok(v)
}

fn s<'a>(o: &'a Value, key: &str) -> &'a str {
    o.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn refused(field: impl Into<String>, reason: impl Into<String>) -> Plan {
    Plan::Refused {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Every id an object names through a `*_ref` / `*_refs` property (top level).
fn references(o: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = o.as_object() {
        for (k, v) in m {
            if k.ends_with("_ref") {
                out.extend(v.as_str().map(str::to_owned));
            } else if k.ends_with("_refs") {
                out.extend(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.as_str().map(str::to_owned)),
                );
            }
        }
        if let Some(ext) = m.get("extensions").and_then(Value::as_object) {
            out.extend(
                ext.keys()
                    .filter(|k| k.starts_with("extension-definition--"))
                    .cloned(),
            );
        }
    }
    out
}

/// Plans every object of a parsed bundle. `defaults` fills what foreign objects lack.
pub fn plan(bundle: &Value, defaults: Option<&pb::StixImportDefaults>) -> Vec<Planned> {
    let objects: Vec<&Value> = bundle["objects"].as_array().into_iter().flatten().collect();
    let ids: Vec<String> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| match o.get("id").and_then(Value::as_str) {
            Some(id) if id.contains("--") => id.to_owned(),
            _ => format!("objects[{i}]"),
        })
        .collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        index.entry(id.as_str()).or_insert(i);
    }
    let mut plans: Vec<Option<Plan>> = vec![None; objects.len()];

    // Objects that are not STIX 2.1 or are withdrawn are refused before anything uses them.
    for (i, o) in objects.iter().enumerate() {
        if !o.is_object() || s(o, "type").is_empty() {
            plans[i] = Some(refused(
                "type",
                "not a STIX object: an object with a \"type\" is required",
            ));
        } else if !matches!(
            o.get("spec_version").and_then(Value::as_str),
            None | Some("2.1")
        ) {
            plans[i] = Some(refused("spec_version", "fenghuo reads STIX 2.1 objects"));
        } else if o.get("revoked").and_then(Value::as_bool) == Some(true) {
            plans[i] = Some(refused(
                "revoked",
                "a revoked object is withdrawn by its producer, not a report",
            ));
        }
    }

    // Roots: sightings, and report SDOs no sighting of the bundle sights.
    let sighted: HashSet<&str> = objects
        .iter()
        .enumerate()
        .filter(|(i, o)| plans[*i].is_none() && s(o, "type") == "sighting")
        .map(|(_, o)| s(o, "sighting_of_ref"))
        .collect();
    let mut roots = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        if plans[i].is_some() {
            continue;
        }
        let ty = s(o, "type");
        if ty == "sighting" || (REPORT_TYPES.contains(&ty) && !sighted.contains(ids[i].as_str())) {
            roots.push(i);
        }
    }
    let mut relationships: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, o) in objects.iter().enumerate() {
        if plans[k].is_none() && s(o, "type") == "relationship" {
            relationships.entry(s(o, "source_ref")).or_default().push(k);
            relationships.entry(s(o, "target_ref")).or_default().push(k);
        }
    }
    // Each root claims its SDO and, transitively, the context objects they reference.
    let mut used_by: HashMap<usize, usize> = HashMap::new();
    let mut indicator_values: Vec<(String, usize)> = Vec::new();
    for &r in &roots {
        let mut work = vec![r];
        if s(objects[r], "type") == "sighting"
            && let Some(&t) = index.get(s(objects[r], "sighting_of_ref"))
            && plans[t].is_none()
            && REPORT_TYPES.contains(&s(objects[t], "type"))
        {
            used_by.entry(t).or_insert(r);
            work.push(t);
        }
        if let Some(&sdo) = work.last()
            && s(objects[sdo], "type") == "indicator"
            && let Ok((_, _, v)) = pattern::parse_equals(s(objects[sdo], "pattern"))
        {
            indicator_values.push((v, r));
        }
        let mut seen: HashSet<usize> = work.iter().copied().collect();
        while let Some(j) = work.pop() {
            for id in references(objects[j]) {
                let Some(&k) = index.get(id.as_str()) else {
                    continue;
                };
                let ty = s(objects[k], "type");
                if plans[k].is_some() || !(CONTEXT_TYPES.contains(&ty) || SCO_TYPES.contains(&ty)) {
                    continue;
                }
                if seen.insert(k) {
                    used_by.entry(k).or_insert(r);
                    work.push(k);
                }
            }
            // Relationships between this report's objects and its courses of action or observables.
            for &k in relationships.get(ids[j].as_str()).into_iter().flatten() {
                let o = objects[k];
                if seen.contains(&k) {
                    continue;
                }
                let (src, dst) = (s(o, "source_ref"), s(o, "target_ref"));
                let other = if src == ids[j] {
                    dst
                } else if dst == ids[j] {
                    src
                } else {
                    continue;
                };
                let Some(&m) = index.get(other) else { continue };
                let ty = s(objects[m], "type");
                if CONTEXT_TYPES.contains(&ty) || SCO_TYPES.contains(&ty) || seen.contains(&m) {
                    seen.insert(k);
                    used_by.entry(k).or_insert(r);
                    work.push(k);
                    if seen.insert(m) {
                        used_by.entry(m).or_insert(r);
                        work.push(m);
                    }
                }
            }
        }
    }
    // An observable whose value an indicator's pattern names is that indicator's.
    for (k, o) in objects.iter().enumerate() {
        if plans[k].is_none()
            && !used_by.contains_key(&k)
            && SCO_TYPES.contains(&s(o, "type"))
            && let Some((_, r)) = indicator_values.iter().find(|(v, _)| v == s(o, "value"))
        {
            used_by.insert(k, *r);
        }
    }

    for &r in &roots {
        plans[r] = Some(report(&objects, &ids, &index, r, defaults));
    }
    for (k, r) in used_by {
        if plans[k].is_none() {
            plans[k] = Some(Plan::Used { by: ids[r].clone() });
        }
    }
    objects
        .iter()
        .enumerate()
        .map(|(i, o)| Planned {
            id: ids[i].clone(),
            stix_type: s(o, "type").to_owned(),
            plan: plans[i].take().unwrap_or_else(|| unmapped(o)),
        })
        .collect()
}

fn unmapped(o: &Value) -> Plan {
    let ty = s(o, "type");
    if ty == "relationship" {
        return refused(
            "relationship_type",
            format!(
                "a relationship ({}) outside a report: fenghuo keeps only relationships between a report's object and its courses of action or observables",
                s(o, "relationship_type")
            ),
        );
    }
    if SCO_TYPES.contains(&ty) {
        return refused(
            "type",
            format!(
                "a {ty} is kept only as part of a report (an indicator's pattern, a malware's sample, a reference of a report's object)"
            ),
        );
    }
    if let Some(notice) = o["extensions"][EXTENSION_ID]["notice_id"].as_str() {
        // A platform export's ordered measure: notices come from DisposalService (Art. 8).
        return refused(
            "id",
            format!(
                "the measure ordered by disposal notice {notice} (Art. 8): a notice is not a threat report, and no report of the bundle it relates to is in the bundle"
            ),
        );
    }
    if CONTEXT_TYPES.contains(&ty) {
        return refused("id", format!("no report of the bundle uses this {ty}"));
    }
    refused(
        "type",
        format!(
            "{ty} is not mapped: fenghuo stores threat reports (Art. 2 of the 2017 Measures) from sighting, indicator, malware, vulnerability, incident and {OTHER_THREAT_TYPE} objects (docs/stix.md)"
        ),
    )
}

/// The marking of a report from its object's `object_marking_refs`, with notes.
fn marking(
    objects: &[&Value],
    index: &HashMap<&str, usize>,
    root: &Value,
    defaults: Option<&pb::StixImportDefaults>,
    notes: &mut Vec<String>,
) -> Tlp {
    let mut found: Vec<Tlp> = Vec::new();
    for id in root["object_marking_refs"].as_array().into_iter().flatten() {
        let id = id.as_str().unwrap_or_default();
        let tlp = tlp_of_marking_id(id).or_else(|| {
            let m = objects[*index.get(id)?];
            let tlp1 = m["definition"]["tlp"].as_str().and_then(tlp_of_name);
            let tlp2 = m["extensions"][TLP2_EXTENSION_ID]["tlp_2_0"]
                .as_str()
                .and_then(tlp_of_name);
            tlp1.or(tlp2).or_else(|| tlp_of_name(s(m, "name")))
        });
        match tlp {
            Some(t) => found.push(t),
            None => notes.push(format!(
                "marking {id} is not a TLP marking: fenghuo keeps TLP markings only"
            )),
        }
    }
    found.sort();
    found.dedup();
    match found.last() {
        Some(t) => {
            if found.len() > 1 {
                notes.push(format!(
                    "several TLP markings: the strictest, {}, applies",
                    tlp_name(*t)
                ));
            }
            *t
        }
        None => {
            let chosen = defaults
                .and_then(|d| Tlp::from_i64(i64::from(d.tlp)))
                .map(|t| (t, "the import's default"))
                .unwrap_or((DEFAULT_TLP, "the platform default"));
            notes.push(format!(
                "no TLP marking: {} {} applies",
                chosen.1,
                tlp_name(chosen.0)
            ));
            chosen.0
        }
    }
}

fn report(
    objects: &[&Value],
    ids: &[String],
    index: &HashMap<&str, usize>,
    r: usize,
    defaults: Option<&pb::StixImportDefaults>,
) -> Plan {
    let root = objects[r];
    let modified = [s(root, "modified"), s(root, "created")]
        .into_iter()
        .find(|m| !m.is_empty())
        .unwrap_or_default();
    if parse_stix_time(modified).is_none() {
        return refused(
            "modified",
            "required: a STIX timestamp (the idempotency key is the id and modified)",
        );
    }
    let mut notes = Vec::new();
    let tlp = marking(objects, index, root, defaults, &mut notes);
    let own = &root["extensions"][EXTENSION_ID];
    let origin = match (
        own["sighting_id"].as_str(),
        own["reporter_organisation_id"].as_str(),
    ) {
        (Some(id), Some(org)) if own["report"].is_object() && !id.is_empty() => {
            Some((id.to_owned(), org.to_owned()))
        }
        _ => None,
    };
    let mut report = if own["report"].is_object() {
        match report_from_json(&own["report"]) {
            Ok(rep) => rep,
            Err(e) => {
                return refused(
                    format!("extensions.{EXTENSION_ID}.report"),
                    format!("not a fenghuo.v1.ThreatReport in the protobuf JSON mapping: {e}"),
                );
            }
        }
    } else {
        let sdo = if s(root, "type") == "sighting" {
            match index.get(s(root, "sighting_of_ref")) {
                Some(&t) if REPORT_TYPES.contains(&s(objects[t], "type")) => objects[t],
                Some(&t) => {
                    return refused(
                        "sighting_of_ref",
                        format!(
                            "sights a {}, which fenghuo does not map",
                            s(objects[t], "type")
                        ),
                    );
                }
                None => {
                    return refused(
                        "sighting_of_ref",
                        format!("{} is not in the bundle", s(root, "sighting_of_ref")),
                    );
                }
            }
        } else {
            root
        };
        match foreign::report(objects, index, root, sdo, defaults, &mut notes) {
            Ok(rep) => rep,
            Err(plan) => return plan,
        }
    };
    report.tlp = tlp as i32;
    Plan::Report {
        request: Box::new(pb::SubmitThreatRequest {
            submission_id: format!("stix:{}:{}", ids[r], modified.trim()),
            report: Some(report),
        }),
        notes,
        origin,
    }
}
