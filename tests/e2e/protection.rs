//! Issue #11 item 12: Art. 8(3) informing from the registry's marks, the offline-notification
//! deadline, and the public-security referral of 2009 mechanism Art. 17.

use chrono::Duration;
use fenghuo::domain::clock::Clock;
use fenghuo_client::{Client, pb};
use tonic::Code;

use crate::disposal::{bad_field, confirmed_threat, decision, measure, target, verified_body};
use crate::on_both_backends;
use crate::routing_rules::{holding, import};
use crate::support::{Backend, TestApp, spawn_app};
use pb::InformationalAddresseeKind as Informed;
use pb::MeasureTargetKind as K;
use pb::OwnershipKind as O;

fn party(kind: Informed, org: &str, name: &str) -> pb::InformationalAddressee {
    pb::InformationalAddressee {
        kind: kind as i32,
        organisation_id: org.into(),
        name: name.into(),
        contact: "+86 20 8888 0000".into(),
    }
}

async fn mark(
    client: &Client,
    org: &str,
    mark: Option<pb::ProtectionMark>,
) -> Result<pb::Organisation, tonic::Status> {
    client
        .registry()
        .set_protection_mark(pb::SetProtectionMarkRequest {
            organisation_id: org.into(),
            mark,
        })
        .await
        .map(|r| r.into_inner())
}

fn organ_mark(informed: Vec<pb::InformationalAddressee>) -> pb::ProtectionMark {
    pb::ProtectionMark {
        kind: pb::ProtectedSystemKind::PartyOrGovernmentOrgan as i32,
        system_name: "district government portal".into(),
        informed,
        ..Default::default()
    }
}

