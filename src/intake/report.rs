//! What a report must contain (Art. 2, 6, 11; reporting measures Art. 10–16): a
//! `SubmitThreatRequest` becomes a normalised [`Submission`] or a refusal naming the field,
//! the rule and the article. Every interface that takes reports (gRPC, STIX, TAXII) checks
//! them here; the category-specific rules are in [`super::categories`].

use chrono::{DateTime, Duration, Utc};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::domain::policy::Level;
use crate::domain::threat::indicator::{self, IndicatorError};
use crate::domain::threat::{Category, Submission, Tlp};
use crate::pb;
use crate::pb::threat_report::{Category as Payload, Information};

use super::categories::{
    malicious_resource, routable_resources, security_hazard, security_incident,
};

/// Inline evidence above this size is refused: large material stays with the submitter.
pub const MAX_INLINE_EVIDENCE: usize = 1024 * 1024;
/// Clock skew tolerated on discovery times.
const FUTURE_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

pub(super) fn refuse<T>(
    field: impl Into<String>,
    reason: impl Into<String>,
) -> Result<T, FieldError> {
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

pub(super) fn indicator_at<T>(field: &str, r: Result<T, IndicatorError>) -> Result<T, FieldError> {
    r.map_err(|e| FieldError {
        field: field.into(),
        reason: e.to_string(),
    })
}

pub(super) fn hex_digest(
    field: &str,
    raw: &str,
    len: usize,
    name: &str,
) -> Result<String, FieldError> {
    let v = raw.trim().to_ascii_lowercase();
    if v.len() != len || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return refuse(field, format!("{name} is {len} hexadecimal digits"));
    }
    Ok(v)
}

pub(super) fn optional_hex(
    field: &str,
    raw: &str,
    len: usize,
    name: &str,
) -> Result<String, FieldError> {
    if raw.trim().is_empty() {
        Ok(String::new())
    } else {
        hex_digest(field, raw, len, name)
    }
}

pub(super) fn timestamp(
    field: &str,
    ts: &prost_types::Timestamp,
) -> Result<DateTime<Utc>, FieldError> {
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

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
