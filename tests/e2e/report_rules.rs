//! Who must see a report, what a report and a notice must contain, and how a threat is
//! graded (Art. 6, 8 of the 2017 Measures; reporting measures Art. 14-15; 2009 mechanism
//! Art. 7-8), over mTLS on both backends.

use std::time::Duration;

use fenghuo_client::{Client, pb};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};
use crate::threats::{ip, report};

async fn route_guangdong(app: &TestApp) {
    app.client("miit")
        .await
        .registry()
        .import_ownership_entries(pb::ImportOwnershipEntriesRequest {
            entries: vec![pb::OwnershipEntry {
                kind: pb::OwnershipKind::IpPrefix as i32,
                value: "58.60.0.0/14".into(),
                owner_organisation_id: "telecom-gd".into(),
                ..Default::default()
            }],
            replace_owner_entries: false,
        })
        .await
        .unwrap();
}

/// Feed events up to and including the first about `threat_id`, or none within 10 s.
async fn feed_shows(client: &Client, threat_id: &str) -> bool {
    let mut feed = client
        .threats()
        .subscribe_feed(pb::SubscribeFeedRequest::default())
        .await
        .unwrap()
        .into_inner();
    loop {
        match tokio::time::timeout(Duration::from_secs(3), feed.next()).await {
            Ok(Some(Ok(e))) if e.threat_id == threat_id => return true,
            Ok(Some(Ok(_))) => {}
            _ => return false,
        }
    }
}

on_both_backends!(
    a_red_report_from_beijing_about_a_guangdong_ip_reaches_the_guangdong_regulator_only
);

async fn a_red_report_from_beijing_about_a_guangdong_ip_reaches_the_guangdong_regulator_only(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    route_guangdong(&app).await;
    app.add_organisation("zjca", pb::Role::ProvincialRegulator, "330000", "")
        .await;
    let ack = app
        .client("vendor-bj")
        .await
        .unit()
        .submit("red-gd", report(&app, pb::Tlp::Red, ip("58.61.9.9")))
        .await
        .unwrap();

    // Guangdong's regulator must act on it: it reads the report whatever its TLP (Art. 6).
    let gdca = app.client("gdca").await;
    let seen = gdca.threat(&ack.threat_id).await.unwrap();
    assert_eq!(seen.sighting_count, 1);
    assert_eq!(seen.sightings[0].reporter_organisation_id, "vendor-bj");
    assert_eq!(gdca.search("58.61.9.9").await.unwrap().len(), 1);
    assert!(feed_shows(&gdca, &ack.threat_id).await);

    // Another province's regulator and the units, the responsible telecom too, do not.
    for org in ["zjca", "telecom-gd", "registrar-bj"] {
        let err = app
            .client(org)
            .await
            .threat(&ack.threat_id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{org}");
    }
    assert!(!feed_shows(&app.client("zjca").await, &ack.threat_id).await);
}

on_both_backends!(a_report_without_the_contents_its_article_requires_is_refused_naming_the_field);

async fn a_report_without_the_contents_its_article_requires_is_refused_naming_the_field(
    backend: Backend,
) {
    use tonic_types::StatusExt;
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let submit = |id: &'static str, report: pb::ThreatReport| {
        let vendor = vendor.clone();
        async move {
            vendor
                .threats()
                .submit_threat(pb::SubmitThreatRequest {
                    submission_id: id.into(),
                    report: Some(report),
                })
                .await
        }
    };
    let violation = |err: &tonic::Status| {
        let v = err.get_details_bad_request().unwrap().field_violations;
        (v[0].field.clone(), v[0].description.clone())
    };

    // Reporting measures Art. 14: an event report without its harm estimate or measures taken.
    let mut thin = report(&app, pb::Tlp::Green, ip("45.33.32.156"));
    if let Some(pb::threat_report::Information::Event(e)) = thin.information.as_mut() {
        e.estimated_harm_and_impact.clear();
        e.measures_taken.clear();
    }
    let err = submit("thin-event", thin).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let (field, why) = violation(&err);
    assert_eq!(field, "report.event.estimated_harm_and_impact");
    assert!(why.contains("reporting measures Art. 14"), "{why}");
    assert!(
        why.ends_with("missing: estimated_harm_and_impact, measures_taken"),
        "{why}"
    );

    // Art. 15: a warning without who already knows of it.
    let mut warning = report(&app, pb::Tlp::Green, ip("45.33.32.157"));
    warning.information = Some(pb::threat_report::Information::Warning(
        pb::WarningInformation {
            colour: pb::WarningColour::Blue as i32,
            description: "Exposed management interfaces".into(),
            possible_harm_and_degree: "takeover; moderate".into(),
            affected_users_and_scope: "about 40 routers".into(),
            already_known_to: String::new(),
            recommended_countermeasures: "close port 8291".into(),
        },
    ));
    let err = submit("thin-warning", warning).await.unwrap_err();
    let (field, why) = violation(&err);
    assert_eq!(field, "report.warning.already_known_to");
    assert!(why.contains("reporting measures Art. 15"), "{why}");

    // 2009 mechanism Art. 8(2): a botnet control server's report names its port and domains.
    let mut c2 = report(&app, pb::Tlp::Green, ip("45.33.32.158"));
    if let Some(pb::threat_report::Category::MaliciousResource(r)) = c2.category.as_mut() {
        let cs = r.control_server.as_mut().unwrap();
        cs.domains.clear();
    }
    let err = submit("c2-no-domains", c2.clone()).await.unwrap_err();
    let (field, why) = violation(&err);
    assert_eq!(field, "report.malicious_resource.control_server.domains");
    assert!(why.contains("2009 mechanism Art. 8(2)"), "{why}");
    // Stated as having none, it is stored; on a stream the same refusal is an ack.
    if let Some(pb::threat_report::Category::MaliciousResource(r)) = c2.category.as_mut() {
        r.control_server.as_mut().unwrap().no_known_domains = true;
    }
    submit("c2-no-domains", c2).await.unwrap();
    let mut no_port = report(&app, pb::Tlp::Green, ip("45.33.32.159"));
    if let Some(pb::threat_report::Category::MaliciousResource(r)) = no_port.category.as_mut() {
        r.control_server.as_mut().unwrap().port = 0;
    }
    let acks: Vec<pb::SubmissionAck> = vendor
        .unit()
        .submit_stream(tokio_stream::iter(vec![pb::SubmitThreatRequest {
            submission_id: "c2-no-port".into(),
            report: Some(no_port),
        }]))
        .await
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let refusal = acks[0].refusal.as_ref().unwrap();
    assert_eq!(
        refusal.field,
        "report.malicious_resource.control_server.port"
    );
    assert!(
        refusal.reason.contains("2009 mechanism Art. 8(2)"),
        "{}",
        refusal.reason
    );
}

