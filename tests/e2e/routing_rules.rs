//! Who receives a notice and who is affected by it (Art. 8, 9, 10 of the 2017 Measures;
//! issue #11 items 1, 2, 13, 14 and issue #18 item 5), over mTLS on both backends.

use fenghuo_client::{Client, pb};
use tonic::Code;
use tonic_types::StatusExt;

use crate::disposal::{confirmed_threat, decision, measure, target, verified_body};
use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};

use pb::MeasureTargetKind as K;
use pb::OwnershipKind as O;

pub fn entry(kind: O, value: &str, owner: &str) -> pb::OwnershipEntry {
    pb::OwnershipEntry {
        kind: kind as i32,
        value: value.into(),
        owner_organisation_id: owner.into(),
        ..Default::default()
    }
}

pub fn holding(kind: O, value: &str, owner: &str) -> pb::OwnershipEntry {
    pb::OwnershipEntry {
        relation: pb::OwnershipRelation::Holder as i32,
        ..entry(kind, value, owner)
    }
}

pub async fn import(
    client: &Client,
    entries: Vec<pb::OwnershipEntry>,
) -> Result<pb::ImportOwnershipEntriesResponse, tonic::Status> {
    client
        .registry()
        .import_ownership_entries(pb::ImportOwnershipEntriesRequest {
            entries,
            replace_owner_entries: false,
        })
        .await
        .map(|r| r.into_inner())
}

async fn lookup(app: &TestApp, resource: &str) -> pb::LookupResponsibleResponse {
    app.client("miit")
        .await
        .registry()
        .lookup_responsible(pb::LookupResponsibleRequest {
            resource: resource.into(),
            at: None,
        })
        .await
        .unwrap()
        .into_inner()
}

async fn issue(
    app: &TestApp,
    request_id: &str,
    threat: &str,
    m: pb::DecisionMeasure,
) -> Result<Vec<pb::Notice>, tonic::Status> {
    app.officer("miit")
        .await
        .disposal()
        .issue_decision(decision(request_id, threat, vec![m]))
        .await
        .map(|r| r.into_inner().notices)
}

fn precondition_kind(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status}");
    status
        .get_details_precondition_failure()
        .unwrap()
        .violations[0]
        .r#type
        .clone()
}

on_both_backends!(
    a_blocking_notice_goes_to_the_provider_never_to_the_holder,
    a_measure_is_refused_when_its_addressee_cannot_carry_it_out,
);

async fn a_blocking_notice_goes_to_the_provider_never_to_the_holder(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // telecom-gd is responsible for 58.60.0.0/14 (confirmed_threat imports it).
    let threat = confirmed_threat(&app, pb::EventGrade::Major).await;
    let party = app.client("party-gd").await;
    // The affected party cannot make itself responsible for a more specific prefix.
    let err = import(&party, vec![entry(O::IpPrefix, "58.60.1.0/24", "party-gd")])
        .await
        .unwrap_err();
    assert_eq!(precondition_kind(&err), "NOT_A_PROVIDER");
    assert!(err.message().contains("basic_telecom"), "{}", err.message());
    // Nor can a registrar for an address, or a telecom for a registry suffix.
    let err = import(
        &app.client("registrar-bj").await,
        vec![entry(O::IpPrefix, "59.0.0.0/24", "registrar-bj")],
    )
    .await
    .unwrap_err();
    assert_eq!(precondition_kind(&err), "NOT_A_PROVIDER");
    let err = import(
        &app.client("telecom-gd").await,
        vec![entry(O::RegistrySuffix, "gd.cn", "telecom-gd")],
    )
    .await
    .unwrap_err();
    assert!(
        err.message().contains("domain_registry"),
        "{}",
        err.message()
    );
    // It declares the /24 as a holding instead.
    import(
        &party,
        vec![holding(O::IpPrefix, "58.60.1.0/24", "party-gd")],
    )
    .await
    .unwrap();

    let found = lookup(&app, "58.60.1.1").await;
    assert_eq!(found.organisation_id, "telecom-gd");
    assert_eq!(found.matched.unwrap().value, "58.60.0.0/14");
    assert_eq!(found.holders.len(), 1);
    assert_eq!(found.holders[0].owner_organisation_id, "party-gd");
    assert_eq!(
        found.holders[0].relation,
        pb::OwnershipRelation::Holder as i32
    );

    let notices = issue(
        &app,
        "provider-1",
        &threat,
        measure(
            pb::MeasureType::StopServiceOrBlock,
            vec![target(K::Ip, "58.60.1.1")],
        ),
    )
    .await
    .unwrap();
    let disposal: Vec<pb::NoticeBody> = notices
        .iter()
        .map(|n| verified_body(&app, n))
        .filter(|b| b.kind == pb::NoticeKind::Disposal as i32)
        .collect();
    assert_eq!(disposal.len(), 1);
    assert_eq!(disposal[0].addressee_organisation_id, "telecom-gd");
    assert!(
        notices
            .iter()
            .map(|n| verified_body(&app, n))
            .all(|b| b.kind != pb::NoticeKind::Disposal as i32
                || b.addressee_organisation_id != "party-gd")
    );
    app.stop().await;
}

async fn a_measure_is_refused_when_its_addressee_cannot_carry_it_out(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Major).await;
    let named = |m: pb::MeasureType, addressee: &str| pb::DecisionMeasure {
        addressee_organisation_id: addressee.into(),
        ..measure(m, vec![target(K::Ip, "58.60.1.1")])
    };
    // 8(1) to the affected party itself: it provides no service to stop.
    let err = issue(
        &app,
        "role-1",
        &threat,
        named(pb::MeasureType::StopServiceOrBlock, "party-gd"),
    )
    .await
    .unwrap_err();
    assert_eq!(precondition_kind(&err), "ADDRESSEE_ROLE");
    assert!(err.message().contains("Art. 8(1)"), "{}", err.message());
    assert!(
        err.message()
            .contains("measures[0].addressee_organisation_id"),
        "{}",
        err.message()
    );
    // 8(2) to a registrar: malware is removed by the network's or site's provider.
    let err = issue(
        &app,
        "role-2",
        &threat,
        named(pb::MeasureType::RemoveMalware, "registrar-bj"),
    )
    .await
    .unwrap_err();
    assert_eq!(precondition_kind(&err), "ADDRESSEE_ROLE");
    assert!(err.message().contains("Art. 8(2)"), "{}", err.message());
    // The providers themselves are accepted.
    issue(
        &app,
        "role-3",
        &threat,
        named(pb::MeasureType::RemoveMalware, "telecom-gd"),
    )
    .await
    .unwrap();
    issue(
        &app,
        "role-4",
        &threat,
        pb::DecisionMeasure {
            addressee_organisation_id: "registrar-bj".into(),
            ..measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![target(K::Domain, "c2.evil-example.com")],
            )
        },
    )
    .await
    .unwrap();
    app.stop().await;
}
