//! What one report adds to the statistics: the (dimension, key) pairs its sighting counts
//! under. Read from the normalised report the intake stores, so every intake path (unary,
//! streams, STIX) counts alike.

use prost::Message;

use crate::pb;

/// Dimensions of `stat_counters`. The key each one takes is documented on its use in
/// `proto/fenghuo/v1/statistics.proto`.
pub mod dim {
    pub const TOTAL: &str = "total";
    pub const CATEGORY: &str = "category";
    pub const KIND: &str = "kind";
    pub const GRADE: &str = "grade";
    pub const COLOUR: &str = "colour";
    pub const RESOURCE_PROVINCE: &str = "rprov";
    pub const RESPONSIBLE_UNIT: &str = "runit";
    pub const CONTROLLED_HOSTS: &str = "hosts";
    /// key "<b|t>|<source>|<country>".
    pub const CONTROL_COUNTRY: &str = "c2";
    /// key "<b|t>|<TRANSPORT>/<port>".
    pub const CONTROL_PORT: &str = "port";
    pub const BOTNET_SIZE: &str = "botsize";
    /// key "gov" or "other".
    pub const DEFACEMENT: &str = "deface";
    pub const FAMILY: &str = "family";

    /// Every dimension, for reads that name them so the primary key's (scope, dim, day)
    /// prefix serves a range of days.
    pub const ALL: [&str; 13] = [
        TOTAL,
        CATEGORY,
        KIND,
        GRADE,
        COLOUR,
        RESOURCE_PROVINCE,
        RESPONSIBLE_UNIT,
        CONTROLLED_HOSTS,
        CONTROL_COUNTRY,
        CONTROL_PORT,
        BOTNET_SIZE,
        DEFACEMENT,
        FAMILY,
    ];
}

/// The key of reports that do not say (no province, no responsible unit).
pub const NONE: &str = "none";

/// A control server named by a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlServer {
    /// Botnet (else trojan) control server.
    pub botnet: bool,
    /// "TCP/6667"; "ANY/…" when the transport is not given.
    pub port: String,
    pub bots: u64,
    /// The server's IP, when known, for the country look-up.
    pub ip: Option<String>,
    /// ControlServer.country as reported (upper-case alpha-2), if any.
    pub reported_country: Option<String>,
}

/// The statistics-relevant facts of one normalised report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The (dimension, key) pairs that do not depend on routing or look-ups.
    pub keys: Vec<(&'static str, String)>,
    pub control_server: Option<ControlServer>,
    /// A controlled-host incident: counted by the province of its asset.
    pub controlled_host: bool,
}

/// The botnet size band of `bots` (see `ThreatStatistics.botnet_sizes`).
pub fn size_band(bots: u64) -> &'static str {
    match bots {
        0..1_000 => "<1000",
        1_000..10_000 => "1000-9999",
        10_000..100_000 => "10000-99999",
        100_000..=500_000 => "100000-500000",
        500_001..=1_000_000 => "500001-1000000",
        _ => ">1000000",
    }
}

/// The bands in order, for answers that list every band.
pub const SIZE_BANDS: [&str; 6] = [
    "<1000",
    "1000-9999",
    "10000-99999",
    "100000-500000",
    "500001-1000000",
    ">1000000",
];

fn transport(t: i32) -> &'static str {
    match pb::TransportProtocol::try_from(t) {
        Ok(pb::TransportProtocol::Tcp) => "TCP",
        Ok(pb::TransportProtocol::Udp) => "UDP",
        _ => "ANY",
    }
}

