//! The edge of intake: a `SubmitThreatRequest` becomes a normalised
//! [`Submission`] or a refusal naming the field, the rule and the article.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Asia::Shanghai;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::domain::policy::Level;
use crate::domain::threat::indicator::{self, IndicatorError};
use crate::domain::threat::{Category, Submission, Tlp};
use crate::pb;
use crate::pb::threat_report::{Category as Payload, Information};

/// Inline evidence above this size is refused: large material stays with the submitter.
pub const MAX_INLINE_EVIDENCE: usize = 1024 * 1024;
/// Clock skew tolerated on discovery times.
const FUTURE_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

fn refuse<T>(field: impl Into<String>, reason: impl Into<String>) -> Result<T, FieldError> {
    Err(FieldError {
        field: field.into(),
        reason: reason.into(),
    })
}

/// Refuses naming the first missing content element, and listing all of them.
fn required_contents(
    prefix: &str,
    rule: &str,
    elements: &[(&str, bool)],
) -> Result<(), FieldError> {
    let missing: Vec<&str> = elements
        .iter()
        .filter(|(_, present)| !present)
        .map(|(name, _)| *name)
        .collect();
    match missing.first() {
        None => Ok(()),
        Some(first) => refuse(
            format!("{prefix}.{first}"),
            format!("{rule}; missing: {}", missing.join(", ")),
        ),
    }
}

/// The event or warning information of a report (reporting measures Art. 10-11) with the
/// contents a first report states (Art. 14-15); also what stored STIX import defaults carry.
///
/// # Errors
/// The first field at fault, under `report.`.
pub fn information(report: &pb::ThreatReport) -> Result<(), FieldError> {
    // Reporting measures Art. 16: a follow-up carries the new facts, not the whole report again.
    let first_report = report.follows_up_threat_id.trim().is_empty();
    match &report.information {
        None => {
            return refuse(
                "report.information",
                "required: event (with grade) or warning (with colour) information (reporting measures Art. 10-11)",
            );
        }
        Some(Information::Event(e)) => {
            if !matches!(pb::EventGrade::try_from(e.grade), Ok(g) if g != pb::EventGrade::Unspecified)
            {
                return refuse(
                    "report.event.grade",
                    "required: particularly serious, serious, major or general (2009 mechanism Art. 7)",
                );
            }
            if first_report {
                let self_measures = report
                    .self_disposal
                    .as_ref()
                    .is_some_and(|d| !d.measures_taken.trim().is_empty());
                required_contents(
                    "report.event",
                    "an event report states the affected unit, when it occurred, its brief course, the estimated harm and impact and the measures taken (reporting measures Art. 14)",
                    &[
                        ("affected_unit", !e.affected_unit.trim().is_empty()),
                        ("occurred_at", e.occurred_at.is_some()),
                        ("brief_course", !e.brief_course.trim().is_empty()),
                        (
                            "estimated_harm_and_impact",
                            !e.estimated_harm_and_impact.trim().is_empty(),
                        ),
                        (
                            "measures_taken",
                            self_measures || !e.measures_taken.trim().is_empty(),
                        ),
                    ],
                )?;
            }
            if let Some(t) = &e.occurred_at {
                timestamp("report.event.occurred_at", t)?;
            }
        }
        Some(Information::Warning(w)) => {
            if !matches!(pb::WarningColour::try_from(w.colour), Ok(c) if c != pb::WarningColour::Unspecified)
            {
                return refuse(
                    "report.warning.colour",
                    "required: red, orange, yellow or blue (reporting measures Art. 11)",
                );
            }
            if first_report {
                required_contents(
                    "report.warning",
                    "a warning states its description, the possible harm and its degree, the users and scope it may affect, who already knows of it and the recommended countermeasures (reporting measures Art. 15)",
                    &[
                        ("description", !w.description.trim().is_empty()),
                        (
                            "possible_harm_and_degree",
                            !w.possible_harm_and_degree.trim().is_empty(),
                        ),
                        (
                            "affected_users_and_scope",
                            !w.affected_users_and_scope.trim().is_empty(),
                        ),
                        ("already_known_to", !w.already_known_to.trim().is_empty()),
                        (
                            "recommended_countermeasures",
                            !w.recommended_countermeasures.trim().is_empty(),
                        ),
                    ],
                )?;
            }
        }
    }
    Ok(())
}

fn indicator_at<T>(field: &str, r: Result<T, IndicatorError>) -> Result<T, FieldError> {
    r.map_err(|e| FieldError {
        field: field.into(),
        reason: e.to_string(),
    })
}

