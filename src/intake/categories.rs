//! The contents of each Art. 2 category of threat: malicious network resources, malicious
//! programs, security hazards and incidents, each checked and normalised for storage, dedup
//! and routing (Art. 9).

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;

use super::report::{FieldError, indicator_at, optional_hex, refuse, timestamp};
use crate::domain::threat::indicator;
use crate::pb;
use crate::pb::threat_report::Category as Payload;

/// The normalised resources of a report that the ownership registry can route.
pub(super) fn routable_resources(report: &pb::ThreatReport) -> Vec<String> {
    use pb::MaliciousResourceKind as K;
    let asset = |a: &Option<pb::AffectedAsset>| -> Option<String> {
        match a.as_ref()?.asset.as_ref()? {
            pb::affected_asset::Asset::Ip(v)
            | pb::affected_asset::Asset::Domain(v)
            | pb::affected_asset::Asset::Url(v) => Some(v.clone()),
            pb::affected_asset::Asset::SystemName(_) => None,
        }
    };
    let mut out = Vec::new();
    match &report.category {
        Some(Payload::MaliciousResource(r)) => {
            if K::try_from(r.kind).is_ok_and(|k| k != K::InstantMessage) {
                out.push(r.value.clone());
            }
            if let Some(c) = &r.control_server {
                if !c.ip.is_empty() {
                    out.push(c.ip.clone());
                }
                out.extend(c.domains.iter().cloned());
            }
        }
        Some(Payload::MaliciousProgram(p)) => out.extend(p.distribution_urls.iter().cloned()),
        Some(Payload::SecurityHazard(h)) => out.extend(asset(&h.affected_asset)),
        Some(Payload::SecurityIncident(i)) => out.extend(asset(&i.asset)),
        Some(Payload::Other(_)) | None => {}
    }
    out
}

pub(super) fn malicious_resource(
    r: &mut pb::MaliciousResource,
) -> Result<(String, String), FieldError> {
    use pb::MaliciousResourceKind as K;
    let field = "report.malicious_resource.value";
    let kind = K::try_from(r.kind).unwrap_or(K::Unspecified);
    let (name, value) = match kind {
        K::Unspecified => {
            return refuse(
                "report.malicious_resource.kind",
                "required: ip, domain, url, email address, phone number or a message kind (Art. 2(1))",
            );
        }
        K::Ip => ("ip", indicator_at(field, indicator::ip(&r.value))?),
        K::Domain => ("domain", indicator_at(field, indicator::domain(&r.value))?),
        K::Url => ("url", indicator_at(field, indicator::url(&r.value))?),
        K::EmailAddress => ("email", indicator_at(field, indicator::email(&r.value))?),
        K::PhoneNumber => ("phone", indicator_at(field, indicator::phone(&r.value))?),
        K::EmailMessage => (
            "email_message",
            indicator_at(field, indicator::email(&r.value))?,
        ),
        K::SmsMessage => ("sms", indicator_at(field, indicator::phone(&r.value))?),
        K::MmsMessage => ("mms", indicator_at(field, indicator::phone(&r.value))?),
        K::InstantMessage => {
            let v = r.value.trim().to_lowercase();
            if v.is_empty() || v.chars().count() > 256 {
                return refuse(field, "the sending account: 1 to 256 characters");
            }
            ("im", v)
        }
    };
    r.value = value.clone();
    let is_message = matches!(
        kind,
        K::EmailMessage | K::SmsMessage | K::MmsMessage | K::InstantMessage
    );
    if r.message.is_some() && !is_message {
        return refuse(
            "report.malicious_resource.message",
            "only for malicious messages (e-mail, SMS, MMS, instant message)",
        );
    }
    if let Some(m) = &mut r.message {
        m.content_sha256 = optional_hex(
            "report.malicious_resource.message.content_sha256",
            &m.content_sha256,
            64,
            "a SHA-256",
        )?;
    }
    let control_purpose = matches!(
        pb::MaliciousResourcePurpose::try_from(r.purpose),
        Ok(pb::MaliciousResourcePurpose::BotnetControlServer
            | pb::MaliciousResourcePurpose::TrojanControlServer)
    );
    if control_purpose && r.control_server.is_none() {
        return refuse(
            "report.malicious_resource.control_server",
            "a control-server report states the server's IP, port and malicious domains (2009 mechanism Art. 8(2))",
        );
    }
    if let Some(cs) = &mut r.control_server {
        let cs_field = |f: &str| format!("report.malicious_resource.control_server.{f}");
        if cs.port > 65535 || (control_purpose && cs.port == 0) {
            return refuse(
                cs_field("port"),
                "required: the control server's port, 1 to 65535 (2009 mechanism Art. 8(2))",
            );
        }
        if !cs.ip.trim().is_empty() {
            cs.ip = indicator_at(&cs_field("ip"), indicator::ip(&cs.ip))?;
        } else if control_purpose && kind != K::Ip {
            return refuse(
                cs_field("ip"),
                "required when the resource is not the server's IP: a control-server report states its IP (2009 mechanism Art. 8(2))",
            );
        }
        let country = cs.country.trim().to_ascii_uppercase();
        let alpha2 = country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
        if !country.is_empty() && !alpha2 {
            return refuse(
                cs_field("country"),
                "an ISO 3166-1 alpha-2 code such as US or HK, or empty",
            );
        }
        cs.country = country;
        for (i, d) in cs.domains.iter_mut().enumerate() {
            *d = indicator_at(&cs_field(&format!("domains[{i}]")), indicator::domain(d))?;
        }
        if control_purpose && kind != K::Domain && cs.domains.is_empty() && !cs.no_known_domains {
            return refuse(
                cs_field("domains"),
                "a control-server report lists the malicious domains it uses, or sets no_known_domains (2009 mechanism Art. 8(2))",
            );
        }
    }
    Ok((format!("{name}:{value}"), value))
}

