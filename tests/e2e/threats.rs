//! Threat intake and the shared feed (issue #3), over mTLS on both backends.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use fenghuo::domain::clock::Clock;
use fenghuo_client::Client;
use fenghuo_client::pb::{self, threat_report::Category as Payload};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};

pub fn ts(app: &TestApp) -> prost_types::Timestamp {
    let now = app.clock.now() - chrono::Duration::minutes(30);
    prost_types::Timestamp {
        seconds: now.timestamp(),
        nanos: 0,
    }
}

pub fn report(app: &TestApp, tlp: pb::Tlp, category: Payload) -> pb::ThreatReport {
    pb::ThreatReport {
        discovered_at: Some(ts(app)),
        tlp: tlp as i32,
        kind: pb::SubmissionKind::AboutOthers as i32,
        information: Some(pb::threat_report::Information::Event(
            pb::EventInformation {
                grade: pb::EventGrade::Major as i32,
                affected_unit: "Example Hosting Ltd".into(),
                occurred_at: Some(ts(app)),
                brief_course: "Observed by passive DNS".into(),
                estimated_harm_and_impact: "about 120,000 bots".into(),
                measures_taken: "none yet".into(),
                other: String::new(),
            },
        )),
        category: Some(category),
        ..Default::default()
    }
}

pub fn ip(value: &str) -> Payload {
    Payload::MaliciousResource(pb::MaliciousResource {
        kind: pb::MaliciousResourceKind::Ip as i32,
        value: value.into(),
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
    })
}

async fn submit(
    client: &Client,
    id: &str,
    report: pb::ThreatReport,
) -> Result<pb::SubmissionAck, tonic::Status> {
    client
        .threats()
        .submit_threat(pb::SubmitThreatRequest {
            submission_id: id.into(),
            report: Some(report),
        })
        .await
        .map(|r| r.into_inner().ack.unwrap())
}

async fn get(client: &Client, id: &str) -> Result<pb::Threat, tonic::Status> {
    client
        .threats()
        .get_threat(pb::GetThreatRequest {
            threat_id: id.into(),
            sightings_page: None,
        })
        .await
        .map(|r| r.into_inner().threat.unwrap())
}

on_both_backends!(
    every_category_and_kind_is_accepted_and_readable,
    bad_input_is_refused_with_invalid_argument_naming_the_field,
    duplicates_merge_into_sightings_and_retries_are_idempotent,
    a_threat_sighted_red_by_one_unit_and_green_by_another_never_reveals_the_first,
    the_feed_resumes_from_a_cursor_and_follows_tlp_changes,
    a_stream_acknowledges_every_item_once,
    a_follow_up_to_a_threat_the_reporter_cannot_see_is_refused_like_one_to_nothing,
    a_stream_with_an_undecodable_message_ends_in_error_after_acking_what_it_stored,
);