fn hex_digest(field: &str, raw: &str, len: usize, name: &str) -> Result<String, FieldError> {
    let v = raw.trim().to_ascii_lowercase();
    if v.len() != len || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return refuse(field, format!("{name} is {len} hexadecimal digits"));
    }
    Ok(v)
}

fn optional_hex(field: &str, raw: &str, len: usize, name: &str) -> Result<String, FieldError> {
    if raw.trim().is_empty() {
        Ok(String::new())
    } else {
        hex_digest(field, raw, len, name)
    }
}

fn timestamp(field: &str, ts: &prost_types::Timestamp) -> Result<DateTime<Utc>, FieldError> {
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).unwrap_or(u32::MAX)).ok_or_else(
        || FieldError {
            field: field.into(),
            reason: "not a valid timestamp".into(),
        },
    )
}

/// Validates and normalises one submission received at `now`.
pub fn validate(
    req: &pb::SubmitThreatRequest,
    now: DateTime<Utc>,
) -> Result<Submission, FieldError> {
    let id = req.submission_id.trim();
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
    {
        return refuse(
            "submission_id",
            "required: 1 to 128 characters of letters, digits and - _ . : /",
        );
    }
    let Some(received) = &req.report else {
        return refuse("report", "required");
    };
    let content_sha256 = hex::encode(Sha256::digest(received.encode_to_vec()));
    let mut report = received.clone();

    let discovered_at = match &report.discovered_at {
        None => {
            return refuse(
                "report.discovered_at",
                "required: reporting deadlines run from discovery (reporting measures Art. 13)",
            );
        }
        Some(ts) => timestamp("report.discovered_at", ts)?,
    };
    if discovered_at > now + FUTURE_SKEW {
        return refuse(
            "report.discovered_at",
            format!("{} is in the future", discovered_at.to_rfc3339()),
        );
    }
    let tlp = match pb::Tlp::try_from(report.tlp)
        .ok()
        .and_then(|t| Tlp::from_i64(t as i64))
    {
        Some(t) => t,
        None => {
            return refuse(
                "report.tlp",
                "required: TLP 2.0 CLEAR, GREEN, AMBER, AMBER+STRICT or RED",
            );
        }
    };
    match pb::SubmissionKind::try_from(report.kind) {
        Ok(pb::SubmissionKind::AboutOthers) => {}
        Ok(pb::SubmissionKind::SelfDisposalReport) => {
            let measures = report
                .self_disposal
                .as_ref()
                .map(|d| d.measures_taken.trim())
                .unwrap_or_default();
            if measures.is_empty() {
                return refuse(
                    "report.self_disposal.measures_taken",
                    "a self-disposal report states the measures taken (Art. 6, 11)",
                );
            }
        }
        _ => {
            return refuse(
                "report.kind",
                "required: ABOUT_OTHERS or SELF_DISPOSAL_REPORT (Art. 6, 11)",
            );
        }
    }
    information(&report)?;
    for (i, ev) in report.evidence.iter_mut().enumerate() {
        match &mut ev.content {
            None => {
                return refuse(
                    format!("report.evidence[{i}]"),
                    "inline data or the sha256 of the material is required",
                );
            }
            Some(pb::evidence_item::Content::Data(d)) => {
                if d.len() > MAX_INLINE_EVIDENCE {
                    return refuse(
                        format!("report.evidence[{i}].data"),
                        format!("{} bytes; inline evidence is at most 1 MiB", d.len()),
                    );
                }
                ev.size_bytes = d.len() as u64;
            }
            Some(pb::evidence_item::Content::Sha256(h)) => {
                *h = hex_digest(&format!("report.evidence[{i}].sha256"), h, 64, "a SHA-256")?;
            }
        }
    }
    let follows_up = match report.follows_up_threat_id.trim() {
        "" => None,
        t => match uuid::Uuid::parse_str(t) {
            Ok(u) => Some(u.to_string()),
            Err(_) => return refuse("report.follows_up_threat_id", "not a threat id"),
        },
    };
    report.follows_up_threat_id = follows_up.clone().unwrap_or_default();

    let (category, dedup_key, indicator) = match &mut report.category {
        None if follows_up.is_some() => (None, None, String::new()),
        None => {
            return refuse(
                "report.category",
                "required: malicious_resource, malicious_program, security_hazard, security_incident or other (Art. 2)",
            );
        }
        Some(Payload::MaliciousResource(r)) => {
            let (key, value) = malicious_resource(r)?;
            (Some(Category::MaliciousResource), Some(key), value)
        }
        Some(Payload::MaliciousProgram(p)) => {
            p.sha256 = hex_digest(
                "report.malicious_program.sha256",
                &p.sha256,
                64,
                "a SHA-256",
            )?;
            p.md5 = optional_hex("report.malicious_program.md5", &p.md5, 32, "an MD5")?;
            p.sha1 = optional_hex("report.malicious_program.sha1", &p.sha1, 40, "a SHA-1")?;
            for (i, u) in p.distribution_urls.iter_mut().enumerate() {
                *u = indicator_at(
                    &format!("report.malicious_program.distribution_urls[{i}]"),
                    indicator::url(u),
                )?;
            }
            (
                Some(Category::MaliciousProgram),
                Some(format!("sha256:{}", p.sha256)),
                p.sha256.clone(),
            )
        }
        Some(Payload::SecurityHazard(h)) => {
            let (key, ind) = security_hazard(h)?;
            (Some(Category::SecurityHazard), key, ind)
        }
        Some(Payload::SecurityIncident(inc)) => {
            let (key, ind) = security_incident(inc, discovered_at)?;
            (Some(Category::SecurityIncident), Some(key), ind)
        }
        Some(Payload::Other(o)) => {
            o.title = o.title.trim().to_owned();
            if o.title.is_empty() || o.title.chars().count() > 500 {
                return refuse("report.other.title", "required, at most 500 characters");
            }
            (Some(Category::Other), None, o.title.clone())
        }
    };
    let resources = routable_resources(&report);
    let report_level = match (&report.information, &follows_up) {
        (_, Some(_)) | (None, _) => None,
        (Some(Information::Event(e)), None) => Some(match pb::EventGrade::try_from(e.grade) {
            Ok(pb::EventGrade::ParticularlySerious) => Level::ParticularlySerious,
            Ok(pb::EventGrade::Serious) => Level::Serious,
            Ok(pb::EventGrade::Major) => Level::Major,
            _ => Level::General,
        }),
        (Some(Information::Warning(w)), None) => {
            Some(match pb::WarningColour::try_from(w.colour) {
                Ok(pb::WarningColour::Red) => Level::Red,
                Ok(pb::WarningColour::Orange) => Level::Orange,
                Ok(pb::WarningColour::Yellow) => Level::Yellow,
                _ => Level::Blue,
            })
        }
    };
    Ok(Submission {
        report_level,
        resources,
        submission_id: id.to_owned(),
        content_sha256,
        category,
        dedup_key,
        indicator,
        tlp,
        discovered_at,
        follows_up,
        report: report.encode_to_vec(),
    })
}

