//! The SDO a report is about (indicator, malware, vulnerability, incident or the other-threat
//! SDO) with its observables, and the courses of action the report states.

use serde_json::{Map, Value, json};

use super::{PUBLISHED, enum_word};
use crate::pb;
use crate::pb::threat_report::{Category as Payload, Information};
use crate::stix::{EXTENSION_ID, OTHER_THREAT_TYPE, from_timestamp, pattern, sco_id, stix_time};

/// The SDO a report is about: (type, properties beyond the common ones, its SCOs).
pub(super) fn main_object(
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
pub(super) fn measures(report: &pb::ThreatReport) -> Vec<(&'static str, String)> {
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