fn c2_with_bots(bots: u64) -> pb::threat_report::Category {
    let mut c = ip("45.33.32.170");
    if let pb::threat_report::Category::MaliciousResource(r) = &mut c {
        r.control_server.as_mut().unwrap().bot_count = bots;
    }
    c
}

on_both_backends!(a_grade_other_than_the_reported_scale_gives_needs_a_reason_shown_with_it);

async fn a_grade_other_than_the_reported_scale_gives_needs_a_reason_shown_with_it(
    backend: Backend,
) {
    use tonic_types::StatusExt;
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // Two units report one control server; their counts overlap, the largest stands.
    let ack = app
        .client("vendor-bj")
        .await
        .unit()
        .submit(
            "scale-1",
            report(&app, pb::Tlp::Green, c2_with_bots(600_000)),
        )
        .await
        .unwrap();
    app.client("telecom-gd")
        .await
        .unit()
        .submit(
            "scale-2",
            report(&app, pb::Tlp::Green, c2_with_bots(120_000)),
        )
        .await
        .unwrap();
    let cncert = app.officer("cncert").await;
    let identify = |grade: pb::EventGrade, grade_reason: &str| {
        let cncert = cncert.clone();
        let req = pb::IdentifyRequest {
            threat_id: ack.threat_id.clone(),
            outcome: pb::IdentificationOutcome::Confirmed as i32,
            grade: grade as i32,
            grade_reason: grade_reason.into(),
            ..Default::default()
        };
        async move { cncert.identification().identify(req).await }
    };

    // 600,000 bots is serious (2009 mechanism Art. 7): "major" without a reason is refused.
    let err = identify(pb::EventGrade::Major, "").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let v = &err.get_details_bad_request().unwrap().field_violations[0];
    assert_eq!(v.field, "grade_reason");
    assert!(
        v.description.contains("600000 bots")
            && v.description.contains("serious")
            && v.description.contains("2009 mechanism Art. 7"),
        "{}",
        v.description
    );

    // With its reason it stands, and the reason is shown with the identification.
    let why = "the count includes NAT gateways: about 90,000 distinct hosts";
    let shown = identify(pb::EventGrade::Major, why)
        .await
        .unwrap()
        .into_inner()
        .identification
        .unwrap();
    assert_eq!(shown.reported_bot_count, 600_000);
    assert_eq!(shown.threshold_grade, pb::EventGrade::Serious as i32);
    assert_eq!(shown.grade, pb::EventGrade::Major as i32);
    assert_eq!(shown.grade_reason, why);
    let threat = app
        .client("vendor-bj")
        .await
        .threat(&ack.threat_id)
        .await
        .unwrap();
    let summary = threat.identification.unwrap();
    assert_eq!(summary.threshold_grade, pb::EventGrade::Serious as i32);
    assert_eq!(summary.grade_reason, why);

    // A grade that follows the thresholds needs no reason.
    let other = app
        .client("vendor-bj")
        .await
        .unit()
        .submit("scale-3", report(&app, pb::Tlp::Green, ip("45.33.32.171")))
        .await
        .unwrap();
    let plain = cncert
        .identification()
        .identify(pb::IdentifyRequest {
            threat_id: other.threat_id,
            outcome: pb::IdentificationOutcome::Confirmed as i32,
            grade: pb::EventGrade::Major as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .identification
        .unwrap();
    assert_eq!(plain.threshold_grade, pb::EventGrade::Major as i32);
    assert!(plain.grade_reason.is_empty());
}

fn c2_report(
    app: &TestApp,
    tlp: pb::Tlp,
    value: &str,
    port: u32,
    bots: u64,
    harm: &str,
) -> pb::ThreatReport {
    let mut r = report(app, tlp, ip(value));
    if let Some(pb::threat_report::Category::MaliciousResource(m)) = r.category.as_mut() {
        let cs = m.control_server.as_mut().unwrap();
        cs.port = port;
        cs.bot_count = bots;
    }
    if let Some(pb::threat_report::Information::Event(e)) = r.information.as_mut() {
        e.estimated_harm_and_impact = harm.into();
    }
    r
}

/// Confirms the threat (with the institution's harm assessment, if any) and has MIIT order
/// its IP blocked; returns the signed body of the notice, verified.
async fn blocking_notice(app: &TestApp, threat_id: &str, ip: &str, harm: &str) -> pb::NoticeBody {
    app.officer("cncert")
        .await
        .identification()
        .identify(pb::IdentifyRequest {
            threat_id: threat_id.into(),
            outcome: pb::IdentificationOutcome::Confirmed as i32,
            grade: pb::EventGrade::Major as i32,
            potential_harm: harm.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let issued = app
        .officer("miit")
        .await
        .disposal()
        .issue_decision(crate::disposal::decision(
            &format!("block-{ip}"),
            threat_id,
            vec![crate::disposal::measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![crate::disposal::target(pb::MeasureTargetKind::Ip, ip)],
            )],
        ))
        .await
        .unwrap()
        .into_inner();
    crate::disposal::verified_body(app, &issued.notices[0])
}

on_both_backends!(
    a_notice_carries_ip_port_discovery_owner_domains_scale_and_harm_in_its_signed_body
);

async fn a_notice_carries_ip_port_discovery_owner_domains_scale_and_harm_in_its_signed_body(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    route_guangdong(&app).await;
    let green = c2_report(
        &app,
        pb::Tlp::Green,
        "58.60.1.1",
        8080,
        120_000,
        "router takeover",
    );
    let first = app
        .client("vendor-bj")
        .await
        .unit()
        .submit("part-1", green.clone())
        .await
        .unwrap();
    let red = c2_report(
        &app,
        pb::Tlp::Red,
        "58.60.1.1",
        443,
        300_000,
        "our customer list",
    );
    app.client("telecom-gd")
        .await
        .unit()
        .submit("part-2", red.clone())
        .await
        .unwrap();

    let body = blocking_notice(
        &app,
        &first.threat_id,
        "58.60.1.1",
        "credential theft from home routers",
    )
    .await;
    assert_eq!(body.addressee_organisation_id, "telecom-gd");
    let p = body
        .particulars
        .expect("a notice carries the threat's particulars");
    assert_eq!(p.category, pb::ThreatCategory::MaliciousResource as i32);
    assert_eq!(p.ips, ["58.60.1.1"]);
    assert_eq!(p.ports, [443, 8080]);
    assert_eq!(p.domains, ["cc.evil-example.com"]);
    assert_eq!(p.owning_organisation_ids, ["telecom-gd"]);
    assert_eq!(p.bot_count, 300_000);
    assert_eq!(p.malware_families, ["Mirai"]);
    assert_eq!(p.first_discovered_at, green.discovered_at);
    assert_eq!(p.potential_harm, "credential theft from home routers");

    // Without the institution's assessment, the reports' own estimates — never a RED one's.
    let second = app
        .client("vendor-bj")
        .await
        .unit()
        .submit(
            "part-3",
            c2_report(
                &app,
                pb::Tlp::Green,
                "58.60.1.2",
                8080,
                150_000,
                "spam relay",
            ),
        )
        .await
        .unwrap();
    app.client("telecom-gd")
        .await
        .unit()
        .submit(
            "part-4",
            c2_report(
                &app,
                pb::Tlp::Red,
                "58.60.1.2",
                8080,
                150_000,
                "our customer list",
            ),
        )
        .await
        .unwrap();
    let body = blocking_notice(&app, &second.threat_id, "58.60.1.2", "").await;
    let p = body.particulars.unwrap();
    assert_eq!(p.potential_harm, "spam relay");
}
