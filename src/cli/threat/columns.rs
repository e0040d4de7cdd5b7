//! The columns of a file of threats (CSV header names = JSON Lines keys) and how one row
//! becomes a `ThreatReport`. Only the syntax is checked here (names, times, numbers); the
//! contents rules (Art. 2, reporting measures Art. 14-15, 2009 mechanism Art. 8(2)) are the
//! server's, which names the field it refuses.

use std::borrow::Cow;

use fenghuo_client::pb::{self, threat_report::Category as Payload};

/// Every column, with what it holds; the README and `threat template` follow this list.
pub const COLUMNS: &[(&str, &str)] = &[
    (
        "category",
        "malicious-resource, malicious-program, hazard, incident or other (Art. 2); empty on a follow-up",
    ),
    (
        "report_kind",
        "about-others (default) or self-disposal (Art. 6, 11)",
    ),
    (
        "tlp",
        "clear, green, amber, amber+strict or red [default: --tlp]",
    ),
    ("discovered_at", "RFC 3339, e.g. 2026-03-01T08:30:00+08:00"),
    (
        "follows_up_threat_id",
        "a follow-up with new facts (reporting measures Art. 16)",
    ),
    (
        "grade",
        "event information: particularly-serious, serious, major or general",
    ),
    (
        "affected_unit",
        "event: the unit where it happened (Art. 14)",
    ),
    (
        "occurred_at",
        "event: when it happened (Art. 14); an incident's date too",
    ),
    ("brief_course", "event: its brief course (Art. 14)"),
    (
        "estimated_harm_and_impact",
        "event: first estimate of harm and impact (Art. 14)",
    ),
    (
        "measures_taken",
        "event: emergency measures already taken, \"none\" is an answer (Art. 14)",
    ),
    ("other_information", "event: anything else (Art. 14)"),
    (
        "colour",
        "warning information instead of an event: red, orange, yellow or blue",
    ),
    ("warning_description", "warning: description (Art. 15)"),
    (
        "possible_harm_and_degree",
        "warning: possible harm and its degree (Art. 15)",
    ),
    (
        "affected_users_and_scope",
        "warning: users and scope it may affect (Art. 15)",
    ),
    (
        "already_known_to",
        "warning: who already knows of it, \"none\" is an answer (Art. 15)",
    ),
    (
        "recommended_countermeasures",
        "warning: recommended countermeasures (Art. 15)",
    ),
    (
        "disposal_measures",
        "self-disposal: what was done (Art. 11)",
    ),
    ("disposed_at", "self-disposal: when (RFC 3339)"),
    (
        "disposal_completed",
        "self-disposal: true, or false while it continues",
    ),
    ("evidence_sha256", "one evidence item kept by the submitter"),
    ("evidence_description", "its description"),
    ("evidence_media_type", "its IANA media type"),
    (
        "kind",
        "resource: ip, domain, url, email-address, phone-number, email-message, sms-message, mms-message, instant-message; program: trojan, virus, bot, mobile-malware, other; hazard: hardware-vulnerability, code-vulnerability, business-logic-flaw, weak-password, backdoor; incident: host-controlled, data-leak, defacement, other",
    ),
    (
        "value",
        "resource: the IP, domain, URL, address, number or sending account",
    ),
    (
        "purpose",
        "resource: botnet-control-server, trojan-control-server, phishing, spam-source, malware-distribution, fraud, other",
    ),
    (
        "port",
        "control server: port, 1-65535 (2009 mechanism Art. 8(2))",
    ),
    ("transport", "control server: tcp or udp"),
    (
        "application_protocol",
        "control server: what the bots speak, e.g. HTTP",
    ),
    ("family", "control server or program: malware family"),
    ("bot_count", "control server: bots seen"),
    (
        "domains",
        "control server: malicious domains, separated by ; (Art. 8(2))",
    ),
    (
        "server_ip",
        "control server: its IP when the resource is a domain or URL",
    ),
    (
        "no_known_domains",
        "control server: true when no malicious domain is known",
    ),
    (
        "server_country",
        "control server: its country or region, ISO 3166-1 alpha-2 (e.g. US)",
    ),
    ("message_subject", "malicious message: subject"),
    ("message_excerpt", "malicious message: content excerpt"),
    (
        "message_sha256",
        "malicious message: SHA-256 of its content",
    ),
    ("recipient_count", "malicious message: recipients"),
    ("sha256", "program: SHA-256 (required)"),
    ("md5", "program: MD5"),
    ("sha1", "program: SHA-1"),
    (
        "platform",
        "program: windows, linux, macos, android, ios, embedded, other",
    ),
    ("file_name", "program: file name"),
    ("size_bytes", "program: size"),
    (
        "distribution_urls",
        "program: URLs it spreads from, separated by ;",
    ),
    ("cve_id", "hazard: e.g. CVE-2017-0144"),
    ("cnvd_id", "hazard: e.g. CNVD-2017-02833"),
    ("product", "hazard: the affected product (required)"),
    ("vendor", "hazard: its vendor"),
    ("affected_versions", "hazard: e.g. >=2.0, <2.4.1"),
    (
        "asset",
        "hazard, incident: ip:ADDR, domain:NAME, url:URL or system:NAME",
    ),
    ("records_affected", "incident: records exposed (data leaks)"),
    ("title", "other: title (required)"),
    ("description", "other: description"),
];

