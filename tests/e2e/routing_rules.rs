//! Who receives a notice and who is affected by it (Art. 8, 9, 10 of the 2017 Measures;
//! issue #11 items 1, 2, 13, 14 and issue #18 item 5), over mTLS on both backends.

use std::time::Duration;

use chrono::TimeZone;
use fenghuo_client::{Client, pb};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::disposal::{acknowledge, confirmed_threat, decision, measure, target, verified_body};
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

async fn pending(app: &TestApp, regulator: &str) -> Vec<pb::OwnershipEntry> {
    app.client(regulator)
        .await
        .registry()
        .list_pending_ownership_entries(pb::ListPendingOwnershipEntriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries
}

async fn decide(
    app: &TestApp,
    regulator: &str,
    entry_id: &str,
    approve: bool,
) -> Result<pb::OwnershipEntry, tonic::Status> {
    let mut registry = app.officer(regulator).await.registry();
    let req = pb::DecideOwnershipEntryRequest {
        entry_id: entry_id.into(),
        reason: "Contract with the address holder checked".into(),
    };
    if approve {
        registry.approve_ownership_entry(req).await
    } else {
        registry.refuse_ownership_entry(req).await
    }
    .map(|r| r.into_inner())
}

/// The addressee of the one disposal notice an 8(1) block on `ip` yields.
async fn blocked_by(app: &TestApp, request_id: &str, threat: &str, ip: &str) -> String {
    let notices = issue(
        app,
        request_id,
        threat,
        measure(pb::MeasureType::StopServiceOrBlock, vec![target(K::Ip, ip)]),
    )
    .await
    .unwrap();
    let bodies: Vec<pb::NoticeBody> = notices
        .iter()
        .map(|n| verified_body(app, n))
        .filter(|b| b.kind == pb::NoticeKind::Disposal as i32)
        .collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    bodies[0].addressee_organisation_id.clone()
}

on_both_backends!(
    an_overlapping_claim_routes_nothing_until_the_regulator_of_its_province_approves_it,
    a_refused_claim_never_routes_and_a_units_claims_inside_its_own_space_need_no_approval,
);

async fn an_overlapping_claim_routes_nothing_until_the_regulator_of_its_province_approves_it(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_organisation("idc-gd", pb::Role::InternetEnterprise, "440000", "")
        .await;
    app.add_organisation("bjca", pb::Role::ProvincialRegulator, "110000", "")
        .await;
    let threat = confirmed_threat(&app, pb::EventGrade::Major).await;
    // A data centre in Guangdong claims a /24 inside telecom-gd's 58.60.0.0/14.
    let idc = app.client("idc-gd").await;
    let answer = import(&idc, vec![entry(O::IpPrefix, "58.60.1.0/24", "idc-gd")])
        .await
        .unwrap();
    assert_eq!(answer.imported, 1);
    assert_eq!(answer.pending_entry_ids.len(), 1);
    let id = answer.pending_entry_ids[0].clone();
    let listed = idc
        .registry()
        .list_ownership_entries(pb::ListOwnershipEntriesRequest {
            owner_organisation_id: "idc-gd".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].approval, pb::OwnershipApproval::Pending as i32);
    assert!(
        listed[0].pending_reason.contains("telecom-gd")
            && listed[0].pending_reason.contains("58.60.0.0/14"),
        "{}",
        listed[0].pending_reason
    );
    // Unapproved, it routes nothing: look-ups and notices still go to the telecom.
    assert_eq!(
        lookup(&app, "58.60.1.1").await.organisation_id,
        "telecom-gd"
    );
    assert_eq!(
        blocked_by(&app, "overlap-1", &threat, "58.60.1.1").await,
        "telecom-gd"
    );
    // The Guangdong regulator sees it waiting, Beijing's does not and cannot decide it.
    let waiting = pending(&app, "gdca").await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].id, id);
    assert!(pending(&app, "bjca").await.is_empty());
    let err = decide(&app, "bjca", &id, true).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    // Approval is a decision: an officer's token, and a reason.
    let err = app
        .client("gdca")
        .await
        .registry()
        .approve_ownership_entry(pb::DecideOwnershipEntryRequest {
            entry_id: id.clone(),
            reason: "ok".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    let err = app
        .officer("gdca")
        .await
        .registry()
        .approve_ownership_entry(pb::DecideOwnershipEntryRequest {
            entry_id: id.clone(),
            reason: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "reason"
    );

    let approved = decide(&app, "gdca", &id, true).await.unwrap();
    assert_eq!(approved.approval, pb::OwnershipApproval::Approved as i32);
    assert!(
        approved.decided_by.starts_with("gdca"),
        "{}",
        approved.decided_by
    );
    assert_eq!(lookup(&app, "58.60.1.1").await.organisation_id, "idc-gd");
    assert_eq!(
        lookup(&app, "58.60.2.1").await.organisation_id,
        "telecom-gd"
    );
    assert_eq!(
        blocked_by(&app, "overlap-2", &threat, "58.60.1.1").await,
        "idc-gd"
    );
    assert!(pending(&app, "gdca").await.is_empty());
    let err = decide(&app, "gdca", &id, true).await.unwrap_err();
    assert_eq!(precondition_kind(&err), "NOT_PENDING");
    let audit = app
        .client("miit")
        .await
        .audit()
        .query_audit(pb::QueryAuditRequest {
            subject: "ownership:idc-gd".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert!(
        audit
            .iter()
            .any(|r| r.action == "registry.ownership.approve" && r.organisation_id == "gdca"),
        "{audit:?}"
    );
    app.stop().await;
}

async fn a_refused_claim_never_routes_and_a_units_claims_inside_its_own_space_need_no_approval(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_organisation("telecom-gd2", pb::Role::BasicTelecom, "440000", "")
        .await;
    confirmed_threat(&app, pb::EventGrade::Major).await;
    // The same value as another telecom's entry waits too, and a refusal closes it.
    let answer = import(
        &app.client("telecom-gd2").await,
        vec![entry(O::IpPrefix, "58.60.0.0/14", "telecom-gd2")],
    )
    .await
    .unwrap();
    assert_eq!(answer.pending_entry_ids.len(), 1);
    let refused = decide(&app, "miit", &answer.pending_entry_ids[0], false)
        .await
        .unwrap();
    assert_eq!(refused.approval, pb::OwnershipApproval::Refused as i32);
    assert!(refused.valid_until.is_some());
    assert_eq!(
        lookup(&app, "58.60.1.1").await.organisation_id,
        "telecom-gd"
    );
    assert!(pending(&app, "miit").await.is_empty());
    // A telecom splitting its own space needs nobody's approval.
    let answer = import(
        &app.client("telecom-gd").await,
        vec![entry(O::IpPrefix, "58.60.7.0/24", "telecom-gd")],
    )
    .await
    .unwrap();
    assert!(answer.pending_entry_ids.is_empty());
    assert_eq!(
        lookup(&app, "58.60.7.1").await.matched.unwrap().value,
        "58.60.7.0/24"
    );
    // Nor does a holding inside another's space: it routes nothing anyway.
    let answer = import(
        &app.client("party-gd").await,
        vec![holding(O::IpPrefix, "58.60.8.0/24", "party-gd")],
    )
    .await
    .unwrap();
    assert!(answer.pending_entry_ids.is_empty());
    app.stop().await;
}

on_both_backends!(
    a_unit_cannot_move_its_resources_out_of_its_regulators_reach_and_national_is_never_a_resource_province,
);

async fn a_unit_cannot_move_its_resources_out_of_its_regulators_reach_and_national_is_never_a_resource_province(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_organisation("bjca", pb::Role::ProvincialRegulator, "110000", "")
        .await;
    app.add_organisation("telecom-hq", pb::Role::BasicTelecom, "national", "")
        .await;
    let telecom = app.client("telecom-gd").await;
    let with_province = |value: &str, owner: &str, province: &str| pb::OwnershipEntry {
        province: province.into(),
        ..entry(O::IpPrefix, value, owner)
    };
    let field = |err: tonic::Status| {
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        (
            err.get_details_bad_request().unwrap().field_violations[0]
                .field
                .clone(),
            err.message().to_owned(),
        )
    };
    // "national" would put the resource beyond the provincial regulator: refused.
    let (f, message) = field(
        import(
            &telecom,
            vec![
                entry(O::IpPrefix, "59.1.0.0/16", "telecom-gd"),
                with_province("59.2.0.0/16", "telecom-gd", "national"),
            ],
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(f, "entries[1].province");
    assert!(message.contains("never a resource's province"), "{message}");
    // A national group names the province where each resource is used.
    let (f, _) = field(
        import(
            &app.client("telecom-hq").await,
            vec![entry(O::IpPrefix, "59.3.0.0/16", "telecom-hq")],
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(f, "entries[0].province");
    import(
        &app.client("telecom-hq").await,
        vec![with_province("59.3.0.0/16", "telecom-hq", "440000")],
    )
    .await
    .unwrap();
    assert_eq!(lookup(&app, "59.3.0.1").await.province, "440000");

    // Without a province the entry lies in its owner's.
    let answer = import(
        &telecom,
        vec![entry(O::IpPrefix, "59.1.0.0/16", "telecom-gd")],
    )
    .await
    .unwrap();
    assert!(answer.pending_entry_ids.is_empty());
    assert_eq!(lookup(&app, "59.1.0.1").await.province, "440000");
    // Another province waits for that province's regulator, not the owner's.
    let answer = import(
        &telecom,
        vec![with_province("59.4.0.0/16", "telecom-gd", "110000")],
    )
    .await
    .unwrap();
    assert_eq!(answer.pending_entry_ids.len(), 1);
    let id = answer.pending_entry_ids[0].clone();
    let waiting = pending(&app, "bjca").await;
    assert_eq!(waiting.len(), 1);
    assert!(
        waiting[0].pending_reason.contains("regulator's reach"),
        "{}",
        waiting[0].pending_reason
    );
    assert!(pending(&app, "gdca").await.is_empty());
    assert_eq!(
        app.client("miit")
            .await
            .registry()
            .lookup_responsible(pb::LookupResponsibleRequest {
                resource: "59.4.0.1".into(),
                at: None,
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let err = decide(&app, "gdca", &id, true).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    decide(&app, "bjca", &id, true).await.unwrap();
    let found = lookup(&app, "59.4.0.1").await;
    assert_eq!(
        (found.organisation_id.as_str(), found.province.as_str()),
        ("telecom-gd", "110000")
    );
    // The national regulator may place a resource in any province directly.
    let answer = import(
        &app.client("miit").await,
        vec![with_province("59.5.0.0/16", "telecom-gd", "110000")],
    )
    .await
    .unwrap();
    assert!(answer.pending_entry_ids.is_empty());
    assert_eq!(lookup(&app, "59.5.0.1").await.province, "110000");
    app.stop().await;
}

/// 10:00 Asia/Shanghai on `date`.
pub fn shanghai_ten(date: &str) -> chrono::DateTime<chrono::Utc> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&d.and_hms_opt(10, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
}

fn date(y: i32, m: i32, d: i32) -> Option<pb::Date> {
    Some(pb::Date {
        year: y,
        month: m,
        day: d,
    })
}

on_both_backends!(a_holder_learns_of_a_blocking_measure_on_its_resource_and_of_its_appeal_window,);

async fn a_holder_learns_of_a_blocking_measure_on_its_resource_and_of_its_appeal_window(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // Monday 21 September 2026; the National Day holidays fall inside the window.
    app.clock.set(shanghai_ten("2026-09-21"));
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let party = app.client("party-gd").await;
    import(
        &party,
        vec![holding(O::IpPrefix, "58.60.1.0/24", "party-gd")],
    )
    .await
    .unwrap();
    let mut stream = party
        .disposal()
        .subscribe_notices(pb::SubscribeNoticesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let notices = issue(
        &app,
        "holder-1",
        &threat,
        measure(
            pb::MeasureType::StopServiceOrBlock,
            vec![target(K::Ip, "58.60.1.1"), target(K::Ip, "58.60.2.2")],
        ),
    )
    .await
    .unwrap();
    let disposal = notices
        .iter()
        .map(|n| verified_body(&app, n))
        .find(|b| b.kind == pb::NoticeKind::Disposal as i32)
        .unwrap();
    assert_eq!(disposal.addressee_organisation_id, "telecom-gd");

    let delivered = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the holder's notice arrives on its stream")
        .unwrap()
        .unwrap()
        .notice
        .unwrap();
    let body = verified_body(&app, &delivered);
    assert_eq!(body.kind, pb::NoticeKind::Informational as i32);
    assert_eq!(
        body.informational_kind,
        pb::InformationalAddresseeKind::ResourceHolder as i32
    );
    assert_eq!(body.addressee_organisation_id, "party-gd");
    assert_eq!(
        body.measure_type,
        pb::MeasureType::StopServiceOrBlock as i32
    );
    assert_eq!(body.informs_of_notice_id, disposal.notice_id);
    // Only its own resource, under the target id it can appeal against.
    let held = disposal
        .targets
        .iter()
        .find(|t| t.target.as_ref().unwrap().value == "58.60.1.1")
        .unwrap();
    assert_eq!(body.targets, vec![held.clone()]);
    assert!(body.threat_summary.is_empty() && body.instructions.is_empty());
    // Deadline 14:00 the same day; ten working days after it, past the holidays: 12 October.
    assert_eq!(body.appeal_window_opens_on, date(2026, 9, 21));
    assert_eq!(body.appeal_window_closes_on, date(2026, 10, 12));
    assert!(body.deadline.is_none());
    // It needs no result, and a missed receipt is no Art. 12 record.
    acknowledge(&party, &delivered).await;
    app.clock.advance(chrono::Duration::days(40));
    app.drive_timers_until_idle().await;
    let records = app
        .client("miit")
        .await
        .disposal()
        .list_non_compliance(pb::ListNonComplianceRequest {
            organisation_id: "party-gd".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert!(records.is_empty(), "{records:?}");

    // Removal of malware (8(2)) is not appealable: the holder is not informed of it.
    let notices = issue(
        &app,
        "holder-2",
        &threat,
        pb::DecisionMeasure {
            addressee_organisation_id: "telecom-gd".into(),
            ..measure(
                pb::MeasureType::RemoveMalware,
                vec![target(K::Ip, "58.60.1.1")],
            )
        },
    )
    .await
    .unwrap();
    assert!(
        notices
            .iter()
            .all(|n| verified_body(&app, n).addressee_organisation_id != "party-gd")
    );
    app.stop().await;
}

on_both_backends!(
    any_organisation_holding_the_target_may_appeal_and_an_addressee_filing_for_a_customer_attaches_its_mandate,
);

async fn any_organisation_holding_the_target_may_appeal_and_an_addressee_filing_for_a_customer_attaches_its_mandate(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    // A security vendor hosts its own site at 58.60.5.0/24: it holds it, it is not its provider.
    let vendor = app.client("vendor-bj").await;
    import(
        &vendor,
        vec![holding(O::IpPrefix, "58.60.5.0/24", "vendor-bj")],
    )
    .await
    .unwrap();
    let notices = issue(
        &app,
        "standing-1",
        &threat,
        measure(
            pb::MeasureType::StopServiceOrBlock,
            vec![target(K::Ip, "58.60.5.5"), target(K::Ip, "58.60.6.6")],
        ),
    )
    .await
    .unwrap();
    let notice = notices
        .iter()
        .find(|n| verified_body(&app, n).kind == pb::NoticeKind::Disposal as i32)
        .unwrap();
    let body = verified_body(&app, notice);
    let target_id = |ip: &str| {
        body.targets
            .iter()
            .find(|t| t.target.as_ref().unwrap().value == ip)
            .unwrap()
            .target_id
            .clone()
    };
    let own = |target_id: String| pb::FileAppealRequest {
        notice_id: notice.notice_id.clone(),
        target_id,
        grounds: "This is our own web site; it was never a control server.".into(),
        appellant: Some(pb::file_appeal_request::Appellant::AffectedParty(
            pb::AffectedPartyFiling {
                contact: "Security desk, +86 10 5555 0000".into(),
            },
        )),
        ..Default::default()
    };
    // Not an affected party by role, but the holder of the target: it may appeal.
    let appeal = vendor
        .appeals()
        .file_appeal(own(target_id("58.60.5.5")))
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    assert_eq!(
        appeal.appellant_kind,
        pb::AppellantKind::AffectedParty as i32
    );
    // A resource it does not hold it may not.
    let err = vendor
        .appeals()
        .file_appeal(own(target_id("58.60.6.6")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    // And it sees the measures on what it holds.
    let seen = vendor
        .appeals()
        .list_measures_against(pb::ListMeasuresAgainstRequest {
            resource: Some(target(K::Ip, "58.60.5.0/24")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .measures;
    assert_eq!(seen.len(), 1);

    // The addressee appeals for a customer only with the customer's mandate.
    let telecom = app.client("telecom-gd").await;
    let for_customer = |mandate: Option<pb::CustomerMandate>| pb::FileAppealRequest {
        appellant: Some(pb::file_appeal_request::Appellant::Customer(
            pb::AppellantIdentity {
                name: "Wang Wu".into(),
                identity_number: "440106199001010000".into(),
                contact: "+86 139 0000 0000".into(),
            },
        )),
        mandate,
        ..own(target_id("58.60.6.6"))
    };
    let bad_field = |err: tonic::Status| {
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        assert!(err.message().contains("Art. 10"), "{}", err.message());
        err.get_details_bad_request().unwrap().field_violations[0]
            .field
            .clone()
    };
    let err = telecom
        .appeals()
        .file_appeal(for_customer(None))
        .await
        .unwrap_err();
    assert_eq!(bad_field(err), "mandate");
    let err = telecom
        .appeals()
        .file_appeal(for_customer(Some(pb::CustomerMandate {
            document_sha256: "not-a-digest".into(),
            customer_contact: "+86 139 0000 0000".into(),
        })))
        .await
        .unwrap_err();
    assert_eq!(bad_field(err), "mandate.document_sha256");
    let err = telecom
        .appeals()
        .file_appeal(for_customer(Some(pb::CustomerMandate {
            document_sha256: "A".repeat(64),
            customer_contact: " ".into(),
        })))
        .await
        .unwrap_err();
    assert_eq!(bad_field(err), "mandate.customer_contact");
    let filed = telecom
        .appeals()
        .file_appeal(for_customer(Some(pb::CustomerMandate {
            document_sha256: "AB".repeat(32),
            customer_contact: "Wang Wu, +86 139 0000 0000".into(),
        })))
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    // Recorded in the appeal and shown by GetAppeal, to the filer and the deciding regulator.
    for client in [&telecom, &app.client("miit").await] {
        let got = client
            .appeals()
            .get_appeal(pb::GetAppealRequest {
                appeal_id: filed.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .appeal
            .unwrap();
        assert_eq!(
            got.mandate,
            Some(pb::CustomerMandate {
                document_sha256: "ab".repeat(32),
                customer_contact: "Wang Wu, +86 139 0000 0000".into(),
            })
        );
    }
    // A mandate belongs only to a filing for a customer.
    let err = vendor
        .appeals()
        .file_appeal(pb::FileAppealRequest {
            mandate: Some(pb::CustomerMandate {
                document_sha256: "ab".repeat(32),
                customer_contact: "x".into(),
            }),
            ..own(target_id("58.60.5.5"))
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    app.stop().await;
}