async fn every_category_and_kind_is_accepted_and_readable(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let asset = |d: &str| {
        Some(pb::AffectedAsset {
            asset: Some(pb::affected_asset::Asset::Domain(d.into())),
        })
    };
    let payloads = vec![
        ("c1-ip", ip("45.33.32.156")),
        (
            "c1-url",
            Payload::MaliciousResource(pb::MaliciousResource {
                kind: pb::MaliciousResourceKind::Url as i32,
                value: "HTTP://Phish.Example.COM/login#x".into(),
                purpose: pb::MaliciousResourcePurpose::Phishing as i32,
                ..Default::default()
            }),
        ),
        (
            "c1-sms",
            Payload::MaliciousResource(pb::MaliciousResource {
                kind: pb::MaliciousResourceKind::SmsMessage as i32,
                value: "138 0013 8000".into(),
                purpose: pb::MaliciousResourcePurpose::Fraud as i32,
                message: Some(pb::MaliciousMessage {
                    content_excerpt: "Your parcel…".into(),
                    recipient_count: 5000,
                    ..Default::default()
                }),
                ..Default::default()
            }),
        ),
        (
            "c2",
            Payload::MaliciousProgram(pb::MaliciousProgram {
                sha256: "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855".into(),
                family: "Emotet".into(),
                kind: pb::MalwareKind::Trojan as i32,
                ..Default::default()
            }),
        ),
        (
            "c3",
            Payload::SecurityHazard(pb::SecurityHazard {
                kind: pb::HazardKind::CodeVulnerability as i32,
                cve_id: "CVE-2017-0144".into(),
                product: "Windows SMBv1".into(),
                ..Default::default()
            }),
        ),
        (
            "c4",
            Payload::SecurityIncident(pb::SecurityIncident {
                kind: pb::IncidentKind::Defacement as i32,
                asset: asset("portal.example.gov.cn"),
                ..Default::default()
            }),
        ),
        (
            "c5",
            Payload::Other(pb::OtherThreat {
                title: "Suspicious BGP announcement".into(),
                description: String::new(),
            }),
        ),
    ];
    for (id, payload) in payloads {
        let ack = submit(&vendor, id, report(&app, pb::Tlp::Green, payload))
            .await
            .unwrap();
        assert_eq!(ack.outcome, pb::SubmissionOutcome::Accepted as i32, "{id}");
        assert!(!ack.replayed);
        let threat = get(&vendor, &ack.threat_id).await.unwrap();
        assert_eq!(threat.sighting_count, 1);
        assert_eq!(threat.status, pb::ThreatStatus::Unidentified as i32);
        assert_eq!(threat.sightings[0].reporter_organisation_id, "vendor-bj");
    }
    // Normalised at intake: the URL without fragment, the SMS sender in E.164.
    let found = vendor
        .search("http://phish.example.com/login")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].dedup_key, "url:http://phish.example.com/login");
    let found = vendor.search("+8613800138000").await.unwrap();
    assert_eq!(found[0].dedup_key, "sms:+8613800138000");

    // A self-disposal report with warning information (Art. 6, 11; reporting measures Art. 15).
    let telecom = app.client("telecom-gd").await;
    let mut own = report(&app, pb::Tlp::Amber, ip("58.60.1.1"));
    own.kind = pb::SubmissionKind::SelfDisposalReport as i32;
    own.self_disposal = Some(pb::SelfDisposal {
        measures_taken: "Null-routed at the border".into(),
        disposed_at: Some(ts(&app)),
        completed: true,
    });
    own.information = Some(pb::threat_report::Information::Warning(
        pb::WarningInformation {
            colour: pb::WarningColour::Orange as i32,
            description: "Compromised CPE".into(),
            possible_harm_and_degree: "customer traffic intercepted; serious".into(),
            affected_users_and_scope: "about 2,000 broadband customers in Shenzhen".into(),
            already_known_to: "the CPE vendor".into(),
            recommended_countermeasures: "firmware 2.4.1 and a password reset".into(),
        },
    ));
    let ack = submit(&telecom, "self-1", own).await.unwrap();
    let threat = get(&telecom, &ack.threat_id).await.unwrap();
    let shown = threat.sightings[0].report.as_ref().unwrap();
    assert_eq!(
        shown.self_disposal.as_ref().unwrap().measures_taken,
        "Null-routed at the border"
    );

    // A follow-up report (reporting measures Art. 16) is a sighting of the same threat.
    let mut follow = report(&app, pb::Tlp::Amber, ip("58.60.1.1"));
    follow.category = None;
    follow.follows_up_threat_id = ack.threat_id.clone();
    let again = submit(&telecom, "self-1-followup", follow).await.unwrap();
    assert_eq!(again.outcome, pb::SubmissionOutcome::Merged as i32);
    assert_eq!(again.threat_id, ack.threat_id);
    assert_eq!(
        get(&telecom, &ack.threat_id).await.unwrap().sighting_count,
        2
    );
}

