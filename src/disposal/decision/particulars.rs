//! The facts of a threat a notice carries (2009 mechanism Art. 8(3)): IP, port and discovery
//! time, the owning unit, malicious domains, scale and potential harm — drawn from every report
//! of the threat at the decision, never naming a reporter.

use std::collections::BTreeSet;

use prost::Message;

use crate::domain::routing::RoutingTable;
use crate::domain::threat::Tlp;
use crate::pb;
use crate::pb::threat_report::{Category as Payload, Information};
use crate::store::threats::ThreatRow;

/// Harm texts of reports marked above this never leave their readers.
fn harm_text_shareable(tlp: Tlp) -> bool {
    matches!(tlp, Tlp::Clear | Tlp::Green | Tlp::Amber)
}

/// `reports` are (current TLP, encoded report) of every sighting, oldest first.
pub fn particulars(
    threat: &ThreatRow,
    reports: &[(i64, Vec<u8>)],
    table: &RoutingTable,
) -> pb::ThreatParticulars {
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    let mut domains = BTreeSet::new();
    let mut families = BTreeSet::new();
    let mut harms: Vec<String> = Vec::new();
    let mut first: Option<prost_types::Timestamp> = None;
    let mut bots = 0u64;
    for (tlp, raw) in reports {
        let Ok(report) = pb::ThreatReport::decode(raw.as_slice()) else {
            continue;
        };
        if let Some(at) = report.discovered_at
            && first.is_none_or(|f| (at.seconds, at.nanos) < (f.seconds, f.nanos))
        {
            first = Some(at);
        }
        let harm = match &report.information {
            Some(Information::Event(e)) => e.estimated_harm_and_impact.trim(),
            Some(Information::Warning(w)) => w.possible_harm_and_degree.trim(),
            None => "",
        };
        if !harm.is_empty()
            && Tlp::from_i64(*tlp).is_some_and(harm_text_shareable)
            && !harms.iter().any(|h| h == harm)
        {
            harms.push(harm.to_owned());
        }
        match &report.category {
            Some(Payload::MaliciousResource(r)) => {
                match pb::MaliciousResourceKind::try_from(r.kind) {
                    Ok(pb::MaliciousResourceKind::Ip) => {
                        ips.insert(r.value.clone());
                    }
                    Ok(pb::MaliciousResourceKind::Domain) => {
                        domains.insert(r.value.clone());
                    }
                    _ => {}
                }
                if let Some(c) = &r.control_server {
                    if !c.ip.is_empty() {
                        ips.insert(c.ip.clone());
                    }
                    if c.port > 0 {
                        ports.insert(c.port);
                    }
                    domains.extend(c.domains.iter().cloned());
                    if !c.malware_family.trim().is_empty() {
                        families.insert(c.malware_family.trim().to_owned());
                    }
                    bots = bots.max(c.bot_count);
                }
            }
            Some(Payload::MaliciousProgram(p)) if !p.family.trim().is_empty() => {
                families.insert(p.family.trim().to_owned());
            }
            Some(Payload::SecurityHazard(pb::SecurityHazard {
                affected_asset: Some(a),
                ..
            }))
            | Some(Payload::SecurityIncident(pb::SecurityIncident { asset: Some(a), .. })) => {
                if let Some(pb::affected_asset::Asset::Ip(ip)) = &a.asset {
                    ips.insert(ip.clone());
                }
            }
            _ => {}
        }
    }
    let owners: BTreeSet<String> = ips
        .iter()
        .filter_map(|ip| table.route_ip(ip.parse().ok()?))
        .map(|r| r.owner)
        .collect();
    let assessed = threat
        .identification_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        .and_then(|v| v["potential_harm"].as_str().map(str::to_owned))
        .filter(|h| !h.is_empty());
    pb::ThreatParticulars {
        category: threat.category as i32,
        indicator: threat.indicator.clone(),
        ips: ips.into_iter().collect(),
        ports: ports.into_iter().collect(),
        first_discovered_at: first,
        domains: domains.into_iter().collect(),
        owning_organisation_ids: owners.into_iter().collect(),
        bot_count: bots,
        malware_families: families.into_iter().collect(),
        potential_harm: assessed.unwrap_or_else(|| harms.join("\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c2(value: &str, port: u32, bots: u64, harm: &str, tlp: Tlp) -> (i64, Vec<u8>) {
        let report = pb::ThreatReport {
            discovered_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000 + i64::from(port),
                nanos: 0,
            }),
            information: Some(Information::Event(pb::EventInformation {
                estimated_harm_and_impact: harm.into(),
                ..Default::default()
            })),
            category: Some(Payload::MaliciousResource(pb::MaliciousResource {
                kind: pb::MaliciousResourceKind::Ip as i32,
                value: value.into(),
                control_server: Some(pb::ControlServer {
                    port,
                    bot_count: bots,
                    malware_family: "Mirai".into(),
                    domains: vec!["cc.evil-example.com".into()],
                    ..Default::default()
                }),
                ..Default::default()
            })),
            ..Default::default()
        };
        (tlp as i64, report.encode_to_vec())
    }

    fn threat() -> ThreatRow {
        ThreatRow {
            id: "t".into(),
            category: 1,
            dedup_key: Some("ip:45.33.32.156".into()),
            indicator: "45.33.32.156".into(),
            status: crate::domain::threat::ThreatStatus::Confirmed,
            grade: 3,
            created_at: 0,
            identification_json: None,
        }
    }

    #[test]
    fn reports_merge_into_one_set_of_facts_without_red_texts() {
        let table = RoutingTable::default();
        let p = particulars(
            &threat(),
            &[
                c2("45.33.32.156", 8080, 120_000, "banking trojans", Tlp::Green),
                c2("45.33.32.156", 443, 600_000, "secret sauce", Tlp::Red),
            ],
            &table,
        );
        assert_eq!(p.ips, ["45.33.32.156"]);
        assert_eq!(p.ports, [443, 8080]);
        assert_eq!(p.domains, ["cc.evil-example.com"]);
        assert_eq!(p.bot_count, 600_000);
        assert_eq!(p.malware_families, ["Mirai"]);
        assert_eq!(p.potential_harm, "banking trojans");
        assert_eq!(p.first_discovered_at.unwrap().seconds, 1_700_000_443);
    }

    #[test]
    fn the_institutions_assessment_of_harm_comes_first() {
        let mut t = threat();
        t.identification_json = Some(r#"{"potential_harm":"DDoS against banks"}"#.into());
        let p = particulars(
            &t,
            &[c2("45.33.32.156", 80, 1, "spam", Tlp::Clear)],
            &RoutingTable::default(),
        );
        assert_eq!(p.potential_harm, "DDoS against banks");
    }
}
