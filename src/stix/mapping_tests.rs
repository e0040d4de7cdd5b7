//! The mapping both ways, without a server: every category survives export then import.

use serde_json::Value;

use super::import::{Plan, plan};
use super::{EXTENSION_ID, export};
use crate::pb;
use crate::pb::threat_report::{Category as Payload, Information};

fn ts(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

fn event() -> Information {
    Information::Event(pb::EventInformation {
        grade: pb::EventGrade::Major as i32,
        affected_unit: "Example Hosting Ltd".into(),
        occurred_at: ts(1_780_000_000),
        brief_course: "Observed by passive DNS".into(),
        estimated_harm_and_impact: "about 120,000 bots".into(),
        measures_taken: "none yet".into(),
        other: String::new(),
    })
}

/// One report of every category and resource kind the platform stores.
pub fn every_category() -> Vec<Payload> {
    use pb::MaliciousResourceKind as K;
    let resource = |kind: K, value: &str| {
        Payload::MaliciousResource(pb::MaliciousResource {
            kind: kind as i32,
            value: value.into(),
            purpose: pb::MaliciousResourcePurpose::Phishing as i32,
            ..Default::default()
        })
    };
    let asset = |a| Some(pb::AffectedAsset { asset: Some(a) });
    vec![
        Payload::MaliciousResource(pb::MaliciousResource {
            kind: K::Ip as i32,
            value: "203.0.113.7".into(),
            purpose: pb::MaliciousResourcePurpose::BotnetControlServer as i32,
            control_server: Some(pb::ControlServer {
                port: 8080,
                transport: pb::TransportProtocol::Tcp as i32,
                application_protocol: "HTTP".into(),
                malware_family: "Mirai".into(),
                bot_count: 120_000,
                domains: vec!["cc.evil-example.com".into()],
                ..Default::default()
            }),
            message: None,
        }),
        resource(K::Ip, "2001:db8::7"),
        resource(K::Domain, "evil-example.com"),
        resource(K::Url, "http://evil-example.com/login?x='1'"),
        resource(K::EmailAddress, "boss@evil-example.com"),
        resource(K::PhoneNumber, "+8613800138000"),
        Payload::MaliciousResource(pb::MaliciousResource {
            kind: K::SmsMessage as i32,
            value: "+8613800138001".into(),
            purpose: pb::MaliciousResourcePurpose::Fraud as i32,
            control_server: None,
            message: Some(pb::MaliciousMessage {
                subject: String::new(),
                content_excerpt: "Your parcel is held, pay at ...".into(),
                content_sha256: "cd".repeat(32),
                recipient_count: 5000,
            }),
        }),
        resource(K::MmsMessage, "+8613800138002"),
        resource(K::InstantMessage, "wx:scammer42"),
        resource(K::EmailMessage, "hr@evil-example.com"),
        Payload::MaliciousProgram(pb::MaliciousProgram {
            sha256: "ab".repeat(32),
            md5: "12".repeat(16),
            sha1: "34".repeat(20),
            family: "Mirai".into(),
            kind: pb::MalwareKind::Bot as i32,
            platform: pb::MalwarePlatform::Linux as i32,
            file_name: "mirai.arm7".into(),
            size_bytes: 81_234,
            distribution_urls: vec!["http://evil-example.com/bins/mirai.arm7".into()],
        }),
        Payload::SecurityHazard(pb::SecurityHazard {
            kind: pb::HazardKind::CodeVulnerability as i32,
            cve_id: "CVE-2017-0144".into(),
            cnvd_id: "CNVD-2017-02833".into(),
            product: "Windows SMBv1".into(),
            vendor: "Microsoft".into(),
            affected_versions: "< MS17-010".into(),
            affected_asset: asset(pb::affected_asset::Asset::SystemName(
                "provincial portal".into(),
            )),
        }),
        Payload::SecurityIncident(pb::SecurityIncident {
            kind: pb::IncidentKind::DataLeak as i32,
            asset: asset(pb::affected_asset::Asset::Domain("shop.example.cn".into())),
            occurred_at: ts(1_780_000_000),
            records_affected: 250_000,
        }),
        Payload::Other(pb::OtherThreat {
            title: "Rogue base station".into(),
            description: "SMS spam from a fake base station near the station".into(),
        }),
    ]
}

fn sighting(i: usize, category: Payload, tlp: pb::Tlp) -> (pb::Sighting, pb::Threat) {
    let report = pb::ThreatReport {
        discovered_at: ts(1_780_000_100),
        tlp: tlp as i32,
        kind: pb::SubmissionKind::SelfDisposalReport as i32,
        self_disposal: Some(pb::SelfDisposal {
            measures_taken: "blocked at the border".into(),
            disposed_at: ts(1_780_000_200),
            completed: true,
        }),
        information: Some(event()),
        evidence: vec![pb::EvidenceItem {
            description: "pcap".into(),
            media_type: "application/vnd.tcpdump.pcap".into(),
            content: Some(pb::evidence_item::Content::Sha256("ef".repeat(32))),
            size_bytes: 1234,
        }],
        category: Some(category),
        ..Default::default()
    };
    let s = pb::Sighting {
        id: format!("00000000-0000-0000-0000-{i:012}"),
        threat_id: format!("10000000-0000-0000-0000-{i:012}"),
        reporter_organisation_id: "telecom-gd".into(),
        received_at: ts(1_780_000_300),
        report: Some(report),
        ..Default::default()
    };
    let t = pb::Threat {
        id: s.threat_id.clone(),
        category: 1,
        status: pb::ThreatStatus::Unidentified as i32,
        ..Default::default()
    };
    (s, t)
}

#[test]
fn every_category_survives_export_then_import_unchanged() {
    let sightings: Vec<_> = every_category()
        .into_iter()
        .enumerate()
        .map(|(i, c)| sighting(i, c, pb::Tlp::Green))
        .collect();
    let bundle = export::bundle(&sightings);
    let planned = plan(&bundle, None);
    let reports: Vec<&pb::SubmitThreatRequest> = planned
        .iter()
        .filter_map(|p| match &p.plan {
            Plan::Report { request, .. } => Some(&**request),
            _ => None,
        })
        .collect();
    assert_eq!(reports.len(), sightings.len());
    for ((s, _), req) in sightings.iter().zip(reports) {
        assert_eq!(req.report.as_ref(), s.report.as_ref());
        assert!(req.submission_id.starts_with("stix:sighting--"));
    }
    let refused: Vec<_> = planned
        .iter()
        .filter(|p| matches!(p.plan, Plan::Refused { .. }))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

#[test]
fn export_is_the_same_every_time_and_marks_every_object() {
    let sightings = vec![sighting(
        1,
        every_category().remove(0),
        pb::Tlp::AmberStrict,
    )];
    let a = export::bundle(&sightings);
    assert_eq!(a, export::bundle(&sightings));
    for o in a["objects"].as_array().unwrap() {
        if o["type"] != "marking-definition" {
            assert!(o["object_marking_refs"].is_array(), "{o}");
        }
    }
    let sro = a["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["type"] == "sighting")
        .unwrap();
    assert_eq!(
        sro["object_marking_refs"][0],
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
    );
    assert_eq!(sro["extensions"][EXTENSION_ID]["event_grade"], "major");
}

#[test]
fn a_foreign_indicator_without_defaults_is_refused_naming_them() {
    let bundle: Value = serde_json::json!({
        "type": "bundle", "id": "bundle--1",
        "objects": [{
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--4bb235a7-7d25-4aef-802f-2c6b45c5eceb",
            "created": "2020-10-25T16:22:00.000Z", "modified": "2020-10-25T16:22:00.000Z",
            "pattern": "[domain-name:value = 'circl.lu']", "pattern_type": "stix",
            "valid_from": "2020-10-25T16:22:00Z"
        }, {"type": "grouping", "id": "grouping--1", "spec_version": "2.1"}]
    });
    let planned = plan(&bundle, None);
    assert!(
        matches!(&planned[0].plan, Plan::Refused { field, .. } if field == "defaults.information")
    );
    assert!(
        matches!(&planned[1].plan, Plan::Refused { reason, .. } if reason.contains("grouping is not mapped"))
    );
    let defaults = pb::StixImportDefaults {
        information: Some(pb::stix_import_defaults::Information::Event(
            match event() {
                Information::Event(e) => e,
                Information::Warning(_) => unreachable!(),
            },
        )),
        ..Default::default()
    };
    let planned = plan(&bundle, Some(&defaults));
    let Plan::Report { request, notes, .. } = &planned[0].plan else {
        panic!("{:?}", planned[0]);
    };
    assert_eq!(request.report.as_ref().unwrap().tlp, pb::Tlp::Amber as i32);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("platform default TLP:AMBER")),
        "{notes:?}"
    );
    assert_eq!(
        request.submission_id,
        "stix:indicator--4bb235a7-7d25-4aef-802f-2c6b45c5eceb:2020-10-25T16:22:00.000Z"
    );
}

#[test]
fn the_index_knows_the_id_of_every_object_taxii_serves_for_a_sighting() {
    for (i, category) in every_category().into_iter().enumerate() {
        let (mut s, t) = sighting(i, category, pb::Tlp::Green);
        let served: Vec<String> = export::sighting_objects(&s, &t)
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        let report = s.report.clone().unwrap();
        assert_eq!(export::sighting_object_ids(&s.id, &report), served);
        // Without stated measures and without a category (a follow-up) too.
        let mut bare = report;
        bare.self_disposal = None;
        bare.information = None;
        bare.category = None;
        s.report = Some(bare.clone());
        let served: Vec<String> = export::sighting_objects(&s, &t)
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(export::sighting_object_ids(&s.id, &bare), served);
    }
}

#[test]
fn the_index_key_of_an_id_is_the_first_eight_bytes_of_its_uuid() {
    assert_eq!(
        crate::stix::object_key("indicator--4bb235a7-7d25-4aef-802f-2c6b45c5eceb"),
        Some(0x4bb2_35a7_7d25_4aef)
    );
    // The sign bit is the first byte's top bit: a key is any i64.
    assert_eq!(
        crate::stix::object_key("sighting--ffffffff-ffff-4fff-8fff-ffffffffffff"),
        Some(0xffff_ffff_ffff_4fff_u64 as i64)
    );
    for not_an_id in [
        "",
        "indicator",
        "indicator--",
        "indicator--not-a-uuid",
        "4bb235a7",
    ] {
        assert_eq!(crate::stix::object_key(not_an_id), None, "{not_an_id}");
    }
}
