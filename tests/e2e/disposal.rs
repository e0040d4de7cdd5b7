//! Decisions, signed notices, delivery, results, verification, revocation and
//! non-compliance (Art. 8, 9, 12), over mTLS on both backends.

use std::collections::HashMap;
use std::time::Duration;

use fenghuo::domain::clock::Clock;
use fenghuo::pki::signing::{self, Signature};
use fenghuo_client::{Client, pb};
use prost::Message;
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};
use crate::threats::{ip, report};

use pb::MeasureTargetKind as K;

pub fn target(kind: K, value: &str) -> pb::MeasureTarget {
    pb::MeasureTarget {
        kind: kind as i32,
        value: value.into(),
    }
}

pub fn measure(kind: pb::MeasureType, targets: Vec<pb::MeasureTarget>) -> pb::DecisionMeasure {
    pb::DecisionMeasure {
        measure_type: kind as i32,
        targets,
        instructions: "Block and report within the time limit".into(),
        ..Default::default()
    }
}

fn named(mut m: pb::DecisionMeasure, addressee: &str) -> pb::DecisionMeasure {
    m.addressee_organisation_id = addressee.into();
    m
}

pub fn decision(
    request_id: &str,
    threat_id: &str,
    measures: Vec<pb::DecisionMeasure>,
) -> pb::IssueDecisionRequest {
    pb::IssueDecisionRequest {
        request_id: request_id.into(),
        threat_id: threat_id.into(),
        measures,
        resolves_review_item_ids: vec![],
        public_security_referral: None,
    }
}

pub fn bad_field(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::InvalidArgument, "{status}");
    status.get_details_bad_request().unwrap().field_violations[0]
        .field
        .clone()
}

/// Ownership entries for routing, and a confirmed threat; returns its id.
pub async fn confirmed_threat(app: &TestApp, grade: pb::EventGrade) -> String {
    use pb::OwnershipKind as O;
    let entry = |kind: O, value: &str, owner: &str| pb::OwnershipEntry {
        kind: kind as i32,
        value: value.into(),
        owner_organisation_id: owner.into(),
        ..Default::default()
    };
    app.client("miit")
        .await
        .registry()
        .import_ownership_entries(pb::ImportOwnershipEntriesRequest {
            entries: vec![
                entry(O::IpPrefix, "58.60.0.0/14", "telecom-gd"),
                entry(O::RegisteredDomain, "evil-example.com", "registrar-bj"),
                entry(O::MailDomain, "mail-example.cn", "telecom-gd"),
                entry(O::NumberPrefix, "+86138", "telecom-gd"),
            ],
            replace_owner_entries: false,
        })
        .await
        .ok();
    unconfirmed_then(app, grade, true).await
}

async fn unconfirmed_then(app: &TestApp, grade: pb::EventGrade, confirm: bool) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let threat = app
        .client("vendor-bj")
        .await
        .unit()
        .submit(
            &id,
            report(
                app,
                pb::Tlp::Green,
                ip(if confirm { "58.60.1.1" } else { "58.60.9.9" }),
            ),
        )
        .await
        .unwrap()
        .threat_id;
    if confirm {
        let identified = app
            .officer("cncert")
            .await
            .identification()
            .identify(pb::IdentifyRequest {
                threat_id: threat.clone(),
                outcome: pb::IdentificationOutcome::Confirmed as i32,
                grade: grade as i32,
                // The scenarios grade by their deadlines, not by the reported scale.
                grade_reason: "graded for the scenario under test".into(),
                ..Default::default()
            })
            .await;
        // A second scenario in one test meets the threat already confirmed.
        if let Err(e) = identified {
            assert_eq!(e.code(), Code::FailedPrecondition, "{e}");
        }
    }
    threat
}

/// The body of a delivered notice, after checking its signature as received.
pub fn verified_body(app: &TestApp, notice: &pb::Notice) -> pb::NoticeBody {
    let signed = notice.signed.as_ref().unwrap();
    let body = pb::NoticeBody::decode(signed.body.as_slice()).unwrap();
    let issued = body.issued_at.as_ref().unwrap();
    let ca = std::fs::read_to_string(app.pki().ca_cert()).unwrap();
    signing::verify(
        &signed.body,
        &Signature {
            signature: signed.signature.clone(),
            key_id: signed.key_id.clone(),
            chain_der: signed.signer_chain_der.clone(),
        },
        &ca,
        &body.issuer_organisation_id,
        chrono::DateTime::from_timestamp(issued.seconds, issued.nanos as u32).unwrap(),
    )
    .expect("a notice verifies against the platform CA");
    body
}