/// Whether a domain, or a URL's host, lies under `.gov.cn`.
fn is_gov_cn(asset: &pb::AffectedAsset) -> bool {
    let host = match &asset.asset {
        Some(pb::affected_asset::Asset::Domain(d)) => d.clone(),
        Some(pb::affected_asset::Asset::Url(u)) => url::Url::parse(u)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default(),
        _ => return false,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "gov.cn" || host.ends_with(".gov.cn")
}

fn family(keys: &mut Vec<(&'static str, String)>, raw: &str) {
    let f = raw.trim().to_lowercase();
    if !f.is_empty() {
        keys.push((dim::FAMILY, f.chars().take(100).collect()));
    }
}

/// The facts of `report` (the stored, normalised `ThreatReport`) of a threat of `category`
/// (the threat's, for follow-ups that omit it). Undecodable bytes count under the category
/// alone: statistics never refuse a stored report.
pub fn of_report(report: &[u8], category: i64) -> Facts {
    let mut facts = Facts::default();
    let keys = &mut facts.keys;
    keys.push((dim::TOTAL, String::new()));
    keys.push((dim::CATEGORY, category.to_string()));
    let Ok(r) = pb::ThreatReport::decode(report) else {
        keys.push((dim::KIND, format!("{category}.0")));
        return facts;
    };
    match &r.information {
        Some(pb::threat_report::Information::Event(e)) => {
            keys.push((dim::GRADE, e.grade.to_string()))
        }
        Some(pb::threat_report::Information::Warning(w)) => {
            keys.push((dim::COLOUR, w.colour.to_string()))
        }
        None => {}
    }
    use pb::threat_report::Category as C;
    let kind = match &r.category {
        Some(C::MaliciousResource(m)) => {
            let purpose = pb::MaliciousResourcePurpose::try_from(m.purpose);
            let botnet = purpose == Ok(pb::MaliciousResourcePurpose::BotnetControlServer);
            let trojan = purpose == Ok(pb::MaliciousResourcePurpose::TrojanControlServer);
            if let Some(cs) = &m.control_server {
                family(keys, &cs.malware_family);
                if botnet || trojan {
                    let ip = if m.kind == pb::MaliciousResourceKind::Ip as i32 {
                        Some(m.value.clone())
                    } else {
                        Some(cs.ip.clone()).filter(|ip| !ip.is_empty())
                    };
                    let port = format!("{}/{}", transport(cs.transport), cs.port);
                    keys.push((
                        dim::CONTROL_PORT,
                        format!("{}|{port}", if botnet { 'b' } else { 't' }),
                    ));
                    if botnet && cs.bot_count > 0 {
                        keys.push((dim::BOTNET_SIZE, size_band(cs.bot_count).to_owned()));
                    }
                    facts.control_server = Some(ControlServer {
                        botnet,
                        port,
                        bots: cs.bot_count,
                        ip,
                        reported_country: Some(cs.country.clone()).filter(|c| !c.is_empty()),
                    });
                }
            }
            m.kind
        }
        Some(C::MaliciousProgram(p)) => {
            family(keys, &p.family);
            p.kind
        }
        Some(C::SecurityHazard(h)) => h.kind,
        Some(C::SecurityIncident(i)) => {
            if i.kind == pb::IncidentKind::Defacement as i32 {
                let gov = i.asset.as_ref().is_some_and(is_gov_cn);
                keys.push((dim::DEFACEMENT, if gov { "gov" } else { "other" }.into()));
            }
            facts.controlled_host = i.kind == pb::IncidentKind::HostControlled as i32;
            i.kind
        }
        Some(C::Other(_)) | None => 0,
    };
    keys.push((dim::KIND, format!("{category}.{kind}")));
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(f: &Facts, d: &str) -> Vec<String> {
        f.keys
            .iter()
            .filter(|(k, _)| *k == d)
            .map(|(_, v)| v.clone())
            .collect()
    }

    #[test]
    fn bands_follow_the_grade_thresholds_at_their_edges() {
        assert_eq!(size_band(999), "<1000");
        assert_eq!(size_band(1_000), "1000-9999");
        assert_eq!(size_band(99_999), "10000-99999");
        // Art. 7 of the 2009 mechanism: a grade needs *more than* its threshold.
        assert_eq!(size_band(100_000), "100000-500000");
        assert_eq!(size_band(500_000), "100000-500000");
        assert_eq!(size_band(500_001), "500001-1000000");
        assert_eq!(size_band(1_000_000), "500001-1000000");
        assert_eq!(size_band(1_000_001), ">1000000");
    }

    #[test]
    fn a_botnet_control_server_counts_its_port_size_family_and_ip() {
        let report = pb::ThreatReport {
            information: Some(pb::threat_report::Information::Event(
                pb::EventInformation {
                    grade: 3,
                    ..Default::default()
                },
            )),
            category: Some(pb::threat_report::Category::MaliciousResource(
                pb::MaliciousResource {
                    kind: pb::MaliciousResourceKind::Domain as i32,
                    value: "cc.example.com".into(),
                    purpose: pb::MaliciousResourcePurpose::BotnetControlServer as i32,
                    control_server: Some(pb::ControlServer {
                        port: 6667,
                        transport: pb::TransportProtocol::Tcp as i32,
                        malware_family: " Mirai ".into(),
                        bot_count: 120_000,
                        ip: "45.33.32.156".into(),
                        country: "US".into(),
                        ..Default::default()
                    }),
                    message: None,
                },
            )),
            ..Default::default()
        };
        let f = of_report(&report.encode_to_vec(), 1);
        assert_eq!(keys(&f, dim::KIND), ["1.2"]);
        assert_eq!(keys(&f, dim::GRADE), ["3"]);
        assert_eq!(keys(&f, dim::CONTROL_PORT), ["b|TCP/6667"]);
        assert_eq!(keys(&f, dim::BOTNET_SIZE), ["100000-500000"]);
        assert_eq!(keys(&f, dim::FAMILY), ["mirai"]);
        let cs = f.control_server.unwrap();
        assert_eq!(cs.ip.as_deref(), Some("45.33.32.156"));
        assert_eq!(cs.reported_country.as_deref(), Some("US"));
    }

    #[test]
    fn a_defaced_gov_cn_site_is_told_from_others_by_its_host() {
        let defaced = |asset| {
            let r = pb::ThreatReport {
                category: Some(pb::threat_report::Category::SecurityIncident(
                    pb::SecurityIncident {
                        kind: pb::IncidentKind::Defacement as i32,
                        asset: Some(pb::AffectedAsset { asset: Some(asset) }),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            };
            keys(&of_report(&r.encode_to_vec(), 4), dim::DEFACEMENT)
        };
        use pb::affected_asset::Asset;
        assert_eq!(
            defaced(Asset::Url("https://www.beijing.gov.cn/x".into())),
            ["gov"]
        );
        assert_eq!(
            defaced(Asset::Domain("gov.cn.example.com".into())),
            ["other"]
        );
    }

    #[test]
    fn undecodable_bytes_still_count_under_their_category() {
        let f = of_report(b"\xff\xff\xff", 5);
        assert_eq!(keys(&f, dim::CATEGORY), ["5"]);
        assert_eq!(keys(&f, dim::KIND), ["5.0"]);
    }
}