/// The normalised resources of a report that the ownership registry can route.
fn routable_resources(report: &pb::ThreatReport) -> Vec<String> {
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

fn malicious_resource(r: &mut pb::MaliciousResource) -> Result<(String, String), FieldError> {
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

fn vuln_id(
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

fn security_hazard(h: &mut pb::SecurityHazard) -> Result<(Option<String>, String), FieldError> {
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

fn security_incident(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn base(category: Payload) -> pb::SubmitThreatRequest {
        pb::SubmitThreatRequest {
            submission_id: "s-1".into(),
            report: Some(pb::ThreatReport {
                discovered_at: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 0,
                }),
                tlp: pb::Tlp::Green as i32,
                kind: pb::SubmissionKind::AboutOthers as i32,
                information: Some(Information::Event(event())),
                category: Some(category),
                ..Default::default()
            }),
        }
    }

    /// An event report with every content element of reporting measures Art. 14.
    fn event() -> pb::EventInformation {
        pb::EventInformation {
            grade: pb::EventGrade::Major as i32,
            affected_unit: "Example Hosting Ltd".into(),
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_699_990_000,
                nanos: 0,
            }),
            brief_course: "Observed by passive DNS".into(),
            estimated_harm_and_impact: "about 300 hosts".into(),
            measures_taken: "none yet".into(),
            other: String::new(),
        }
    }

    fn control_server(kind: pb::MaliciousResourceKind, value: &str) -> pb::MaliciousResource {
        pb::MaliciousResource {
            kind: kind as i32,
            value: value.into(),
            purpose: pb::MaliciousResourcePurpose::BotnetControlServer as i32,
            control_server: Some(pb::ControlServer {
                port: 8080,
                domains: vec!["cc.evil-example.com".into()],
                ..Default::default()
            }),
            message: None,
        }
    }

    fn refusal(req: &pb::SubmitThreatRequest) -> FieldError {
        validate(req, now()).unwrap_err()
    }

    #[test]
    fn an_event_report_missing_art_14_contents_is_refused_naming_each_missing_one() {
        let mut req = base(resource(pb::MaliciousResourceKind::Ip, "45.33.32.156"));
        let r = req.report.as_mut().unwrap();
        r.information = Some(Information::Event(pb::EventInformation {
            grade: pb::EventGrade::Major as i32,
            brief_course: "seen".into(),
            ..Default::default()
        }));
        let err = refusal(&req);
        assert_eq!(err.field, "report.event.affected_unit");
        assert!(
            err.reason.contains("reporting measures Art. 14"),
            "{}",
            err.reason
        );
        assert!(
            err.reason.ends_with(
                "missing: affected_unit, occurred_at, estimated_harm_and_impact, measures_taken"
            ),
            "{}",
            err.reason
        );
        // A follow-up carries only the new facts (Art. 16).
        let r = req.report.as_mut().unwrap();
        r.follows_up_threat_id = "0192e6a0-0000-7000-8000-000000000001".into();
        assert!(validate(&req, now()).is_ok());
    }

    #[test]
    fn a_self_disposal_report_answers_measures_taken_with_its_own_measures() {
        let mut req = base(resource(pb::MaliciousResourceKind::Ip, "45.33.32.156"));
        let r = req.report.as_mut().unwrap();
        r.kind = pb::SubmissionKind::SelfDisposalReport as i32;
        r.self_disposal = Some(pb::SelfDisposal {
            measures_taken: "host cleaned".into(),
            ..Default::default()
        });
        r.information = Some(Information::Event(pb::EventInformation {
            measures_taken: String::new(),
            ..event()
        }));
        assert!(validate(&req, now()).is_ok());
    }

    #[test]
    fn a_warning_missing_art_15_contents_is_refused() {
        let mut req = base(resource(pb::MaliciousResourceKind::Ip, "45.33.32.156"));
        req.report.as_mut().unwrap().information =
            Some(Information::Warning(pb::WarningInformation {
                colour: pb::WarningColour::Yellow as i32,
                description: "a worm".into(),
                possible_harm_and_degree: "data loss, severe".into(),
                affected_users_and_scope: "SMB hosts".into(),
                already_known_to: "none".into(),
                recommended_countermeasures: String::new(),
            }));
        let err = refusal(&req);
        assert_eq!(err.field, "report.warning.recommended_countermeasures");
        assert!(
            err.reason.contains("reporting measures Art. 15"),
            "{}",
            err.reason
        );
    }

    #[test]
    fn a_control_server_report_states_ip_port_and_domains() {
        use pb::MaliciousResourceKind as K;
        let ok = base(Payload::MaliciousResource(control_server(
            K::Ip,
            "45.33.32.156",
        )));
        assert!(validate(&ok, now()).is_ok());

        let mut no_port = control_server(K::Ip, "45.33.32.156");
        no_port.control_server.as_mut().unwrap().port = 0;
        let err = refusal(&base(Payload::MaliciousResource(no_port)));
        assert_eq!(err.field, "report.malicious_resource.control_server.port");
        assert!(err.reason.contains("2009 mechanism Art. 8(2)"));

        let mut no_domains = control_server(K::Ip, "45.33.32.156");
        no_domains.control_server.as_mut().unwrap().domains.clear();
        let err = refusal(&base(Payload::MaliciousResource(no_domains.clone())));
        assert_eq!(
            err.field,
            "report.malicious_resource.control_server.domains"
        );
        no_domains.control_server.as_mut().unwrap().no_known_domains = true;
        assert!(validate(&base(Payload::MaliciousResource(no_domains)), now()).is_ok());

        // A C2 domain: the domain is the resource, its IP is required.
        let mut domain = control_server(K::Domain, "cc.evil-example.com");
        domain.control_server.as_mut().unwrap().domains.clear();
        let err = refusal(&base(Payload::MaliciousResource(domain.clone())));
        assert_eq!(err.field, "report.malicious_resource.control_server.ip");
        domain.control_server.as_mut().unwrap().ip = "45.33.32.156".into();
        let s = validate(&base(Payload::MaliciousResource(domain)), now()).unwrap();
        assert!(
            s.resources.contains(&"45.33.32.156".to_owned()),
            "{:?}",
            s.resources
        );

        let mut bare = control_server(K::Ip, "45.33.32.156");
        bare.control_server = None;
        let err = refusal(&base(Payload::MaliciousResource(bare)));
        assert_eq!(err.field, "report.malicious_resource.control_server");
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_100, 0).unwrap()
    }

    fn resource(kind: pb::MaliciousResourceKind, value: &str) -> Payload {
        Payload::MaliciousResource(pb::MaliciousResource {
            kind: kind as i32,
            value: value.into(),
            ..Default::default()
        })
    }

    #[test]
    fn the_same_ip_written_two_ways_meets_on_one_dedup_key() {
        let a = validate(
            &base(resource(pb::MaliciousResourceKind::Ip, "2400:3200:0::1")),
            now(),
        )
        .unwrap();
        let b = validate(
            &base(resource(pb::MaliciousResourceKind::Ip, " 2400:3200::0001 ")),
            now(),
        )
        .unwrap();
        assert_eq!(a.dedup_key, b.dedup_key);
        assert_eq!(a.dedup_key.as_deref(), Some("ip:2400:3200::1"));
        assert_ne!(
            a.content_sha256, b.content_sha256,
            "content is the submission as received"
        );
    }

    #[test]
    fn a_private_address_is_refused_naming_the_field_and_the_registry() {
        let err = validate(
            &base(resource(pb::MaliciousResourceKind::Ip, "192.168.1.1")),
            now(),
        )
        .unwrap_err();
        assert_eq!(err.field, "report.malicious_resource.value");
        assert!(
            err.reason
                .contains("IANA IPv4 Special-Purpose Address Registry"),
            "{}",
            err.reason
        );
    }

    #[test]
    fn incidents_meet_on_kind_asset_and_shanghai_date() {
        let incident = |secs| {
            Payload::SecurityIncident(pb::SecurityIncident {
                kind: pb::IncidentKind::Defacement as i32,
                asset: Some(pb::AffectedAsset {
                    asset: Some(pb::affected_asset::Asset::Domain("Gov.Example.CN".into())),
                }),
                occurred_at: Some(prost_types::Timestamp {
                    seconds: secs,
                    nanos: 0,
                }),
                records_affected: 0,
            })
        };
        // 2023-11-14T15:59Z and 16:01Z straddle midnight in Shanghai.
        let a = validate(&base(incident(1_699_977_540)), now()).unwrap();
        let b = validate(&base(incident(1_699_977_660)), now()).unwrap();
        assert_eq!(
            a.dedup_key.as_deref(),
            Some("incident:defacement:domain:gov.example.cn:2023-11-14")
        );
        assert_eq!(
            b.dedup_key.as_deref(),
            Some("incident:defacement:domain:gov.example.cn:2023-11-15")
        );
    }

    #[test]
    fn hazards_without_an_identifier_are_never_merged() {
        let hazard = |cve: &str| {
            Payload::SecurityHazard(pb::SecurityHazard {
                kind: pb::HazardKind::CodeVulnerability as i32,
                cve_id: cve.into(),
                product: "Example CMS".into(),
                ..Default::default()
            })
        };
        assert_eq!(
            validate(&base(hazard("cve-2017-0144")), now())
                .unwrap()
                .dedup_key
                .as_deref(),
            Some("hazard:CVE-2017-0144|example cms")
        );
        assert_eq!(validate(&base(hazard("")), now()).unwrap().dedup_key, None);
        assert_eq!(
            validate(&base(hazard("CVE-17-1")), now())
                .unwrap_err()
                .field,
            "report.security_hazard.cve_id"
        );
    }

    #[test]
    fn required_fields_are_named() {
        let mut r = base(resource(
            pb::MaliciousResourceKind::Domain,
            "evil.example.com",
        ));
        r.report.as_mut().unwrap().tlp = 0;
        assert_eq!(validate(&r, now()).unwrap_err().field, "report.tlp");
        let mut r = base(resource(
            pb::MaliciousResourceKind::Domain,
            "evil.example.com",
        ));
        r.report.as_mut().unwrap().kind = pb::SubmissionKind::SelfDisposalReport as i32;
        assert_eq!(
            validate(&r, now()).unwrap_err().field,
            "report.self_disposal.measures_taken"
        );
        let mut r = base(resource(
            pb::MaliciousResourceKind::Domain,
            "evil.example.com",
        ));
        r.report.as_mut().unwrap().discovered_at = Some(prost_types::Timestamp {
            seconds: 1_800_000_000,
            nanos: 0,
        });
        assert_eq!(
            validate(&r, now()).unwrap_err().field,
            "report.discovered_at"
        );
        let mut r = base(resource(
            pb::MaliciousResourceKind::Domain,
            "evil.example.com",
        ));
        r.report.as_mut().unwrap().category = None;
        assert_eq!(validate(&r, now()).unwrap_err().field, "report.category");
        let r = base(Payload::MaliciousProgram(pb::MaliciousProgram {
            sha256: "abc".into(),
            ..Default::default()
        }));
        assert_eq!(
            validate(&r, now()).unwrap_err().field,
            "report.malicious_program.sha256"
        );
    }
}