/// The column's canonical (static) name, if it is one.
pub fn column(name: &str) -> Option<&'static str> {
    COLUMNS.iter().map(|(c, _)| *c).find(|c| *c == name.trim())
}

/// A line refused before sending: the column and why.
#[derive(Debug)]
pub struct Reject {
    pub field: String,
    pub reason: String,
}

fn reject<T>(field: &str, reason: impl Into<String>) -> Result<T, Reject> {
    Err(Reject {
        field: field.into(),
        reason: reason.into(),
    })
}

/// One row's non-empty values.
#[derive(Default)]
pub struct Fields<'a>(pub Vec<(&'static str, Cow<'a, str>)>);

impl Fields<'_> {
    fn get(&self, col: &str) -> Option<&str> {
        self.0.iter().find(|(c, _)| *c == col).map(|(_, v)| &**v)
    }
    fn text(&self, col: &str) -> String {
        self.get(col).unwrap_or_default().to_owned()
    }
    fn list(&self, col: &str) -> Vec<String> {
        self.get(col)
            .map(|v| {
                v.split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
    fn number<N: std::str::FromStr>(&self, col: &str) -> Result<Option<N>, Reject> {
        self.get(col)
            .map(|v| {
                v.parse()
                    .or_else(|_| reject(col, format!("{v:?} is not a number")))
            })
            .transpose()
    }
    fn flag(&self, col: &str) -> Result<bool, Reject> {
        match self.get(col).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "no" | "0") => Ok(false),
            Some("true" | "yes" | "1") => Ok(true),
            Some(v) => reject(col, format!("{v:?}: true or false")),
        }
    }
    fn time(&self, col: &str) -> Result<Option<prost_types::Timestamp>, Reject> {
        self.get(col).map(|v| timestamp(col, v)).transpose()
    }
    /// An enum value by its short name (`amber+strict`, `code-vulnerability`) or proto name.
    fn choice<E: Into<i32>>(
        &self,
        col: &str,
        prefix: &str,
        parse: fn(&str) -> Option<E>,
    ) -> Result<i32, Reject> {
        match self.get(col) {
            None => Ok(0),
            Some(v) => {
                let upper = v.trim().to_ascii_uppercase().replace(['-', '+', ' '], "_");
                let name = if upper.starts_with(prefix) {
                    upper
                } else {
                    format!("{prefix}{upper}")
                };
                match parse(&name).map(Into::into) {
                    Some(n) if n != 0 => Ok(n),
                    _ => reject(
                        col,
                        format!("{v:?} is not one of the names listed for {col}"),
                    ),
                }
            }
        }
    }
}

pub fn timestamp(col: &str, v: &str) -> Result<prost_types::Timestamp, Reject> {
    chrono::DateTime::parse_from_rfc3339(v.trim())
        .map(|t| prost_types::Timestamp {
            seconds: t.timestamp(),
            nanos: t.timestamp_subsec_nanos() as i32,
        })
        .or_else(|e| reject(col, format!("{v:?} is not an RFC 3339 time ({e})")))
}

