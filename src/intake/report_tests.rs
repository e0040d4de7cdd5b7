//! The report rules on requests built in memory.

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
    req.report.as_mut().unwrap().information = Some(Information::Warning(pb::WarningInformation {
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
