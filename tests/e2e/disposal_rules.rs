//! Issue #11 items 4–7: whose provincial rules a notice follows (Art. 14), when results fall
//! due (2009 mechanism 9(2)), what a NOT_DISPOSED result is (Art. 9, 12), and the
//! institution's verification deadline (2009 mechanism 9(3)).

use std::sync::Arc;

use chrono::Duration;
use fenghuo::config::Settings;
use fenghuo::domain::policy::DeadlinePolicy;
use fenghuo::timers::TimerHandlers;
use fenghuo_client::{Client, pb};
use tonic::Code;
use tonic_types::StatusExt;

use crate::disposal::{
    acknowledge, bad_field, confirmed_threat, decision, disposed, measure, target, verified_body,
};
use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app, spawn_app_configured};
use pb::MeasureTargetKind as K;

fn secs(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().expect("timestamp set").seconds
}

async fn records(client: &Client, org: &str) -> Vec<pb::NonComplianceRecord> {
    client
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

async fn summary(client: &Client, org: &str) -> pb::UnitCompliance {
    client
        .disposal()
        .get_compliance_summary(pb::GetComplianceSummaryRequest {
            organisation_ids: vec![org.into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .units
        .remove(0)
}

async fn report(
    client: &Client,
    notice_id: &str,
    results: Vec<pb::TargetResult>,
) -> pb::NoticeStatus {
    client
        .disposal()
        .report_result(pb::ReportResultRequest {
            notice_id: notice_id.into(),
            results,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap()
}

fn not_disposed(target_id: &str, reason: &str) -> pb::TargetResult {
    pb::TargetResult {
        target_id: target_id.into(),
        outcome: pb::DisposalOutcome::NotDisposed as i32,
        reason: reason.into(),
        ..Default::default()
    }
}

/// One blocking notice to telecom-gd on `ips`; returns it with its verified body.
async fn block(
    app: &TestApp,
    request_id: &str,
    threat: &str,
    ips: &[&str],
) -> (pb::Notice, pb::NoticeBody) {
    let issued = app
        .officer("miit")
        .await
        .disposal()
        .issue_decision(decision(
            request_id,
            threat,
            vec![measure(
                pb::MeasureType::StopServiceOrBlock,
                ips.iter().map(|ip| target(K::Ip, ip)).collect(),
            )],
        ))
        .await
        .unwrap()
        .into_inner();
    let notice = issued.notices.into_iter().next().unwrap();
    let body = verified_body(app, &notice);
    (notice, body)
}

on_both_backends!(
    a_national_notice_follows_the_rules_of_the_province_where_the_measure_is_carried_out
);

async fn a_national_notice_follows_the_rules_of_the_province_where_the_measure_is_carried_out(
    backend: Backend,
) {
    // Guangdong's implementing rules (Art. 14): 2 h to receive, 8 h to act, 3 h to verify.
    let rules = "[provinces.\"440000\".platform.serious]\nreceipt = \"2h\"\n\
                 [provinces.\"440000\".mechanism_2009.serious]\nfeedback = \"8h\"\nverification = \"3h\"\n";
    let Some(app) = spawn_app_configured(
        backend,
        TimerHandlers::new(),
        Arc::new(move |s: &mut Settings| {
            s.policy = DeadlinePolicy::shipped_with(rules).unwrap();
        }),
    )
    .await
    else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    // MIIT, a national regulator, orders a block in Guangdong and one in Beijing.
    let issued = app
        .officer("miit")
        .await
        .disposal()
        .issue_decision(decision(
            "art14-1",
            &threat,
            vec![
                measure(
                    pb::MeasureType::StopServiceOrBlock,
                    vec![target(K::Ip, "58.60.1.1")],
                ),
                measure(
                    pb::MeasureType::StopServiceOrBlock,
                    vec![target(K::Domain, "evil-example.com")],
                ),
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    let mut guangdong = None;
    for n in &issued.notices {
        let b = verified_body(&app, n);
        let issued_at = secs(&b.issued_at);
        let (receipt, deadline) = (
            secs(&b.receipt_due) - issued_at,
            secs(&b.deadline) - issued_at,
        );
        match b.addressee_organisation_id.as_str() {
            "telecom-gd" => {
                assert_eq!(b.targets[0].province, "440000");
                assert_eq!(
                    (receipt, deadline),
                    (2 * 3600, 10 * 3600),
                    "Guangdong's rules"
                );
                guangdong = Some(n.clone());
            }
            "registrar-bj" => {
                assert_eq!(b.targets[0].province, "110000");
                assert_eq!(
                    (receipt, deadline),
                    (3600, 5 * 3600),
                    "the national defaults"
                );
            }
            other => panic!("unexpected addressee {other}"),
        }
    }
    // Verification follows the same province's rules.
    let notice = guangdong.unwrap();
    let body = verified_body(&app, &notice);
    let telecom = app.client("telecom-gd").await;
    acknowledge(&telecom, &notice).await;
    let status = report(
        &telecom,
        &notice.notice_id,
        vec![disposed(&body.targets[0].target_id)],
    )
    .await;
    let t = &status.targets[0];
    assert_eq!(
        secs(&t.verification_due) - secs(&t.result_reported_at),
        3 * 3600
    );
}

on_both_backends!(the_result_deadline_runs_from_the_acknowledged_receipt_and_at_the_latest_from_the_receipt_deadline);

async fn the_result_deadline_runs_from_the_acknowledged_receipt_and_at_the_latest_from_the_receipt_deadline(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let (early, early_body) = block(&app, "rcpt-1", &threat, &["58.60.1.1"]).await;
    let (never, never_body) = block(&app, "rcpt-2", &threat, &["58.60.1.2"]).await;
    let issued_at = secs(&early_body.issued_at);
    // Serious: receipt within 1 h, results 4 h after it; signed: the latest deadline.
    assert!(early_body.deadline_runs_from_receipt);
    assert_eq!(secs(&early_body.deadline) - issued_at, 5 * 3600);
    assert_eq!(
        secs(&never_body.deadline),
        secs(&never_body.receipt_due) + 4 * 3600
    );

    // Received after 30 minutes: 4 h from then.
    app.clock.advance(Duration::minutes(30));
    let telecom = app.client("telecom-gd").await;
    let status = acknowledge(&telecom, &early).await;
    let received = secs(&status.received_at);
    assert_eq!(secs(&status.result_deadline), received + 4 * 3600);

    // 4 h 15 after receipt: the early notice's result is missing; the other's is not yet due.
    app.clock.advance(Duration::minutes(4 * 60 + 15));
    app.drive_timers_until_idle().await;
    let miit = app.officer("miit").await;
    let missing: Vec<_> = records(&miit, "telecom-gd")
        .await
        .into_iter()
        .filter(|r| r.kind == pb::NonComplianceKind::MissingResult as i32)
        .collect();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].notice_id, early.notice_id);
    assert_eq!(secs(&missing[0].due_at), received + 4 * 3600);

    // Never received: due 4 h after the receipt deadline, and recorded then.
    app.clock.advance(Duration::minutes(30));
    app.drive_timers_until_idle().await;
    let miit = app.officer("miit").await;
    let late: Vec<_> = records(&miit, "telecom-gd")
        .await
        .into_iter()
        .filter(|r| {
            r.kind == pb::NonComplianceKind::MissingResult as i32 && r.notice_id == never.notice_id
        })
        .collect();
    assert_eq!(late.len(), 1);
    assert_eq!(secs(&late[0].due_at), secs(&never_body.deadline));
}

on_both_backends!(a_target_reported_not_disposed_waits_for_the_regulator_who_accepts_the_reason_or_sees_it_disposed);

async fn a_target_reported_not_disposed_waits_for_the_regulator_who_accepts_the_reason_or_sees_it_disposed(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let (notice, body) = block(&app, "nd-1", &threat, &["58.60.1.1", "58.60.1.2"]).await;
    let (first, second) = (&body.targets[0].target_id, &body.targets[1].target_id);
    let telecom = app.client("telecom-gd").await;
    acknowledge(&telecom, &notice).await;
    report(
        &telecom,
        &notice.notice_id,
        vec![
            not_disposed(first, "address no longer allocated to us"),
            not_disposed(second, "a court order is pending"),
        ],
    )
    .await;

    // Both wait in the Guangdong regulator's review queue with the reported reason.
    let gdca = app.officer("gdca").await;
    let queue = |client: Client| async move {
        client
            .disposal()
            .list_review_queue(pb::ListReviewQueueRequest::default())
            .await
            .unwrap()
            .into_inner()
            .items
    };
    let items = queue(gdca.clone()).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(
        items
            .iter()
            .all(|i| i.reason == pb::ReviewReason::NotDisposed as i32)
    );
    let item = |target: &str| {
        items
            .iter()
            .find(|i| i.target.as_ref().unwrap().target_id == target)
            .unwrap()
            .clone()
    };
    let (on_first, on_second) = (item(first), item(second));
    assert_eq!(
        on_first.result.as_ref().unwrap().reason,
        "address no longer allocated to us"
    );
    assert_eq!(on_first.addressee_organisation_id, "telecom-gd");

    // Not disposed is its own column: neither on time nor late.
    let results = summary(&gdca, "telecom-gd").await.results.unwrap();
    assert_eq!(
        (results.due, results.on_time, results.not_disposed),
        (2, 0, 2)
    );

    // The regulator accepts the first reason, with a note.
    let accept = |id: &str, note: &str| pb::AcceptNotDisposedReasonRequest {
        review_item_id: id.into(),
        note: note.into(),
    };
    let err = gdca
        .disposal()
        .accept_not_disposed_reason(accept(&on_first.id, ""))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "note");
    let accepted = gdca
        .disposal()
        .accept_not_disposed_reason(accept(&on_first.id, "reallocation confirmed with CNNIC"))
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(accepted.id, on_first.id);
    let err = gdca
        .disposal()
        .accept_not_disposed_reason(accept(&on_first.id, "again"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        err.get_details_precondition_failure().unwrap().violations[0].r#type,
        "REVIEW_SETTLED"
    );
    // No Art. 12 record: the duty to report was met.
    assert!(
        records(&gdca, "telecom-gd")
            .await
            .iter()
            .all(|r| r.kind != pb::NonComplianceKind::MissingResult as i32)
    );

    // The unit later disposes of the second target: its item settles by itself.
    report(&telecom, &notice.notice_id, vec![disposed(second)]).await;
    assert!(queue(gdca.clone()).await.is_empty());
    let results = summary(&gdca, "telecom-gd").await.results.unwrap();
    assert_eq!(
        (results.due, results.on_time, results.not_disposed),
        (2, 1, 1)
    );
    assert!(on_second.result.is_some());

    // A failed verification is settled by a reissue or an enforcement, not by accepting.
    let verified = app
        .officer("cncert")
        .await
        .disposal()
        .verify_result(pb::VerifyResultRequest {
            notice_id: notice.notice_id.clone(),
            verifications: vec![pb::TargetVerification {
                target_id: second.clone(),
                outcome: pb::VerificationOutcome::NotEffective as i32,
                details: "still answers on port 443".into(),
                checked_at: None,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let err = gdca
        .disposal()
        .accept_not_disposed_reason(accept(&verified.review_item_ids[0], "no"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        err.get_details_precondition_failure().unwrap().violations[0].r#type,
        "NOT_A_NOT_DISPOSED_ITEM"
    );
}

on_both_backends!(a_result_not_verified_in_time_is_recorded_against_the_institution);

async fn a_result_not_verified_in_time_is_recorded_against_the_institution(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let threat = confirmed_threat(&app, pb::EventGrade::Serious).await;
    let (notice, body) = block(&app, "vf-1", &threat, &["58.60.1.1"]).await;
    let telecom = app.client("telecom-gd").await;
    acknowledge(&telecom, &notice).await;
    let status = report(
        &telecom,
        &notice.notice_id,
        vec![disposed(&body.targets[0].target_id)],
    )
    .await;
    // Serious: CNCERT verifies within 2 h of the feedback (2009 mechanism 9(3)).
    let due = secs(&status.targets[0].verification_due);
    assert_eq!(due - secs(&status.targets[0].result_reported_at), 2 * 3600);

    app.clock.advance(Duration::minutes(2 * 60 + 5));
    app.drive_timers_until_idle().await;
    let cncert = app.officer("cncert").await;
    let mine = records(&cncert, "").await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    let record = &mine[0];
    assert_eq!(
        record.kind,
        pb::NonComplianceKind::MissingVerification as i32
    );
    assert_eq!(record.organisation_id, "cncert");
    assert_eq!(record.target_id, body.targets[0].target_id);
    assert_eq!(secs(&record.due_at), due);
    assert!(
        !record.art12_breach,
        "the institution's KPI, not an Art. 12 breach"
    );
    // The unit's own records do not carry the institution's miss.
    assert!(records(&telecom, "").await.is_empty());
    let v = summary(&cncert, "cncert").await.verifications.unwrap();
    assert_eq!((v.due, v.missing), (1, 1));

    // Verified late: the record stays, fulfilled; the KPI counts it late.
    cncert
        .disposal()
        .verify_result(pb::VerifyResultRequest {
            notice_id: notice.notice_id.clone(),
            verifications: vec![pb::TargetVerification {
                target_id: body.targets[0].target_id.clone(),
                outcome: pb::VerificationOutcome::Effective as i32,
                details: "no longer reachable".into(),
                checked_at: None,
            }],
        })
        .await
        .unwrap();
    let mine = records(&cncert, "cncert").await;
    assert!(mine[0].fulfilled_at.is_some());
    let v = summary(&app.officer("miit").await, "cncert")
        .await
        .verifications
        .unwrap();
    assert_eq!((v.due, v.late, v.missing), (1, 1, 0));
}
