//! A STIX 2.1 bundle as fenghuo reports: every object is planned as a report to submit,
//! part of one, or refused with the reason (docs/stix.md, "Import").

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::pattern;
use super::{
    DEFAULT_TLP, EXTENSION_ID, OTHER_THREAT_TYPE, TLP2_EXTENSION_ID, parse_stix_time,
    report_from_json, tlp_name, tlp_of_marking_id, tlp_of_name, to_timestamp,
};
use crate::domain::threat::Tlp;
use crate::pb;
use crate::pb::threat_report::{Category as Payload, Information};

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
        match foreign(objects, index, root, sdo, defaults, &mut notes) {
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
    }
}

/// A report from an object without the fenghuo extension.
fn foreign(
    objects: &[&Value],
    index: &HashMap<&str, usize>,
    root: &Value,
    sdo: &Value,
    defaults: Option<&pb::StixImportDefaults>,
    notes: &mut Vec<String>,
) -> Result<pb::ThreatReport, Plan> {
    let information = match defaults.and_then(|d| d.information.clone()) {
        Some(pb::stix_import_defaults::Information::Event(e)) => Information::Event(e),
        Some(pb::stix_import_defaults::Information::Warning(w)) => Information::Warning(w),
        None => {
            return Err(refused(
                "defaults.information",
                "a STIX object without the fenghuo extension carries no event grade or warning colour and their contents (reporting measures Art. 10-11, 14-15): send them as ImportStixBundleRequest.defaults",
            ));
        }
    };
    let discovered = [
        s(root, "first_seen"),
        s(sdo, "valid_from"),
        s(sdo, "first_seen"),
        s(root, "created"),
    ]
    .into_iter()
    .find_map(parse_stix_time);
    let Some(discovered) = discovered else {
        return Err(refused(
            "first_seen",
            "required: when the threat was discovered (reporting measures Art. 13): first_seen, valid_from or created",
        ));
    };
    notes.push(format!(
        "discovered_at taken from the object's times: {}",
        super::stix_time(discovered)
    ));
    let kind = defaults
        .map(|d| d.kind)
        .filter(|k| *k != 0)
        .unwrap_or(pb::SubmissionKind::AboutOthers as i32);
    let category = match s(sdo, "type") {
        "indicator" => indicator(sdo)?,
        "malware" => malware(objects, index, sdo)?,
        "vulnerability" => {
            let mut h = pb::SecurityHazard {
                kind: pb::HazardKind::CodeVulnerability as i32,
                ..Default::default()
            };
            for r in sdo["external_references"].as_array().into_iter().flatten() {
                match s(r, "source_name").to_ascii_lowercase().as_str() {
                    "cve" => h.cve_id = s(r, "external_id").into(),
                    "cnvd" => h.cnvd_id = s(r, "external_id").into(),
                    _ => {}
                }
            }
            notes.push("hazard kind: code vulnerability assumed (STIX does not say)".into());
            Payload::SecurityHazard(h)
        }
        "incident" => {
            return Err(refused(
                "incident",
                "a STIX 2.1 incident names no affected asset, and fenghuo needs one (Art. 2(4): the ip, domain, url or system)",
            ));
        }
        _ => Payload::Other(pb::OtherThreat {
            title: s(sdo, "name").into(),
            description: s(sdo, "description").into(),
        }),
    };
    Ok(pb::ThreatReport {
        discovered_at: Some(to_timestamp(discovered)),
        kind,
        information: Some(information),
        category: Some(category),
        ..Default::default()
    })
}

fn indicator(sdo: &Value) -> Result<Payload, Plan> {
    use pb::MaliciousResourceKind as K;
    if !matches!(
        sdo.get("pattern_type").and_then(Value::as_str),
        None | Some("stix")
    ) {
        return Err(refused("pattern_type", "fenghuo reads STIX patterns only"));
    }
    let (object, path, value) =
        pattern::parse_equals(s(sdo, "pattern")).map_err(|e| refused("pattern", e))?;
    let kind = match (object.as_str(), path.as_str()) {
        ("ipv4-addr" | "ipv6-addr", "value") => K::Ip,
        ("domain-name", "value") => K::Domain,
        ("url", "value") => K::Url,
        ("email-addr", "value") => K::EmailAddress,
        ("email-message", "from_ref.value") => K::EmailMessage,
        ("fenghuo-phone-number", "value") => K::PhoneNumber,
        ("fenghuo-sms-message", "sender") => K::SmsMessage,
        ("fenghuo-mms-message", "sender") => K::MmsMessage,
        ("fenghuo-instant-message", "sender") => K::InstantMessage,
        ("file", "hashes.'SHA-256'" | "hashes.SHA256" | "hashes.'SHA256'") => {
            return Ok(Payload::MaliciousProgram(pb::MaliciousProgram {
                sha256: value,
                ..Default::default()
            }));
        }
        _ => {
            return Err(refused(
                "pattern",
                format!(
                    "{object}:{path} is not mapped: fenghuo reads ipv4-addr, ipv6-addr, domain-name, url and email-addr values, email-message:from_ref.value, file:hashes.'SHA-256' and the fenghuo phone and message objects (docs/stix.md)"
                ),
            ));
        }
    };
    Ok(Payload::MaliciousResource(pb::MaliciousResource {
        kind: kind as i32,
        value,
        ..Default::default()
    }))
}

fn malware(objects: &[&Value], index: &HashMap<&str, usize>, sdo: &Value) -> Result<Payload, Plan> {
    let sample = sdo["sample_refs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|id| index.get(id.as_str()?).map(|&i| objects[i]))
        .find(|f| s(f, "type") == "file" && f["hashes"]["SHA-256"].is_string());
    let Some(file) = sample else {
        return Err(refused(
            "sample_refs",
            "fenghuo keys a malicious program by its SHA-256 (Art. 2(2)): sample_refs must name a file of the bundle with hashes.SHA-256",
        ));
    };
    let kind = sdo["malware_types"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|t| match t.as_str()? {
            "trojan" | "remote-access-trojan" => Some(pb::MalwareKind::Trojan),
            "virus" => Some(pb::MalwareKind::Virus),
            "bot" => Some(pb::MalwareKind::Bot),
            _ => None,
        })
        .unwrap_or(pb::MalwareKind::Other);
    Ok(Payload::MaliciousProgram(pb::MaliciousProgram {
        sha256: s(&file["hashes"], "SHA-256").into(),
        md5: s(&file["hashes"], "MD5").into(),
        sha1: s(&file["hashes"], "SHA-1").into(),
        family: s(sdo, "name").into(),
        kind: kind as i32,
        file_name: s(file, "name").into(),
        size_bytes: file["size"].as_u64().unwrap_or_default(),
        ..Default::default()
    }))
}