async fn non_compliance(app: &TestApp, org: &str) -> Vec<pb::NonComplianceRecord> {
    app.officer("miit")
        .await
        .disposal()
        .list_non_compliance(pb::ListNonComplianceRequest {
            organisation_id: org.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records
}

on_both_backends!(a_measure_on_a_marked_organisations_resource_informs_its_superior_and_the_cyberspace_administration_without_a_flag);

async fn a_measure_on_a_marked_organisations_resource_informs_its_superior_and_the_cyberspace_administration_without_a_flag(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_organisation("cac-gd", pb::Role::InformationalRecipient, "440000", "")
        .await;
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    // party-gd, a district government, holds an address inside telecom-gd's block.
    import(
        &app.client("party-gd").await,
        vec![holding(O::IpPrefix, "58.60.1.0/24", "party-gd")],
    )
    .await
    .unwrap();
    let miit = app.officer("miit").await;
    let superior = party(
        Informed::SuperiorAuthority,
        "",
        "Guangdong Provincial Government General Office",
    );
    let cac = party(Informed::CyberspaceAdministration, "cac-gd", "");

    // The mark's rules: both parties of Art. 8(3), no sector for an organ, a regulator's call.
    let err = mark(&miit, "party-gd", Some(organ_mark(vec![superior.clone()])))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "mark.informed");
    assert!(
        err.message().contains("CYBERSPACE_ADMINISTRATION"),
        "{err:?}"
    );
    let mut with_sector = organ_mark(vec![superior.clone(), cac.clone()]);
    with_sector.sector = pb::ImportantSector::Taxation as i32;
    assert_eq!(
        bad_field(
            &mark(&miit, "party-gd", Some(with_sector))
                .await
                .unwrap_err()
        ),
        "mark.sector"
    );
    let err = mark(
        &app.officer("telecom-gd").await,
        "party-gd",
        Some(organ_mark(vec![superior.clone(), cac.clone()])),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let marked = mark(
        &miit,
        "party-gd",
        Some(organ_mark(vec![superior.clone(), cac.clone()])),
    )
    .await
    .unwrap();
    let shown = marked.protection.unwrap();
    assert_eq!(
        shown.kind,
        pb::ProtectedSystemKind::PartyOrGovernmentOrgan as i32
    );
    assert_eq!(shown.marked_by, "duty-officer");

    // A plain 8(1) block, no protected_system in the request.
    let issued = miit
        .disposal()
        .issue_decision(decision(
            "mark-1",
            &threat,
            vec![measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![target(K::Ip, "58.60.1.1")],
            )],
        ))
        .await
        .unwrap()
        .into_inner();
    let bodies: Vec<_> = issued
        .notices
        .iter()
        .map(|n| verified_body(&app, n))
        .collect();
    let informed: Vec<_> = bodies
        .iter()
        .filter(|b| {
            b.informational_kind == Informed::SuperiorAuthority as i32
                || b.informational_kind == Informed::CyberspaceAdministration as i32
        })
        .collect();
    assert_eq!(informed.len(), 2, "{bodies:?}");
    for b in &informed {
        let system = b.protected_system.as_ref().unwrap();
        assert_eq!(system.marked_organisation_id, "party-gd");
        assert_eq!(system.system_name, "district government portal");
    }
    let on_platform = informed
        .iter()
        .find(|b| b.addressee_organisation_id == "cac-gd")
        .unwrap();
    assert!(on_platform.offline_notification_due.is_none());
    let off = informed
        .iter()
        .find(|b| b.addressee_organisation_id.is_empty())
        .unwrap();
    assert_eq!(
        off.addressee_name,
        "Guangdong Provincial Government General Office"
    );
    // Serious: the issuer tells it offline within the receipt limit, 1 h.
    let issued_at = off.issued_at.unwrap().seconds;
    assert_eq!(
        off.offline_notification_due.unwrap().seconds - issued_at,
        3600
    );

    // Unmarked, the next measure informs no one.
    mark(&miit, "party-gd", None).await.unwrap();
    let again = miit
        .disposal()
        .issue_decision(decision(
            "mark-2",
            &threat,
            vec![measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![target(K::Ip, "58.60.1.2")],
            )],
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        again
            .notices
            .iter()
            .map(|n| verified_body(&app, n))
            .all(|b| b.informational_kind != Informed::SuperiorAuthority as i32)
    );
}

on_both_backends!(an_offline_addressee_not_told_in_time_is_recorded_against_the_issuing_regulator);

async fn an_offline_addressee_not_told_in_time_is_recorded_against_the_issuing_regulator(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let miit = app.officer("miit").await;
    // An important information system of the tax sector: its competent department, off the platform.
    let mut system = pb::ProtectionMark {
        kind: pb::ProtectedSystemKind::ImportantInformationSystem as i32,
        system_name: "provincial tax e-filing".into(),
        informed: vec![party(
            Informed::CompetentDepartment,
            "",
            "State Taxation Administration, Guangdong",
        )],
        ..Default::default()
    };
    assert_eq!(
        bad_field(
            &mark(&miit, "telecom-gd", Some(system.clone()))
                .await
                .unwrap_err()
        ),
        "mark.sector"
    );
    system.sector = pb::ImportantSector::Taxation as i32;
    mark(&miit, "telecom-gd", Some(system)).await.unwrap();

    // A referral to public security, also off the platform, in the same decision.
    let mut request = decision(
        "offline-1",
        &threat,
        vec![measure(
            pb::MeasureType::StopServiceOrBlock,
            vec![target(K::Ip, "58.60.1.1")],
        )],
    );
    request.public_security_referral = Some(pb::PublicSecurityReferral {
        addressee: Some(party(
            Informed::Unspecified,
            "",
            "Guangzhou Public Security Bureau, cyber police",
        )),
        suspected_offence: String::new(),
    });
    let err = miit
        .disposal()
        .issue_decision(request.clone())
        .await
        .unwrap_err();
    assert_eq!(
        bad_field(&err),
        "public_security_referral.suspected_offence"
    );
    request.request_id = "offline-2".into();
    request
        .public_security_referral
        .as_mut()
        .unwrap()
        .suspected_offence = "operating a botnet controller (Criminal Law Art. 285)".into();
    let issued = miit
        .disposal()
        .issue_decision(request)
        .await
        .unwrap()
        .into_inner();
    let bodies: Vec<_> = issued
        .notices
        .iter()
        .map(|n| verified_body(&app, n))
        .collect();
    let department = bodies
        .iter()
        .position(|b| b.informational_kind == Informed::CompetentDepartment as i32)
        .expect("the competent department is informed");
    let police = bodies
        .iter()
        .position(|b| b.informational_kind == Informed::PublicSecurity as i32)
        .expect("public security is referred to");
    assert!(bodies[police].reason.contains("Criminal Law Art. 285"));
    assert!(bodies[police].legal_basis.contains("Art. 17"));
    assert_eq!(bodies[police].targets.len(), 1);

    // The police are told in time; the department is not.
    let notified_at = prost_types::Timestamp {
        seconds: app.clock.now().timestamp(),
        nanos: 0,
    };
    miit.disposal()
        .record_offline_notification(pb::RecordOfflineNotificationRequest {
            notice_id: issued.notices[police].notice_id.clone(),
            notification: Some(pb::OfflineNotification {
                notified_at: Some(notified_at),
                notifying_officer: "duty-officer".into(),
                channel: pb::OfflineNotificationChannel::Phone as i32,
                recipient_person: "duty desk".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    app.clock.advance(Duration::minutes(70));
    app.drive_timers_until_idle().await;
    let records: Vec<_> = non_compliance(&app, "miit")
        .await
        .into_iter()
        .filter(|r| r.kind == pb::NonComplianceKind::MissingOfflineNotification as i32)
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].notice_id, issued.notices[department].notice_id);
    assert_eq!(
        records[0].due_at,
        bodies[department].offline_notification_due
    );
    assert!(!records[0].art12_breach);
}