/// A TLP name (`amber+strict`, `TLP_RED`).
pub fn tlp(col: &str, v: &str) -> Result<pb::Tlp, Reject> {
    let f = Fields(vec![("tlp", Cow::Borrowed(v))]);
    f.choice("tlp", "TLP_", pb::Tlp::from_str_name)
        .and_then(|t| pb::Tlp::try_from(t).or_else(|_| reject(col, "unknown")))
        .map_err(|e| Reject {
            field: col.into(),
            ..e
        })
}

fn asset(f: &Fields) -> Result<Option<pb::AffectedAsset>, Reject> {
    use pb::affected_asset::Asset;
    let Some(v) = f.get("asset") else {
        return Ok(None);
    };
    let (kind, value) = v.split_once(':').unwrap_or(("", v));
    let value = value.trim().to_owned();
    let asset = match kind.trim() {
        "ip" => Asset::Ip(value),
        "domain" => Asset::Domain(value),
        "url" => Asset::Url(value),
        "system" => Asset::SystemName(value),
        _ => {
            return reject(
                "asset",
                format!("{v:?}: ip:ADDR, domain:NAME, url:URL or system:NAME"),
            );
        }
    };
    Ok(Some(pb::AffectedAsset { asset: Some(asset) }))
}

/// The report a row describes; `default_tlp` fills an empty `tlp` column.
pub fn report(f: &Fields, default_tlp: Option<pb::Tlp>) -> Result<pb::ThreatReport, Reject> {
    use pb::threat_report::Information;
    let tlp = match f.get("tlp") {
        Some(v) => tlp("tlp", v)?,
        None => match default_tlp {
            Some(t) => t,
            None => return reject("tlp", "required: a tlp column or --tlp"),
        },
    };
    let kind = match f.get("report_kind").map(str::trim) {
        None | Some("about-others" | "about_others") => pb::SubmissionKind::AboutOthers,
        Some("self-disposal" | "self_disposal") => pb::SubmissionKind::SelfDisposalReport,
        Some(v) => {
            return reject(
                "report_kind",
                format!("{v:?}: about-others or self-disposal"),
            );
        }
    };
    let self_disposal = match kind {
        pb::SubmissionKind::SelfDisposalReport => Some(pb::SelfDisposal {
            measures_taken: f.text("disposal_measures"),
            disposed_at: f.time("disposed_at")?,
            completed: f.flag("disposal_completed")?,
        }),
        _ => None,
    };
    let information = match (f.get("grade"), f.get("colour")) {
        (Some(_), Some(_)) => {
            return reject("colour", "either grade (an event) or colour (a warning)");
        }
        (Some(_), None) => Information::Event(pb::EventInformation {
            grade: f.choice("grade", "EVENT_GRADE_", pb::EventGrade::from_str_name)?,
            affected_unit: f.text("affected_unit"),
            occurred_at: f.time("occurred_at")?,
            brief_course: f.text("brief_course"),
            estimated_harm_and_impact: f.text("estimated_harm_and_impact"),
            measures_taken: f.text("measures_taken"),
            other: f.text("other_information"),
        }),
        (None, Some(_)) => Information::Warning(pb::WarningInformation {
            colour: f.choice(
                "colour",
                "WARNING_COLOUR_",
                pb::WarningColour::from_str_name,
            )?,
            description: f.text("warning_description"),
            possible_harm_and_degree: f.text("possible_harm_and_degree"),
            affected_users_and_scope: f.text("affected_users_and_scope"),
            already_known_to: f.text("already_known_to"),
            recommended_countermeasures: f.text("recommended_countermeasures"),
        }),
        (None, None) => {
            return reject(
                "grade",
                "required: grade (event information, reporting measures Art. 14) or colour (a warning, Art. 15)",
            );
        }
    };
    let evidence = match f.get("evidence_sha256") {
        Some(h) => vec![pb::EvidenceItem {
            description: f.text("evidence_description"),
            media_type: f.text("evidence_media_type"),
            content: Some(pb::evidence_item::Content::Sha256(h.to_owned())),
            size_bytes: 0,
        }],
        None => Vec::new(),
    };
    Ok(pb::ThreatReport {
        discovered_at: f.time("discovered_at")?,
        tlp: tlp as i32,
        kind: kind as i32,
        self_disposal,
        information: Some(information),
        follows_up_threat_id: f.text("follows_up_threat_id"),
        evidence,
        category: category(f)?,
    })
}