pub(super) fn vuln_id(
    field: &str,
    raw: &str,
    prefix: &str,
    digits: std::ops::RangeInclusive<usize>,
) -> Result<String, FieldError> {
    let v = raw.trim().to_ascii_uppercase();
    if v.is_empty() {
        return Ok(v);
    }
    let ok = v
        .strip_prefix(prefix)
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(year, n)| {
            year.len() == 4
                && year.bytes().all(|b| b.is_ascii_digit())
                && digits.contains(&n.len())
                && n.bytes().all(|b| b.is_ascii_digit())
        });
    if ok {
        Ok(v)
    } else {
        refuse(field, format!("not a {prefix}YYYY-NNNN identifier"))
    }
}

pub(super) fn security_hazard(
    h: &mut pb::SecurityHazard,
) -> Result<(Option<String>, String), FieldError> {
    if matches!(
        pb::HazardKind::try_from(h.kind),
        Err(_) | Ok(pb::HazardKind::Unspecified)
    ) {
        return refuse(
            "report.security_hazard.kind",
            "required: hardware, code, business logic, weak password or backdoor (Art. 2(3))",
        );
    }
    h.cve_id = vuln_id("report.security_hazard.cve_id", &h.cve_id, "CVE-", 4..=7)?;
    h.cnvd_id = vuln_id("report.security_hazard.cnvd_id", &h.cnvd_id, "CNVD-", 4..=6)?;
    h.product = h.product.trim().to_owned();
    if h.product.is_empty() {
        return refuse(
            "report.security_hazard.product",
            "required: the affected product or service",
        );
    }
    if let Some(a) = &mut h.affected_asset {
        asset("report.security_hazard.affected_asset", a)?;
    }
    let id = if !h.cve_id.is_empty() {
        &h.cve_id
    } else {
        &h.cnvd_id
    };
    let indicator = if id.is_empty() {
        h.product.clone()
    } else {
        format!("{id} {}", h.product)
    };
    let key = (!id.is_empty()).then(|| format!("hazard:{id}|{}", h.product.to_lowercase()));
    Ok((key, indicator))
}

/// Normalises an affected asset in place; returns its key text.
fn asset(field: &str, a: &mut pb::AffectedAsset) -> Result<String, FieldError> {
    use pb::affected_asset::Asset;
    match &mut a.asset {
        None => refuse(field, "required: ip, domain, url or system name"),
        Some(Asset::Ip(v)) => {
            *v = indicator_at(&format!("{field}.ip"), indicator::ip(v))?;
            Ok(format!("ip:{v}"))
        }
        Some(Asset::Domain(v)) => {
            *v = indicator_at(&format!("{field}.domain"), indicator::domain(v))?;
            Ok(format!("domain:{v}"))
        }
        Some(Asset::Url(v)) => {
            *v = indicator_at(&format!("{field}.url"), indicator::url(v))?;
            Ok(format!("url:{v}"))
        }
        Some(Asset::SystemName(v)) => {
            *v = v.trim().to_owned();
            if v.is_empty() || v.chars().count() > 300 {
                return refuse(format!("{field}.system_name"), "1 to 300 characters");
            }
            Ok(format!("system:{}", v.to_lowercase()))
        }
    }
}

pub(super) fn security_incident(
    inc: &mut pb::SecurityIncident,
    discovered_at: DateTime<Utc>,
) -> Result<(String, String), FieldError> {
    let kind = match pb::IncidentKind::try_from(inc.kind) {
        Ok(k) if k != pb::IncidentKind::Unspecified => k,
        _ => {
            return refuse(
                "report.security_incident.kind",
                "required: host controlled, data leak, defacement or other (Art. 2(4))",
            );
        }
    };
    let Some(a) = &mut inc.asset else {
        return refuse(
            "report.security_incident.asset",
            "required: the affected ip, domain, url or system",
        );
    };
    let asset_key = asset("report.security_incident.asset", a)?;
    let occurred = match &inc.occurred_at {
        Some(ts) => timestamp("report.security_incident.occurred_at", ts)?,
        None => discovered_at,
    };
    // The incident's day on the mainland calendar, as a regulator would name it.
    let day = occurred.with_timezone(&Shanghai).date_naive();
    let kind_name = kind
        .as_str_name()
        .trim_start_matches("INCIDENT_KIND_")
        .to_ascii_lowercase();
    let indicator = asset_key
        .split_once(':')
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    Ok((format!("incident:{kind_name}:{asset_key}:{day}"), indicator))
}