pub async fn acknowledge(client: &Client, notice: &pb::Notice) -> pb::NoticeStatus {
    client
        .disposal()
        .acknowledge_receipt(pb::AcknowledgeReceiptRequest {
            notice_id: notice.notice_id.clone(),
            body_sha256: Sha256::digest(&notice.signed.as_ref().unwrap().body).to_vec(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap()
}

pub fn disposed(target_id: &str) -> pb::TargetResult {
    pb::TargetResult {
        target_id: target_id.into(),
        outcome: pb::DisposalOutcome::Disposed as i32,
        details: "null-routed at the border".into(),
        ..Default::default()
    }
}

pub fn state(status: &pb::NoticeStatus) -> pb::NoticeState {
    pb::NoticeState::try_from(status.state).unwrap()
}

/// Reads deliveries until `n` distinct notices have arrived.
async fn receive(
    stream: &mut tonic::Streaming<pb::NoticeDelivery>,
    n: usize,
) -> Vec<pb::NoticeDelivery> {
    let mut seen: Vec<pb::NoticeDelivery> = Vec::new();
    while seen.len() < n {
        let d = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("a notice arrives")
            .unwrap()
            .unwrap();
        let id = d.notice.as_ref().unwrap().notice_id.clone();
        if !seen
            .iter()
            .any(|s| s.notice.as_ref().unwrap().notice_id == id)
        {
            seen.push(d);
        }
    }
    seen
}

on_both_backends!(every_measure_type_walks_from_decision_to_verified_disposal);

async fn every_measure_type_walks_from_decision_to_verified_disposal(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_organisation("cac-gd", pb::Role::InformationalRecipient, "440000", "")
        .await;
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let telecom = app.client("telecom-gd").await;
    let mut stream = telecom
        .disposal()
        .subscribe_notices(pb::SubscribeNoticesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let miit = app.officer("miit").await;

    use pb::MeasureType as M;
    let mut rectify = named(
        measure(
            M::Rectify,
            vec![target(
                K::System,
                "CMS of the provincial portal at 58.60.1.1",
            )],
        ),
        "telecom-gd",
    );
    rectify.protected_system = Some(pb::ProtectedSystem {
        kind: pb::ProtectedSystemKind::CriticalInformationInfrastructure as i32,
        system_name: "Provincial government portal".into(),
        operator_name: "GD e-government centre".into(),
        informational_addressees: vec![
            pb::InformationalAddressee {
                kind: pb::InformationalAddresseeKind::SuperiorAuthority as i32,
                organisation_id: "cac-gd".into(),
                ..Default::default()
            },
            pb::InformationalAddressee {
                kind: pb::InformationalAddresseeKind::CyberspaceAdministration as i32,
                name: "Guangdong Cyberspace Administration".into(),
                contact: "+86 20 0000 0000".into(),
                ..Default::default()
            },
        ],
        marked_organisation_id: String::new(),
    });
    let request = decision(
        "walk-1",
        &threat,
        vec![
            measure(
                M::StopServiceOrBlock,
                vec![
                    target(K::Ip, "58.60.1.1"),
                    target(K::Url, "http://58.60.2.2/panel"),
                    target(K::EmailAccount, "Bot@Mail-Example.cn"),
                    target(K::PhoneNumber, "+86 138 0013 8000"),
                    target(K::Domain, "c2.evil-example.com"),
                ],
            ),
            named(
                measure(
                    M::StopServiceOrBlock,
                    vec![target(K::BroadbandAccount, "gd-adsl-0001")],
                ),
                "telecom-gd",
            ),
            named(
                measure(
                    M::RemoveMalware,
                    vec![target(K::System, "mail relay 58.60.3.3")],
                ),
                "telecom-gd",
            ),
            rectify,
            measure(M::Other, vec![target(K::Ip, "58.60.1.1")]),
        ],
    );
    let issued = miit
        .disposal()
        .issue_decision(request.clone())
        .await
        .unwrap()
        .into_inner();
    // One notice per (measure, addressee) plus two informational ones.
    let bodies: Vec<pb::NoticeBody> = issued
        .notices
        .iter()
        .map(|n| verified_body(&app, n))
        .collect();
    let addressed = |kind: pb::NoticeKind| {
        bodies
            .iter()
            .filter(|b| b.kind == kind as i32)
            .map(|b| {
                (
                    b.measure_type,
                    b.addressee_organisation_id.clone(),
                    b.targets.len(),
                )
            })
            .collect::<Vec<_>>()
    };
    let mut disposal = addressed(pb::NoticeKind::Disposal);
    disposal.sort();
    assert_eq!(
        disposal,
        [
            (1, "registrar-bj".to_owned(), 1),
            (1, "telecom-gd".to_owned(), 1),
            (1, "telecom-gd".to_owned(), 4),
            (2, "telecom-gd".to_owned(), 1),
            (3, "telecom-gd".to_owned(), 1),
            (4, "telecom-gd".to_owned(), 1),
        ]
    );
    let mut informational = addressed(pb::NoticeKind::Informational);
    informational.sort();
    assert_eq!(
        informational,
        [(3, String::new(), 1), (3, "cac-gd".to_owned(), 1)]
    );
    for b in &bodies {
        assert_eq!(b.decision_id, issued.decision_id);
        assert_eq!(b.issuer_organisation_id, "miit");
        assert_eq!(b.issuing_officer_name, "duty-officer");
        assert!(b.legal_basis.starts_with("Art. 8("), "{}", b.legal_basis);
        if b.kind == pb::NoticeKind::Disposal as i32 {
            // Serious: receipt within 1 h, then 4 h to act from receipt (policy defaults;
            // 2009 mechanism 9(2)); the signed deadline is the latest, from the receipt due.
            let issued_at = b.issued_at.unwrap().seconds;
            assert_eq!(b.receipt_due.unwrap().seconds - issued_at, 3600);
            assert_eq!(b.deadline.unwrap().seconds - issued_at, 5 * 3600);
            assert!(b.deadline_runs_from_receipt);
        }
    }
    // Targets are normalised and routed with their province.
    let block = bodies.iter().find(|b| b.targets.len() == 4).unwrap();
    let values: Vec<_> = block
        .targets
        .iter()
        .map(|t| {
            (
                t.target.as_ref().unwrap().value.as_str(),
                t.province.as_str(),
            )
        })
        .collect();
    assert!(
        values.contains(&("bot@mail-example.cn", "440000")),
        "{values:?}"
    );
    assert!(values.contains(&("+8613800138000", "440000")), "{values:?}");

    // A retry is the same decision; the same key with other content is refused.
    let again = miit
        .disposal()
        .issue_decision(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.decision_id, issued.decision_id);
    assert_eq!(again.notices.len(), issued.notices.len());
    let mut other = request.clone();
    other.measures.truncate(1);
    let err = miit.disposal().issue_decision(other).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err}");

    // The addressee receives its five notices on its stream, checks and acknowledges them.
    let delivered = receive(&mut stream, 5).await;
    let cncert = app.officer("cncert").await;
    for d in &delivered {
        let notice = d.notice.as_ref().unwrap();
        let body = verified_body(&app, notice);
        assert_eq!(body.addressee_organisation_id, "telecom-gd");
        assert_eq!(
            state(notice.status.as_ref().unwrap()),
            pb::NoticeState::Issued
        );
        let status = acknowledge(&telecom, notice).await;
        assert_eq!(state(&status), pb::NoticeState::Received);
        // Received at once: the result deadline now runs 4 h from the receipt.
        assert_eq!(
            status.result_deadline.unwrap().seconds,
            status.received_at.unwrap().seconds + 4 * 3600
        );
        let results: Vec<_> = body
            .targets
            .iter()
            .map(|t| disposed(&t.target_id))
            .collect();
        let status = telecom
            .disposal()
            .report_result(pb::ReportResultRequest {
                notice_id: notice.notice_id.clone(),
                results,
                contact_person: "NOC shift lead".into(),
                contact_phone: "+86 20 1234 5678".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status
            .unwrap();
        assert_eq!(state(&status), pb::NoticeState::ResultsReported);
        assert!(status.targets.iter().all(|t| t.verification_due.is_some()));
        let verified = cncert
            .disposal()
            .verify_result(pb::VerifyResultRequest {
                notice_id: notice.notice_id.clone(),
                verifications: body
                    .targets
                    .iter()
                    .map(|t| pb::TargetVerification {
                        target_id: t.target_id.clone(),
                        outcome: pb::VerificationOutcome::Effective as i32,
                        details: "no longer reachable".into(),
                        checked_at: None,
                    })
                    .collect(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(verified.review_item_ids.is_empty());
        assert_eq!(
            state(verified.status.as_ref().unwrap()),
            pb::NoticeState::Verified
        );
    }

    // Only the identifying institution verifies.
    let first = delivered[0].notice.as_ref().unwrap();
    let err = app
        .officer("miit")
        .await
        .disposal()
        .verify_result(pb::VerifyResultRequest {
            notice_id: first.notice_id.clone(),
            verifications: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // The registrar's notice: not effective -> the regulator's review queue -> reissue.
    let registrar = app.client("registrar-bj").await;
    let mine = registrar
        .disposal()
        .list_notices(pb::ListNoticesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .notices;
    assert_eq!(mine.len(), 1);
    let body = verified_body(&app, &mine[0]);
    acknowledge(&registrar, &mine[0]).await;
    registrar
        .disposal()
        .report_result(pb::ReportResultRequest {
            notice_id: mine[0].notice_id.clone(),
            results: vec![disposed(&body.targets[0].target_id)],
            ..Default::default()
        })
        .await
        .unwrap();
    let verified = cncert
        .disposal()
        .verify_result(pb::VerifyResultRequest {
            notice_id: mine[0].notice_id.clone(),
            verifications: vec![pb::TargetVerification {
                target_id: body.targets[0].target_id.clone(),
                outcome: pb::VerificationOutcome::NotEffective as i32,
                details: "still resolves to 203.0.113.7".into(),
                checked_at: None,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verified.review_item_ids.len(), 1);
    let queue = miit
        .disposal()
        .list_review_queue(pb::ListReviewQueueRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].addressee_organisation_id, "registrar-bj");
    let mut reissue = decision(
        "walk-2",
        &threat,
        vec![measure(
            M::StopServiceOrBlock,
            vec![target(K::Domain, "c2.evil-example.com")],
        )],
    );
    reissue.resolves_review_item_ids = verified.review_item_ids.clone();
    miit.disposal()
        .issue_decision(reissue.clone())
        .await
        .unwrap();
    assert!(
        miit.disposal()
            .list_review_queue(pb::ListReviewQueueRequest::default())
            .await
            .unwrap()
            .into_inner()
            .items
            .is_empty()
    );

    // The informational addressee on the platform gets its notice; the one off it is recorded.
    let cac = app.client("cac-gd").await;
    let theirs = cac
        .disposal()
        .list_notices(pb::ListNoticesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .notices;
    assert_eq!(theirs.len(), 1);
    assert_eq!(
        state(theirs[0].status.as_ref().unwrap()),
        pb::NoticeState::Issued
    );
    let offline = issued
        .notices
        .iter()
        .find(|n| verified_body(&app, n).addressee_organisation_id.is_empty())
        .unwrap();
    assert_eq!(
        state(offline.status.as_ref().unwrap()),
        pb::NoticeState::AwaitingOfflineNotification
    );
    let now = app.clock.now();
    let status = miit
        .disposal()
        .record_offline_notification(pb::RecordOfflineNotificationRequest {
            notice_id: offline.notice_id.clone(),
            notification: Some(pb::OfflineNotification {
                notified_at: Some(prost_types::Timestamp {
                    seconds: now.timestamp() - 60,
                    nanos: 0,
                }),
                notifying_officer: "duty-officer".into(),
                channel: pb::OfflineNotificationChannel::Phone as i32,
                recipient_person: "Ms Li".into(),
                note: String::new(),
                recorded_by_officer_name: String::new(),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(state(&status), pb::NoticeState::NotifiedOffline);
    assert_eq!(
        status
            .offline_notification
            .unwrap()
            .recorded_by_officer_name,
        "duty-officer"
    );

    // Two hours on, only the unacknowledged reissue is on record: telecom-gd met every duty,
    // and an informational addressee owes no receipt under Art. 12.
    app.clock.advance(chrono::Duration::hours(2));
    app.drive_timers_until_idle().await;
    let miit = app.officer("miit").await;
    let mut on_record = Vec::new();
    for org in ["telecom-gd", "registrar-bj", "cac-gd"] {
        for r in miit
            .disposal()
            .list_non_compliance(pb::ListNonComplianceRequest {
                organisation_id: org.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .records
        {
            on_record.push((org, r.kind));
        }
    }
    assert_eq!(
        on_record,
        [("registrar-bj", pb::NonComplianceKind::MissingReceipt as i32)]
    );

    // A tampered body no longer verifies.
    let signed = first.signed.as_ref().unwrap();
    let mut tampered = signed.body.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let ca = std::fs::read_to_string(app.pki().ca_cert()).unwrap();
    let body = pb::NoticeBody::decode(signed.body.as_slice()).unwrap();
    let issued_at = body.issued_at.unwrap();
    assert_eq!(
        signing::verify(
            &tampered,
            &Signature {
                signature: signed.signature.clone(),
                key_id: signed.key_id.clone(),
                chain_der: signed.signer_chain_der.clone(),
            },
            &ca,
            "miit",
            chrono::DateTime::from_timestamp(issued_at.seconds, 0).unwrap(),
        ),
        Err(signing::VerifyError::BadSignature)
    );
}

on_both_backends!(decisions_need_a_confirmed_threat_routable_targets_and_jurisdiction);

async fn decisions_need_a_confirmed_threat_routable_targets_and_jurisdiction(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let gdca = app.officer("gdca").await;
    let miit = app.officer("miit").await;
    use pb::MeasureType as M;

    // Art. 8: only a confirmed threat.
    let pending = unconfirmed_then(&app, pb::EventGrade::Serious, false).await;
    let err = miit
        .disposal()
        .issue_decision(decision(
            "p-1",
            &pending,
            vec![measure(
                M::StopServiceOrBlock,
                vec![target(K::Ip, "58.60.1.1")],
            )],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("Art. 8"), "{}", err.message());

    // A provincial regulator: refused for any target outside its province, naming them.
    let err = gdca
        .disposal()
        .issue_decision(decision(
            "gd-1",
            &threat,
            vec![measure(
                M::StopServiceOrBlock,
                vec![
                    target(K::Ip, "58.60.1.1"),
                    target(K::Domain, "evil-example.com"),
                ],
            )],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    assert!(
        err.message().contains("evil-example.com (province 110000)"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("58.60.1.1"), "{}", err.message());
    let ok = gdca
        .disposal()
        .issue_decision(decision(
            "gd-2",
            &threat,
            vec![measure(
                M::StopServiceOrBlock,
                vec![target(K::Ip, "58.60.1.1")],
            )],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.notices.len(), 1);
    assert_eq!(
        verified_body(&app, &ok.notices[0]).issuer_organisation_id,
        "gdca"
    );
    // It reads notices of its province, not others'.
    let registrar_notice = miit
        .disposal()
        .issue_decision(decision(
            "m-1",
            &threat,
            vec![measure(
                M::StopServiceOrBlock,
                vec![target(K::Domain, "evil-example.com")],
            )],
        ))
        .await
        .unwrap()
        .into_inner()
        .notices
        .remove(0);
    let err = gdca
        .disposal()
        .get_notice(pb::GetNoticeRequest {
            notice_id: registrar_notice.notice_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = gdca
        .disposal()
        .revoke_notice(pb::RevokeNoticeRequest {
            notice_id: registrar_notice.notice_id.clone(),
            reason: "mistake".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");

    // Unroutable targets must name the addressee; unknown province: national only.
    let err = miit
        .disposal()
        .issue_decision(decision(
            "m-2",
            &threat,
            vec![measure(
                M::StopServiceOrBlock,
                vec![target(K::Ip, "8.8.8.8")],
            )],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("8.8.8.8"), "{}", err.message());

    // Bad input names the field.
    let cases: Vec<(pb::IssueDecisionRequest, &str)> = vec![
        (decision("", &threat, vec![]), "request_id"),
        (decision("b-1", "nope", vec![]), "threat_id"),
        (decision("b-2", &threat, vec![]), "measures"),
        (
            decision(
                "b-3",
                &threat,
                vec![measure(M::RemoveMalware, vec![target(K::System, "x")])],
            ),
            "measures[0].addressee_organisation_id",
        ),
        (
            decision(
                "b-4",
                &threat,
                vec![measure(M::StopServiceOrBlock, vec![target(K::System, "x")])],
            ),
            "measures[0].targets[0].value",
        ),
        (
            decision(
                "b-5",
                &threat,
                vec![measure(
                    M::StopServiceOrBlock,
                    vec![target(K::Ip, "10.0.0.1")],
                )],
            ),
            "measures[0].targets[0].value",
        ),
        (
            decision(
                "b-6",
                &threat,
                vec![{
                    let mut m = measure(M::StopServiceOrBlock, vec![target(K::Ip, "58.60.1.1")]);
                    m.emergency = true;
                    m
                }],
            ),
            "measures[0].emergency_calls",
        ),
        (
            decision(
                "b-7",
                &threat,
                vec![{
                    let mut m = measure(M::StopServiceOrBlock, vec![target(K::Ip, "58.60.1.1")]);
                    m.time_limit = Some(pb::TimeLimit {
                        limit: Some(pb::time_limit::Limit::Hours(0)),
                    });
                    m
                }],
            ),
            "measures[0].time_limit",
        ),
        (
            decision(
                "b-8",
                &threat,
                vec![{
                    let mut m = named(
                        measure(M::Rectify, vec![target(K::System, "portal")]),
                        "telecom-gd",
                    );
                    m.protected_system = Some(pb::ProtectedSystem {
                        kind: pb::ProtectedSystemKind::PartyOrGovernmentOrgan as i32,
                        informational_addressees: vec![pb::InformationalAddressee {
                            kind: pb::InformationalAddresseeKind::SuperiorAuthority as i32,
                            name: "Superior".into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    });
                    m
                }],
            ),
            "measures[0].protected_system.informational_addressees",
        ),
    ];
    for (request, field) in cases {
        let err = miit.disposal().issue_decision(request).await.unwrap_err();
        assert_eq!(bad_field(&err), field, "{err}");
    }

    // Emergency: the deadline runs from the recorded call.
    let called = app.clock.now() - chrono::Duration::minutes(30);
    let mut m = measure(M::StopServiceOrBlock, vec![target(K::Ip, "58.60.1.1")]);
    m.emergency = true;
    m.emergency_calls = vec![pb::EmergencyCall {
        addressee_organisation_id: "telecom-gd".into(),
        called_at: Some(prost_types::Timestamp {
            seconds: called.timestamp(),
            nanos: 0,
        }),
        called_person: "NOC duty engineer".into(),
    }];
    let urgent = miit
        .disposal()
        .issue_decision(decision("e-1", &threat, vec![m]))
        .await
        .unwrap()
        .into_inner();
    let body = verified_body(&app, &urgent.notices[0]);
    assert!(body.emergency);
    assert_eq!(
        body.emergency_called_at.unwrap().seconds,
        called.timestamp()
    );
    assert_eq!(
        body.deadline.unwrap().seconds,
        called.timestamp() + 4 * 3600
    );
}

on_both_backends!(a_unit_never_sees_or_touches_another_units_notices);

async fn a_unit_never_sees_or_touches_another_units_notices(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let miit = app.officer("miit").await;
    let registrar = app.client("registrar-bj").await;
    let mut registrar_stream = registrar
        .disposal()
        .subscribe_notices(pb::SubscribeNoticesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let issued = miit
        .disposal()
        .issue_decision(decision(
            "iso-1",
            &threat,
            vec![measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![
                    target(K::Ip, "58.60.1.1"),
                    target(K::Domain, "evil-example.com"),
                ],
            )],
        ))
        .await
        .unwrap()
        .into_inner();
    let telecoms = issued
        .notices
        .iter()
        .find(|n| verified_body(&app, n).addressee_organisation_id == "telecom-gd")
        .unwrap();
    // Its own stream carries only its own notice.
    let got = receive(&mut registrar_stream, 1).await;
    assert_eq!(
        verified_body(&app, got[0].notice.as_ref().unwrap()).addressee_organisation_id,
        "registrar-bj"
    );
    let err = registrar
        .disposal()
        .get_notice(pb::GetNoticeRequest {
            notice_id: telecoms.notice_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = registrar
        .disposal()
        .acknowledge_receipt(pb::AcknowledgeReceiptRequest {
            notice_id: telecoms.notice_id.clone(),
            body_sha256: Sha256::digest(&telecoms.signed.as_ref().unwrap().body).to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let listed = registrar
        .disposal()
        .list_notices(pb::ListNoticesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .notices;
    assert!(
        listed
            .iter()
            .all(|n| verified_body(&app, n).addressee_organisation_id == "registrar-bj")
    );
    let err = registrar
        .disposal()
        .list_notices(pb::ListNoticesRequest {
            addressee_organisation_id: "telecom-gd".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // A receipt must name the body as delivered.
    let err = app
        .client("telecom-gd")
        .await
        .disposal()
        .acknowledge_receipt(pb::AcknowledgeReceiptRequest {
            notice_id: telecoms.notice_id.clone(),
            body_sha256: vec![0; 32],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "body_sha256");
    // Results come after receipt.
    let err = app
        .client("telecom-gd")
        .await
        .disposal()
        .report_result(pb::ReportResultRequest {
            notice_id: telecoms.notice_id.clone(),
            results: vec![disposed(
                &verified_body(&app, telecoms).targets[0].target_id,
            )],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
}

on_both_backends!(
    a_missed_result_is_an_art12_breach_the_regulator_enforces_and_a_missed_receipt_a_delivery_figure
);

async fn a_missed_result_is_an_art12_breach_the_regulator_enforces_and_a_missed_receipt_a_delivery_figure(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let miit = app.officer("miit").await;
    let telecom = app.client("telecom-gd").await;
    let issued = miit
        .disposal()
        .issue_decision(decision(
            "nc-1",
            &threat,
            vec![measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![target(K::Ip, "58.60.1.1"), target(K::Ip, "58.60.1.2")],
            )],
        ))
        .await
        .unwrap()
        .into_inner();
    let notice = &issued.notices[0];
    let body = verified_body(&app, notice);

    // Receipt was due in 1 h: at 1 h 30 a record exists; a late receipt marks it fulfilled.
    app.clock.advance(chrono::Duration::minutes(90));
    app.drive_timers_until_idle().await;
    let records = |client: Client, org: &str| {
        let org = org.to_owned();
        async move {
            client
                .disposal()
                .list_non_compliance(pb::ListNonComplianceRequest {
                    organisation_id: org,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().records)
        }
    };
    let first = records(app.officer("miit").await, "telecom-gd")
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].kind, pb::NonComplianceKind::MissingReceipt as i32);
    assert_eq!(first[0].due_at, body.receipt_due);
    assert!(first[0].fulfilled_at.is_none());
    assert!(!first[0].art12_breach, "receipt is a delivery figure");
    acknowledge(&telecom, notice).await;
    // One target is reported not disposed, with its reason, in time: no missing-result record.
    telecom
        .disposal()
        .report_result(pb::ReportResultRequest {
            notice_id: notice.notice_id.clone(),
            results: vec![pb::TargetResult {
                target_id: body.targets[0].target_id.clone(),
                outcome: pb::DisposalOutcome::NotDisposed as i32,
                reason: "address no longer allocated to us".into(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let err = telecom
        .disposal()
        .report_result(pb::ReportResultRequest {
            notice_id: notice.notice_id.clone(),
            results: vec![pb::TargetResult {
                target_id: body.targets[1].target_id.clone(),
                outcome: pb::DisposalOutcome::NotDisposed as i32,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "results[0].reason");

    // A late receipt leaves the deadline where it was signed: 4 h after the receipt deadline.
    // Past it: a missing-result record for the other target only.
    app.clock.advance(chrono::Duration::hours(4));
    app.drive_timers_until_idle().await;
    // Officers' tokens live 15 minutes: a fresh one after the clock moved.
    let miit = app.officer("miit").await;
    let all = records(app.officer("miit").await, "telecom-gd")
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all[0].fulfilled_at.is_some(),
        "the late receipt is recorded"
    );
    let missing_result = all
        .iter()
        .find(|r| r.kind == pb::NonComplianceKind::MissingResult as i32)
        .unwrap();
    assert_eq!(missing_result.target_id, body.targets[1].target_id);
    assert!(missing_result.art12_breach);
    // The unit sees its own records; another unit may not look.
    assert_eq!(records(telecom.clone(), "").await.unwrap().len(), 2);
    assert_eq!(
        records(app.client("registrar-bj").await, "telecom-gd")
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert!(
        records(app.client("registrar-bj").await, "")
            .await
            .unwrap()
            .is_empty()
    );

    // Rates per unit.
    let summary = miit
        .disposal()
        .get_compliance_summary(pb::GetComplianceSummaryRequest {
            organisation_ids: vec!["telecom-gd".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .units
        .remove(0);
    let receipts = summary.receipts.unwrap();
    assert_eq!((receipts.due, receipts.on_time, receipts.late), (1, 0, 1));
    // Not disposed is its own column: neither on time nor late.
    let results = summary.results.unwrap();
    assert_eq!(
        (
            results.due,
            results.on_time,
            results.late,
            results.missing,
            results.not_disposed
        ),
        (2, 0, 0, 1, 1)
    );
    assert!(results.on_time_rate.abs() < 1e-9);

    // Enforcement answers the records.
    let today = app
        .clock
        .now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    use chrono::Datelike;
    let warning = |ids: Vec<String>, legal_basis: &str| pb::RecordEnforcementRequest {
        enforcement: Some(pb::Enforcement {
            organisation_id: "telecom-gd".into(),
            kind: pb::EnforcementKind::Warning as i32,
            decided_on: Some(pb::Date {
                year: today.year(),
                month: today.month() as i32,
                day: today.day() as i32,
            }),
            description: "A missing result (Art. 12)".into(),
            non_compliance_ids: ids,
            legal_basis: legal_basis.into(),
            ..Default::default()
        }),
        resolves_review_item_ids: vec![],
    };
    let basis = "Cybersecurity Law Art. 56; Art. 12 of the 2017 Measures";
    // The missed receipt is no breach to enforce; an enforcement names its legal basis.
    let err = miit
        .disposal()
        .record_enforcement(warning(all.iter().map(|r| r.id.clone()).collect(), basis))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("delivery figure"), "{err:?}");
    let err = miit
        .disposal()
        .record_enforcement(warning(vec![missing_result.id.clone()], " "))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "enforcement.legal_basis");
    let enforcement = miit
        .disposal()
        .record_enforcement(warning(vec![missing_result.id.clone()], basis))
        .await
        .unwrap()
        .into_inner()
        .enforcement
        .unwrap();
    assert_eq!(enforcement.regulator_organisation_id, "miit");
    assert_eq!(enforcement.legal_basis, basis);
    // Only a unit that was an addressee can be the subject of an enforcement.
    let mut other = warning(vec![], basis);
    other.enforcement.as_mut().unwrap().organisation_id = "registrar-bj".into();
    let err = miit.disposal().record_enforcement(other).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("never the addressee"), "{err:?}");
    let unenforced = miit
        .disposal()
        .list_non_compliance(pb::ListNonComplianceRequest {
            organisation_id: "telecom-gd".into(),
            unenforced_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(unenforced.len(), 1);
    assert_eq!(
        unenforced[0].kind,
        pb::NonComplianceKind::MissingReceipt as i32
    );
    let listed = records(app.officer("miit").await, "telecom-gd")
        .await
        .unwrap();
    let enforced: Vec<_> = listed
        .iter()
        .filter(|r| r.enforcement_ids == [enforcement.id.clone()])
        .collect();
    assert_eq!(enforced.len(), 1);
    assert_eq!(enforced[0].id, missing_result.id);
    let summary = miit
        .disposal()
        .get_compliance_summary(pb::GetComplianceSummaryRequest::default())
        .await
        .unwrap()
        .into_inner();
    let units: HashMap<_, _> = summary
        .units
        .iter()
        .map(|u| (u.organisation_id.as_str(), u.enforcements))
        .collect();
    assert_eq!(units.get("telecom-gd"), Some(&1));
    // A fine needs its amount.
    let err = miit
        .disposal()
        .record_enforcement(pb::RecordEnforcementRequest {
            enforcement: Some(pb::Enforcement {
                organisation_id: "telecom-gd".into(),
                kind: pb::EnforcementKind::Fine as i32,
                decided_on: Some(pb::Date {
                    year: today.year(),
                    month: today.month() as i32,
                    day: today.day() as i32,
                }),
                description: "fine".into(),
                legal_basis: basis.into(),
                ..Default::default()
            }),
            resolves_review_item_ids: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "enforcement.fine_amount_fen");
}

on_both_backends!(a_revocation_reaches_the_addressee_who_must_report_the_measure_lifted);

async fn a_revocation_reaches_the_addressee_who_must_report_the_measure_lifted(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let miit = app.officer("miit").await;
    let telecom = app.client("telecom-gd").await;
    let mut stream = telecom
        .disposal()
        .subscribe_notices(pb::SubscribeNoticesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let issued = miit
        .disposal()
        .issue_decision(decision(
            "rv-1",
            &threat,
            vec![measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![target(K::Ip, "58.60.1.1"), target(K::Ip, "58.60.1.2")],
            )],
        ))
        .await
        .unwrap()
        .into_inner();
    let notice = &issued.notices[0];
    let body = verified_body(&app, notice);
    let first = receive(&mut stream, 1).await;
    acknowledge(&telecom, notice).await;

    let revocation = miit
        .disposal()
        .revoke_notice(pb::RevokeNoticeRequest {
            notice_id: notice.notice_id.clone(),
            target_ids: vec![body.targets[0].target_id.clone()],
            reason: "the address was reassigned to a hospital".into(),
            lift_time_limit: Some(pb::TimeLimit {
                limit: Some(pb::time_limit::Limit::Hours(2)),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .revocation
        .unwrap();
    let revoked = verified_body(&app, &revocation);
    assert_eq!(revoked.kind, pb::NoticeKind::Revocation as i32);
    assert_eq!(revoked.revokes_notice_id, notice.notice_id);
    assert_eq!(revoked.targets.len(), 1);
    assert_eq!(revoked.targets[0].target_id, body.targets[0].target_id);
    // It arrives on the stream, after the original.
    let d = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(d.notice.as_ref().unwrap().notice_id, revocation.notice_id);
    // Resuming from the first cursor replays it (at least once).
    let mut resumed = telecom
        .disposal()
        .subscribe_notices(pb::SubscribeNoticesRequest {
            cursor: first[0].cursor.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        receive(&mut resumed, 1).await[0]
            .notice
            .as_ref()
            .unwrap()
            .notice_id,
        revocation.notice_id
    );
    acknowledge(&telecom, &revocation).await;
    // A revoked target takes no results.
    let err = telecom
        .disposal()
        .report_result(pb::ReportResultRequest {
            notice_id: notice.notice_id.clone(),
            results: vec![disposed(&body.targets[0].target_id)],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let status = telecom
        .disposal()
        .report_lifted(pb::ReportLiftedRequest {
            notice_id: notice.notice_id.clone(),
            target_ids: vec![],
            lifted_at: None,
            details: "route withdrawn".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    let progress = status
        .targets
        .iter()
        .find(|t| t.target_id == body.targets[0].target_id)
        .unwrap();
    assert!(progress.lifted_at.is_some());
    assert_eq!(progress.revocation_notice_id, revocation.notice_id);

    // The other target is revoked and not lifted in time: a record.
    miit.disposal()
        .revoke_notice(pb::RevokeNoticeRequest {
            notice_id: notice.notice_id.clone(),
            target_ids: vec![],
            reason: "the threat was a false positive".into(),
            lift_time_limit: None,
        })
        .await
        .unwrap();
    let status = miit
        .disposal()
        .get_notice(pb::GetNoticeRequest {
            notice_id: notice.notice_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .notice
        .unwrap()
        .status
        .unwrap();
    assert_eq!(state(&status), pb::NoticeState::Revoked);
    app.clock.advance(chrono::Duration::hours(5));
    app.drive_timers_until_idle().await;
    let miit = app.officer("miit").await;
    let records = miit
        .disposal()
        .list_non_compliance(pb::ListNonComplianceRequest {
            organisation_id: "telecom-gd".into(),
            kinds: vec![pb::NonComplianceKind::MissingLift as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].target_id, body.targets[1].target_id);
    let status = telecom
        .disposal()
        .report_lifted(pb::ReportLiftedRequest {
            notice_id: notice.notice_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(state(&status), pb::NoticeState::Lifted);
}

#[tokio::test]
async fn a_notice_issued_on_one_replica_reaches_a_subscriber_on_another() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let replica = app.spawn_replica().await;
    let mut stream = replica
        .client("telecom-gd")
        .await
        .disposal()
        .subscribe_notices(pb::SubscribeNoticesRequest::default())
        .await
        .unwrap()
        .into_inner();
    for i in 0..3 {
        let issued = app
            .officer("miit")
            .await
            .disposal()
            .issue_decision(decision(
                &format!("x-{i}"),
                &threat,
                vec![measure(
                    pb::MeasureType::StopServiceOrBlock,
                    vec![target(K::Ip, "58.60.1.1")],
                )],
            ))
            .await
            .unwrap()
            .into_inner();
        let got = receive(&mut stream, 1).await;
        assert_eq!(
            got[0].notice.as_ref().unwrap().notice_id,
            issued.notices[0].notice_id
        );
    }
}

#[tokio::test]
async fn concurrent_first_tries_of_one_decision_on_two_replicas_yield_one_decision() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let replica = app.spawn_replica().await;
    let request = decision(
        "race-1",
        &threat,
        vec![measure(
            pb::MeasureType::StopServiceOrBlock,
            vec![target(K::Ip, "58.60.1.1")],
        )],
    );
    let (a, b) = (app.officer("miit").await, replica.officer("miit").await);
    for round in 0..5 {
        let mut r = request.clone();
        r.request_id = format!("race-{round}");
        let (mut da, mut db) = (a.disposal(), b.disposal());
        let (x, y) = tokio::join!(da.issue_decision(r.clone()), db.issue_decision(r.clone()));
        let (x, y) = (x.unwrap().into_inner(), y.unwrap().into_inner());
        assert_eq!(x.decision_id, y.decision_id, "round {round}");
        assert_eq!(
            x.notices[0].notice_id, y.notices[0].notice_id,
            "round {round}"
        );
    }
}