fn category(f: &Fields) -> Result<Option<Payload>, Reject> {
    let Some(c) = f.get("category") else {
        return Ok(None);
    };
    Ok(Some(match c.trim().replace('_', "-").as_str() {
        "malicious-resource" => {
            let cs_set = [
                "port",
                "server_ip",
                "domains",
                "no_known_domains",
                "server_country",
            ]
            .iter()
            .any(|c| f.get(c).is_some());
            let msg_set = [
                "message_subject",
                "message_excerpt",
                "message_sha256",
                "recipient_count",
            ]
            .iter()
            .any(|c| f.get(c).is_some());
            Payload::MaliciousResource(pb::MaliciousResource {
                kind: f.choice(
                    "kind",
                    "MALICIOUS_RESOURCE_KIND_",
                    pb::MaliciousResourceKind::from_str_name,
                )?,
                value: f.text("value"),
                purpose: f.choice(
                    "purpose",
                    "MALICIOUS_RESOURCE_PURPOSE_",
                    pb::MaliciousResourcePurpose::from_str_name,
                )?,
                control_server: cs_set
                    .then(|| -> Result<_, Reject> {
                        Ok(pb::ControlServer {
                            port: f.number("port")?.unwrap_or(0),
                            transport: f.choice(
                                "transport",
                                "TRANSPORT_PROTOCOL_",
                                pb::TransportProtocol::from_str_name,
                            )?,
                            application_protocol: f.text("application_protocol"),
                            malware_family: f.text("family"),
                            bot_count: f.number("bot_count")?.unwrap_or(0),
                            domains: f.list("domains"),
                            ip: f.text("server_ip"),
                            no_known_domains: f.flag("no_known_domains")?,
                            country: f.text("server_country"),
                        })
                    })
                    .transpose()?,
                message: msg_set
                    .then(|| -> Result<_, Reject> {
                        Ok(pb::MaliciousMessage {
                            subject: f.text("message_subject"),
                            content_excerpt: f.text("message_excerpt"),
                            content_sha256: f.text("message_sha256"),
                            recipient_count: f.number("recipient_count")?.unwrap_or(0),
                        })
                    })
                    .transpose()?,
            })
        }
        "malicious-program" => Payload::MaliciousProgram(pb::MaliciousProgram {
            sha256: f.text("sha256"),
            md5: f.text("md5"),
            sha1: f.text("sha1"),
            family: f.text("family"),
            kind: f.choice("kind", "MALWARE_KIND_", pb::MalwareKind::from_str_name)?,
            platform: f.choice(
                "platform",
                "MALWARE_PLATFORM_",
                pb::MalwarePlatform::from_str_name,
            )?,
            file_name: f.text("file_name"),
            size_bytes: f.number("size_bytes")?.unwrap_or(0),
            distribution_urls: f.list("distribution_urls"),
        }),
        "hazard" | "security-hazard" => Payload::SecurityHazard(pb::SecurityHazard {
            kind: f.choice("kind", "HAZARD_KIND_", pb::HazardKind::from_str_name)?,
            cve_id: f.text("cve_id"),
            cnvd_id: f.text("cnvd_id"),
            product: f.text("product"),
            vendor: f.text("vendor"),
            affected_versions: f.text("affected_versions"),
            affected_asset: asset(f)?,
        }),
        "incident" | "security-incident" => Payload::SecurityIncident(pb::SecurityIncident {
            kind: f.choice("kind", "INCIDENT_KIND_", pb::IncidentKind::from_str_name)?,
            asset: asset(f)?,
            occurred_at: f.time("occurred_at")?,
            records_affected: f.number("records_affected")?.unwrap_or(0),
        }),
        "other" => Payload::Other(pb::OtherThreat {
            title: f.text("title"),
            description: f.text("description"),
        }),
        v => {
            return reject(
                "category",
                format!(
                    "{v:?}: malicious-resource, malicious-program, hazard, incident or other (Art. 2)"
                ),
            );
        }
    }))
}
