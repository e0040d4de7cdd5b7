//! Reports from objects without the fenghuo extension (MISP, OpenCTI, vendor feeds): what
//! their STIX properties say, and `defaults` for what the Measures require and STIX lacks.

use std::collections::HashMap;

use serde_json::Value;

use super::{Plan, refused, s};
use crate::pb;
use crate::pb::threat_report::{Category as Payload, Information};
use crate::stix::{parse_stix_time, pattern, to_timestamp};

/// A report from an object without the fenghuo extension.
pub(super) fn report(
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
        crate::stix::stix_time(discovered)
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