async fn bad_input_is_refused_with_invalid_argument_naming_the_field(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let good = || report(&app, pb::Tlp::Green, ip("45.33.32.156"));
    let mut cases: Vec<(&str, pb::ThreatReport, &str)> = vec![
        (
            "private",
            report(&app, pb::Tlp::Green, ip("10.0.0.8")),
            "report.malicious_resource.value",
        ),
        (
            "loopback6",
            report(&app, pb::Tlp::Green, ip("::1")),
            "report.malicious_resource.value",
        ),
        (
            "notip",
            report(&app, pb::Tlp::Green, ip("example.com")),
            "report.malicious_resource.value",
        ),
        ("notlp", pb::ThreatReport { tlp: 0, ..good() }, "report.tlp"),
        (
            "nokind",
            pb::ThreatReport { kind: 0, ..good() },
            "report.kind",
        ),
        (
            "noinfo",
            pb::ThreatReport {
                information: None,
                ..good()
            },
            "report.information",
        ),
        (
            "nocat",
            pb::ThreatReport {
                category: None,
                ..good()
            },
            "report.category",
        ),
        (
            "nodisc",
            pb::ThreatReport {
                discovered_at: None,
                ..good()
            },
            "report.discovered_at",
        ),
        (
            "badsha",
            report(
                &app,
                pb::Tlp::Green,
                Payload::MaliciousProgram(pb::MaliciousProgram {
                    sha256: "xyz".into(),
                    ..Default::default()
                }),
            ),
            "report.malicious_program.sha256",
        ),
        (
            "badcve",
            report(
                &app,
                pb::Tlp::Green,
                Payload::SecurityHazard(pb::SecurityHazard {
                    kind: 2,
                    cve_id: "CVE-XX".into(),
                    product: "p".into(),
                    ..Default::default()
                }),
            ),
            "report.security_hazard.cve_id",
        ),
        (
            "noasset",
            report(
                &app,
                pb::Tlp::Green,
                Payload::SecurityIncident(pb::SecurityIncident {
                    kind: 1,
                    ..Default::default()
                }),
            ),
            "report.security_incident.asset",
        ),
        (
            "notitle",
            report(
                &app,
                pb::Tlp::Green,
                Payload::Other(pb::OtherThreat::default()),
            ),
            "report.other.title",
        ),
        (
            "badport",
            report(
                &app,
                pb::Tlp::Green,
                Payload::MaliciousResource(pb::MaliciousResource {
                    kind: 1,
                    value: "45.33.32.157".into(),
                    control_server: Some(pb::ControlServer {
                        port: 70000,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            ),
            "report.malicious_resource.control_server.port",
        ),
    ];
    let mut future = good();
    future.discovered_at = Some(prost_types::Timestamp {
        seconds: (app.clock.now() + chrono::Duration::days(1)).timestamp(),
        nanos: 0,
    });
    cases.push(("future", future, "report.discovered_at"));
    let mut big = good();
    big.evidence = vec![pb::EvidenceItem {
        content: Some(pb::evidence_item::Content::Data(vec![0; 1024 * 1024 + 1])),
        ..Default::default()
    }];
    cases.push(("bigevidence", big, "report.evidence[0].data"));
    for (id, r, field) in cases {
        let err = submit(&vendor, id, r).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{id}: {err}");
        let details = err.get_details_bad_request().expect("field violations");
        assert_eq!(
            details.field_violations[0].field,
            field,
            "{id}: {}",
            err.message()
        );
    }
    let err = vendor
        .threats()
        .submit_threat(pb::SubmitThreatRequest {
            submission_id: String::new(),
            report: Some(good()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = submit(
        &vendor,
        "private",
        report(&app, pb::Tlp::Green, ip("192.168.0.1")),
    )
    .await
    .unwrap_err();
    assert!(
        err.message()
            .contains("IANA IPv4 Special-Purpose Address Registry"),
        "{}",
        err.message()
    );
    // A follow-up to nothing.
    let mut orphan = good();
    orphan.follows_up_threat_id = uuid::Uuid::now_v7().to_string();
    assert_eq!(
        submit(&vendor, "orphan", orphan).await.unwrap_err().code(),
        Code::NotFound
    );
    // Nothing refused was stored.
    let all = app
        .client("miit")
        .await
        .threats()
        .search_threats(pb::SearchThreatsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(all.threats.is_empty());
}

async fn duplicates_merge_into_sightings_and_retries_are_idempotent(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let telecom = app.client("telecom-gd").await;
    let first = submit(
        &vendor,
        "v-1",
        report(&app, pb::Tlp::Green, ip("2400:3200::1")),
    )
    .await
    .unwrap();
    assert_eq!(first.outcome, pb::SubmissionOutcome::Accepted as i32);
    let second = submit(
        &telecom,
        "t-1",
        report(&app, pb::Tlp::Green, ip("2400:3200:0:0::0001")),
    )
    .await
    .unwrap();
    assert_eq!(second.outcome, pb::SubmissionOutcome::Merged as i32);
    assert_eq!(second.threat_id, first.threat_id);
    assert_ne!(second.sighting_id, first.sighting_id);

    // The same report again under the same id: the original acknowledgement.
    let retry = submit(
        &vendor,
        "v-1",
        report(&app, pb::Tlp::Green, ip("2400:3200::1")),
    )
    .await
    .unwrap();
    assert!(retry.replayed);
    assert_eq!(
        (
            retry.threat_id.as_str(),
            retry.sighting_id.as_str(),
            retry.outcome
        ),
        (
            first.threat_id.as_str(),
            first.sighting_id.as_str(),
            first.outcome
        )
    );
    // Other content under the same id.
    let err = submit(
        &vendor,
        "v-1",
        report(&app, pb::Tlp::Red, ip("2400:3200::1")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    // The same id from another organisation is its own submission.
    let other = submit(
        &telecom,
        "v-1",
        report(&app, pb::Tlp::Green, ip("2400:3200::1")),
    )
    .await
    .unwrap();
    assert!(!other.replayed);

    let threat = get(&app.client("miit").await, &first.threat_id)
        .await
        .unwrap();
    assert_eq!(threat.sighting_count, 3);
    let reporters: HashSet<_> = threat
        .sightings
        .iter()
        .map(|s| s.reporter_organisation_id.clone())
        .collect();
    assert_eq!(
        reporters,
        HashSet::from(["vendor-bj".to_owned(), "telecom-gd".to_owned()])
    );
    assert!(threat.first_seen.is_some() && threat.last_seen.is_some());
    // Each sighting is on the audit chain.
    let audit = app
        .client("miit")
        .await
        .audit()
        .query_audit(pb::QueryAuditRequest {
            subject: format!("sighting:{}", first.sighting_id),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "threat.submit");
    assert_eq!(audit[0].organisation_id, "vendor-bj");
}

async fn a_threat_sighted_red_by_one_unit_and_green_by_another_never_reveals_the_first(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let a = app.client("vendor-bj").await;
    let b = app.client("telecom-gd").await;
    let red = submit(&a, "a-1", report(&app, pb::Tlp::Red, ip("45.33.32.200")))
        .await
        .unwrap();
    let green = submit(&b, "b-1", report(&app, pb::Tlp::Green, ip("45.33.32.200")))
        .await
        .unwrap();
    assert_eq!(red.threat_id, green.threat_id);

    let reader = app.client("registrar-bj").await;
    let seen = get(&reader, &red.threat_id).await.unwrap();
    assert_eq!(seen.sighting_count, 1);
    assert_eq!(seen.sightings.len(), 1);
    assert_eq!(seen.sightings[0].reporter_organisation_id, "telecom-gd");
    let listed = reader.search("45.33.32.200").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sighting_count, 1);

    // The feed shows B's sighting and never A's.
    let mut feed = reader
        .threats()
        .subscribe_feed(pb::SubscribeFeedRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut events = Vec::new();
    while events
        .iter()
        .all(|e: &pb::FeedEvent| !matches!(e.event, Some(pb::feed_event::Event::NewSighting(_))))
    {
        events.push(
            tokio::time::timeout(Duration::from_secs(10), feed.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap(),
        );
    }
    let text = format!("{events:?}");
    assert!(
        !text.contains("vendor-bj"),
        "A leaked through the feed: {text}"
    );
    assert!(text.contains("telecom-gd"));

    // An affected party sees no GREEN: the threat does not exist for it.
    assert_eq!(
        get(&app.client("party-gd").await, &red.threat_id)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    // A regulator sees both.
    assert_eq!(
        get(&app.client("miit").await, &red.threat_id)
            .await
            .unwrap()
            .sighting_count,
        2
    );
    // The reporter sees its own RED sighting.
    assert_eq!(get(&a, &red.threat_id).await.unwrap().sighting_count, 2);
    // Someone else's RED alone is invisible: NOT_FOUND, not a hint.
    let only_red = submit(&a, "a-2", report(&app, pb::Tlp::Red, ip("45.33.32.201")))
        .await
        .unwrap();
    assert_eq!(
        get(&reader, &only_red.threat_id).await.unwrap_err().code(),
        Code::NotFound
    );
}

async fn the_feed_resumes_from_a_cursor_and_follows_tlp_changes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let reader = app.client("registrar-bj").await;
    for i in 0..5 {
        submit(
            &vendor,
            &format!("f-{i}"),
            report(&app, pb::Tlp::Green, ip(&format!("45.33.40.{i}"))),
        )
        .await
        .unwrap();
    }
    let mut feed = reader
        .threats()
        .subscribe_feed(pb::SubscribeFeedRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut cursor = String::new();
    for _ in 0..3 {
        let e = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(matches!(e.event, Some(pb::feed_event::Event::NewThreat(_))));
        cursor = e.cursor;
    }
    drop(feed);
    let acks: Vec<_> = {
        let mut v = Vec::new();
        for i in 5..7 {
            v.push(
                submit(
                    &vendor,
                    &format!("f-{i}"),
                    report(&app, pb::Tlp::Green, ip(&format!("45.33.40.{i}"))),
                )
                .await
                .unwrap(),
            );
        }
        v
    };
    // Re-mark one sighting RED: the reader is told it is withdrawn.
    vendor
        .threats()
        .change_sighting_tlp(pb::ChangeSightingTlpRequest {
            sighting_id: acks[1].sighting_id.clone(),
            tlp: pb::Tlp::Red as i32,
            reason: "attribution sensitive".into(),
        })
        .await
        .unwrap();
    let mut feed = reader
        .threats()
        .subscribe_feed(pb::SubscribeFeedRequest {
            cursor,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut indicators = Vec::new();
    let withdrawn = loop {
        let e = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match e.event.unwrap() {
            pb::feed_event::Event::NewThreat(t) => indicators.push(t.indicator),
            pb::feed_event::Event::TlpChanged(c) => break c,
            other => panic!("unexpected {other:?}"),
        }
    };
    // The replay applies today's marking: 45.33.40.6, RED since, is not replayed to this
    // reader (issue 18 item 7); only its withdrawal is.
    assert_eq!(indicators, ["45.33.40.3", "45.33.40.4", "45.33.40.5"]);
    assert_eq!(withdrawn.sighting_id, acks[1].sighting_id);
    assert_eq!(withdrawn.new_tlp, pb::Tlp::Red as i32);
    assert!(withdrawn.sighting.is_none());
    // Only the reporter re-marks; to others the sighting is now invisible.
    let err = reader
        .threats()
        .change_sighting_tlp(pb::ChangeSightingTlpRequest {
            sighting_id: acks[1].sighting_id.clone(),
            tlp: 1,
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = reader
        .threats()
        .change_sighting_tlp(pb::ChangeSightingTlpRequest {
            sighting_id: acks[0].sighting_id.clone(),
            tlp: 1,
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = reader
        .threats()
        .subscribe_feed(pb::SubscribeFeedRequest {
            cursor: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

async fn a_stream_acknowledges_every_item_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let mut requests = Vec::new();
    for i in 0..3000u32 {
        let value = if i % 100 == 7 {
            "10.9.9.9".to_owned()
        } else {
            format!("45.{}.{}.{}", 34 + i / 60000, (i / 250) % 250, i % 250)
        };
        // Every fifth item repeats an earlier indicator: merged, not a new threat.
        let value = if i % 5 == 4 {
            format!("45.34.{}.{}", ((i - 1) / 250) % 250, (i - 1) % 250)
        } else {
            value
        };
        requests.push(pb::SubmitThreatRequest {
            submission_id: format!("bulk-{i}"),
            report: Some(report(&app, pb::Tlp::Green, ip(&value))),
        });
    }
    let mut acks = vendor
        .threats()
        .submit_threat_stream(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let mut by_id: HashMap<String, pb::SubmissionAck> = HashMap::new();
    while let Some(ack) = tokio::time::timeout(Duration::from_secs(60), acks.next())
        .await
        .unwrap()
    {
        let ack = ack.unwrap();
        assert!(
            by_id.insert(ack.submission_id.clone(), ack).is_none(),
            "two acks for one item"
        );
    }
    assert_eq!(by_id.len(), 3000);
    let refused: Vec<_> = by_id
        .values()
        .filter(|a| a.outcome == pb::SubmissionOutcome::Refused as i32)
        .collect();
    assert_eq!(refused.len(), 30);
    assert!(
        refused
            .iter()
            .all(|a| a.refusal.as_ref().unwrap().field == "report.malicious_resource.value")
    );
    let merged = by_id
        .values()
        .filter(|a| a.outcome == pb::SubmissionOutcome::Merged as i32)
        .count();
    assert_eq!(merged, 600);
}

async fn a_stream_with_an_undecodable_message_ends_in_error_after_acking_what_it_stored(
    backend: Backend,
) {
    use prost::Message;
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let item = |id: &str, value: &str| {
        pb::SubmitThreatRequest {
            submission_id: id.into(),
            report: Some(report(&app, pb::Tlp::Green, ip(value))),
        }
        .encode_to_vec()
    };
    // valid, undecodable (a truncated varint), valid, valid.
    let messages = vec![
        item("raw-1", "45.40.0.1"),
        vec![0x0a, 0xff, 0xff],
        item("raw-3", "45.40.0.3"),
        item("raw-4", "45.40.0.4"),
    ];
    let mut grpc = tonic::client::Grpc::new(vendor.raw_channel());
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/fenghuo.v1.ThreatService/SubmitThreatStream");
    let mut answers = grpc
        .streaming(
            tonic::Request::new(tokio_stream::iter(messages)),
            path,
            crate::authorization::RawCodec,
        )
        .await
        .unwrap()
        .into_inner();
    let mut acked = Vec::new();
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(60), answers.next())
            .await
            .unwrap()
        {
            Some(Ok(bytes)) => acked.push(pb::SubmissionAck::decode(&bytes[..]).unwrap()),
            Some(Err(status)) => break status,
            None => panic!("the stream ended OK with acks {acked:?}"),
        }
    };
    assert_eq!(end.code(), Code::InvalidArgument, "{end}");
    assert!(end.message().contains("message 2 of the stream"), "{end}");
    let acked: Vec<&str> = acked.iter().map(|a| a.submission_id.as_str()).collect();
    assert_eq!(acked, ["raw-1"]);
    // Stored exactly what was acknowledged.
    assert_eq!(vendor.search("45.40.0.1").await.unwrap().len(), 1);
    for unread in ["45.40.0.3", "45.40.0.4"] {
        assert!(vendor.search(unread).await.unwrap().is_empty(), "{unread}");
    }
}

async fn a_follow_up_to_a_threat_the_reporter_cannot_see_is_refused_like_one_to_nothing(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (vendor, registrar) = (
        app.client("vendor-bj").await,
        app.client("registrar-bj").await,
    );
    let red = submit(
        &vendor,
        "red-1",
        report(&app, pb::Tlp::Red, ip("45.41.0.1")),
    )
    .await
    .unwrap();
    let follow_up = |threat_id: &str| {
        let mut r = report(&app, pb::Tlp::Green, ip("45.41.0.1"));
        r.category = None;
        r.follows_up_threat_id = threat_id.into();
        r
    };
    let hidden = submit(&registrar, "fu-1", follow_up(&red.threat_id))
        .await
        .unwrap_err();
    let random = uuid::Uuid::now_v7().to_string();
    let nothing = submit(&registrar, "fu-2", follow_up(&random))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound, "{hidden}");
    assert_eq!(
        hidden.message().replace(&red.threat_id, "ID"),
        nothing.message().replace(&random, "ID"),
        "an invisible threat answers exactly like no threat"
    );
    assert_eq!(
        get(&registrar, &red.threat_id).await.unwrap_err().code(),
        Code::NotFound
    );
    // The same follow-up through the stream is refused the same way.
    let mut acks = registrar
        .threats()
        .submit_threat_stream(tokio_stream::iter(vec![pb::SubmitThreatRequest {
            submission_id: "fu-3".into(),
            report: Some(follow_up(&red.threat_id)),
        }]))
        .await
        .unwrap()
        .into_inner();
    let ack = acks.next().await.unwrap().unwrap();
    assert_eq!(ack.outcome, pb::SubmissionOutcome::Refused as i32);
    assert_eq!(ack.refusal.unwrap().code, Code::NotFound as i32);
    // Its own reporter follows it up.
    let merged = submit(&vendor, "red-1-fu", follow_up(&red.threat_id))
        .await
        .unwrap();
    assert_eq!(merged.outcome, pb::SubmissionOutcome::Merged as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_holds_at_most_its_cap_of_open_feeds_and_one_closed_frees_a_place() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let registrar = app.client("registrar-bj").await;
    let open = || async {
        registrar
            .threats()
            .subscribe_feed(pb::SubscribeFeedRequest::default())
            .await
    };
    let mut feeds = Vec::new();
    for _ in 0..fenghuo::config::StreamLimits::default().max_per_organisation {
        feeds.push(open().await.unwrap().into_inner());
    }
    let err = open().await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    assert!(
        err.message()
            .contains("registrar-bj already holds 32 open feeds"),
        "{err}"
    );
    // Another organisation is not held back by this one.
    app.client("telecom-gd")
        .await
        .threats()
        .subscribe_feed(pb::SubscribeFeedRequest::default())
        .await
        .unwrap();
    // A closed feed frees its place (the server notices the reset of its stream).
    drop(feeds.pop());
    let reopened = loop {
        match open().await {
            Ok(feed) => break feed,
            Err(e) if e.code() == Code::ResourceExhausted => tokio::task::yield_now().await,
            Err(e) => panic!("{e}"),
        }
    };
    drop(reopened);
}

/// Positions follow commit order across replicas: a reader following one
/// replica while both ingest receives every committed event exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_following_one_replica_receives_every_event_of_both_exactly_once() {
    let Some(a) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let b = a.spawn_replica().await;
    let reader = a.client("miit").await;
    let mut feed = reader
        .threats()
        .subscribe_feed(pb::SubscribeFeedRequest::default())
        .await
        .unwrap()
        .into_inner();

    let ingest = |app: &TestApp, org: &'static str, prefix: u32| {
        let requests: Vec<_> = (0..2000u32)
            .map(|i| pb::SubmitThreatRequest {
                submission_id: format!("{org}-{i}"),
                // Both replicas report overlapping indicators: creation races are real.
                report: Some(report(
                    app,
                    pb::Tlp::Green,
                    ip(&format!(
                        "45.{}.{}.{}",
                        50 + prefix,
                        (i % 1000) / 250,
                        i % 250
                    )),
                )),
            })
            .collect();
        let endpoint = app.endpoint.clone();
        let pki = app.client_pki(org);
        async move {
            let client = Client::connect(&endpoint, &pki).await.unwrap();
            let mut acks = client
                .threats()
                .submit_threat_stream(tokio_stream::iter(requests))
                .await
                .unwrap()
                .into_inner();
            let mut sightings = Vec::new();
            while let Some(ack) = acks.next().await {
                sightings.push(ack.unwrap().sighting_id);
            }
            sightings
        }
    };
    let (x, y, z) = tokio::join!(
        ingest(&a, "vendor-bj", 0),
        ingest(&b, "telecom-gd", 0),
        ingest(&b, "registrar-bj", 1)
    );
    let committed: HashSet<String> = x.into_iter().chain(y).chain(z).collect();
    assert_eq!(committed.len(), 6000);

    let mut received = Vec::new();
    while received.len() < committed.len() {
        let e = tokio::time::timeout(Duration::from_secs(30), feed.next())
            .await
            .expect("feed keeps up")
            .unwrap()
            .unwrap();
        match e.event.unwrap() {
            pb::feed_event::Event::NewThreat(t) => received.push(t.sightings[0].id.clone()),
            pb::feed_event::Event::NewSighting(s) => received.push(s.id),
            other => panic!("unexpected {other:?}"),
        }
    }
    let unique: HashSet<String> = received.iter().cloned().collect();
    assert_eq!(unique.len(), received.len(), "an event was delivered twice");
    assert_eq!(unique, committed);
    b.stop().await;
}

/// A graceful stop does not wait for followers that never hang up: their
/// streams end with UNAVAILABLE and they resume from their cursor elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_ends_open_feeds_with_unavailable() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let vendor = app.client("vendor-bj").await;
    vendor
        .unit()
        .submit("stop-1", report(&app, pb::Tlp::Green, ip("45.33.70.1")))
        .await
        .unwrap();
    let mut feed = vendor.feed(None).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("the server stops despite an open feed");
    let end = tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .unwrap();
    match end {
        Some(Err(status)) => assert_eq!(status.code(), Code::Unavailable, "{status}"),
        other => panic!("the feed should end with UNAVAILABLE, got {other:?}"),
    }
}
