//! Appeals against Art. 8(1) measures (Art. 10), over mTLS with the manual clock,
//! on both backends.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use fenghuo::domain::clock::Clock;
use fenghuo_client::{Client, pb};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::disposal::{acknowledge, confirmed_threat, decision, measure, target, verified_body};
use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};

use pb::MeasureTargetKind as K;

/// 10:00 Asia/Shanghai on a date, plus `hour_offset` hours.
pub fn shanghai(date: &str, hour: u32) -> DateTime<Utc> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    Shanghai
        .from_local_datetime(&d.and_hms_opt(hour, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn date(s: &str) -> pb::Date {
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    use chrono::Datelike;
    pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// A blocking notice to telecom-gd on 58.60.1.1 (inside party-gd's registered prefix) and
/// 58.60.2.2; returns it with its target ids.
pub async fn blocking_notice(app: &TestApp, request_id: &str) -> (pb::Notice, Vec<String>) {
    let threat = confirmed_threat(app, pb::EventGrade::Serious).await;
    app.client("miit")
        .await
        .registry()
        .import_ownership_entries(pb::ImportOwnershipEntriesRequest {
            entries: vec![pb::OwnershipEntry {
                kind: pb::OwnershipKind::IpPrefix as i32,
                value: "58.60.1.0/24".into(),
                owner_organisation_id: "party-gd".into(),
                relation: pb::OwnershipRelation::Holder as i32,
                ..Default::default()
            }],
            replace_owner_entries: false,
        })
        .await
        .ok();
    let mut m = measure(
        pb::MeasureType::StopServiceOrBlock,
        vec![target(K::Ip, "58.60.1.1"), target(K::Ip, "58.60.2.2")],
    );
    // The provider acts; the hosting customer is the affected party.
    m.addressee_organisation_id = "telecom-gd".into();
    let notice = app
        .officer("miit")
        .await
        .disposal()
        .issue_decision(decision(request_id, &threat, vec![m]))
        .await
        .unwrap()
        .into_inner()
        .notices
        .remove(0);
    let targets = verified_body(app, &notice)
        .targets
        .iter()
        .map(|t| t.target_id.clone())
        .collect();
    (notice, targets)
}

pub async fn report_disposed(app: &TestApp, notice: &pb::Notice, targets: &[String]) {
    let telecom = app.client("telecom-gd").await;
    acknowledge(&telecom, notice).await;
    telecom
        .disposal()
        .report_result(pb::ReportResultRequest {
            notice_id: notice.notice_id.clone(),
            results: targets
                .iter()
                .map(|t| pb::TargetResult {
                    target_id: t.clone(),
                    outcome: pb::DisposalOutcome::Disposed as i32,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap();
}

pub fn by_party(notice: &pb::Notice, target_id: &str) -> pb::FileAppealRequest {
    pb::FileAppealRequest {
        notice_id: notice.notice_id.clone(),
        target_id: target_id.into(),
        grounds: "Our web shop runs on this address; the malware was removed on the 3rd.".into(),
        evidence: vec![],
        appellant: Some(pb::file_appeal_request::Appellant::AffectedParty(
            pb::AffectedPartyFiling {
                contact: "IT manager, +86 20 5555 0000".into(),
            },
        )),
        mandate: None,
    }
}

fn for_customer(notice: &pb::Notice, target_id: &str, id_number: &str) -> pb::FileAppealRequest {
    pb::FileAppealRequest {
        appellant: Some(pb::file_appeal_request::Appellant::Customer(
            pb::AppellantIdentity {
                name: "Zhang San".into(),
                identity_number: id_number.into(),
                contact: "+86 138 0000 0000".into(),
            },
        )),
        // Art. 10: the customer's signed authorisation, kept by the addressee.
        mandate: Some(pb::CustomerMandate {
            document_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .into(),
            customer_contact: "+86 138 0000 0000".into(),
        }),
        ..by_party(notice, target_id)
    }
}

fn recorded(notice: &pb::Notice, target_id: &str, received_on: &str) -> pb::FileAppealRequest {
    pb::FileAppealRequest {
        appellant: Some(pb::file_appeal_request::Appellant::Recorded(
            pb::RecordedFiling {
                appellant: Some(pb::AppellantIdentity {
                    name: "Li Si".into(),
                    identity_number: String::new(),
                    contact: "Letter: 1 Example Road, Guangzhou".into(),
                }),
                channel: pb::AppealChannel::Paper as i32,
                received_on: Some(date(received_on)),
            },
        )),
        ..by_party(notice, target_id)
    }
}

async fn next(w: &mut tonic::Streaming<pb::AppealEvent>) -> pb::AppealEvent {
    tokio::time::timeout(Duration::from_secs(20), w.next())
        .await
        .expect("an appeal event arrives")
        .unwrap()
        .unwrap()
}

pub async fn file(
    client: &Client,
    req: pb::FileAppealRequest,
) -> Result<pb::Appeal, tonic::Status> {
    client
        .appeals()
        .file_appeal(req)
        .await
        .map(|r| r.into_inner().appeal.unwrap())
}

on_both_backends!(only_those_entitled_appeal_only_blocking_measures_once_at_a_time);

async fn only_those_entitled_appeal_only_blocking_measures_once_at_a_time(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (notice, targets) = blocking_notice(&app, "a-1").await;
    report_disposed(&app, &notice, &targets).await;
    let party = app.client("party-gd").await;

    // The affected party appeals the target inside its registered prefix.
    let appeal = file(&party, by_party(&notice, &targets[0])).await.unwrap();
    assert_eq!(appeal.state, pb::AppealState::Open as i32);
    assert_eq!(appeal.deciding_regulator_organisation_id, "miit");
    assert!(appeal.window_closes_on.is_some());
    // One open appeal per appellant and target.
    let err = file(&party, by_party(&notice, &targets[0]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err}");
    // Not its resource; not an affected party; not the addressee; not the deciding regulator.
    let refused = [
        file(&party, by_party(&notice, &targets[1]))
            .await
            .unwrap_err(),
        file(
            &app.client("vendor-bj").await,
            by_party(&notice, &targets[0]),
        )
        .await
        .unwrap_err(),
        file(
            &app.client("registrar-bj").await,
            for_customer(&notice, &targets[0], "440101199001011234"),
        )
        .await
        .unwrap_err(),
        file(
            &app.officer("gdca").await,
            recorded(&notice, &targets[0], &today(&app)),
        )
        .await
        .unwrap_err(),
    ];
    for err in refused {
        assert_eq!(err.code(), Code::PermissionDenied, "{err}");
        assert!(err.message().contains("Art. 10"), "{}", err.message());
    }
    // The addressee for its customer needs the identity number.
    let telecom = app.client("telecom-gd").await;
    let err = file(&telecom, for_customer(&notice, &targets[0], ""))
        .await
        .unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "customer.identity_number"
    );
    let customer = file(
        &telecom,
        for_customer(&notice, &targets[0], "440101199001011234"),
    )
    .await
    .unwrap();
    assert_eq!(
        customer.appellant.unwrap().identity_number,
        "440101199001011234"
    );
    // The deciding regulator records a paper appeal.
    let paper = file(
        &app.officer("miit").await,
        recorded(&notice, &targets[1], &today(&app)),
    )
    .await
    .unwrap();
    assert_eq!(
        paper.appellant_kind,
        pb::AppellantKind::RecordedByRegulator as i32
    );

    // The notice shows its open appeals; the affected party finds the measure on its prefix.
    let status = app
        .client("miit")
        .await
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
    assert_eq!(status.open_appeal_ids.len(), 3);
    let found = party
        .appeals()
        .list_measures_against(pb::ListMeasuresAgainstRequest {
            resource: Some(target(K::Ip, "58.60.1.0/24")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .measures;
    assert_eq!(found.len(), 1);
    assert!(found[0].appealable);
    assert!(!found[0].appeal_window_provisional);
    assert_eq!(found[0].open_appeal_id, appeal.id);
    let err = party
        .appeals()
        .list_measures_against(pb::ListMeasuresAgainstRequest {
            resource: Some(target(K::Ip, "58.60.2.2")),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Others see their own appeals only; the customer's identity stays with the filer.
    let party_list = party
        .appeals()
        .list_appeals(pb::ListAppealsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .appeals;
    assert_eq!(party_list.len(), 1);
    let err = party
        .appeals()
        .get_appeal(pb::GetAppealRequest {
            appeal_id: customer.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Withdrawn before the answer, then filed again.
    let withdrawn = party
        .appeals()
        .withdraw_appeal(pb::WithdrawAppealRequest {
            appeal_id: appeal.id.clone(),
            reason: "settled with the provider".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    assert_eq!(withdrawn.state, pb::AppealState::Withdrawn as i32);
    file(&party, by_party(&notice, &targets[0])).await.unwrap();

    // Only Art. 8(1) measures are appealable.
    let threat = verified_body(&app, &notice).threat_id;
    let mut cleanup = measure(
        pb::MeasureType::RemoveMalware,
        vec![target(K::System, "web server 58.60.1.1")],
    );
    cleanup.addressee_organisation_id = "telecom-gd".into();
    let other = app
        .officer("miit")
        .await
        .disposal()
        .issue_decision(decision("a-2", &threat, vec![cleanup]))
        .await
        .unwrap()
        .into_inner()
        .notices
        .remove(0);
    let other_target = verified_body(&app, &other).targets[0].target_id.clone();
    let err = file(
        &telecom,
        for_customer(&other, &other_target, "440101199001011234"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("Art. 10"), "{}", err.message());
}

fn today(app: &TestApp) -> String {
    app.clock
        .now()
        .with_timezone(&Shanghai)
        .date_naive()
        .to_string()
}

on_both_backends!(the_window_closes_ten_working_days_on_across_spring_festival_and_national_day);

async fn the_window_closes_ten_working_days_on_across_spring_festival_and_national_day(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // Spring Festival 2026: holidays 15-23 February, make-up days 14 and 28 February.
    app.clock.set(shanghai("2026-02-12", 10));
    let (notice, targets) = blocking_notice(&app, "sf").await;
    app.clock.set(shanghai("2026-02-12", 12));
    report_disposed(&app, &notice, &targets).await;
    app.clock.set(shanghai("2026-03-04", 23));
    let party = app.client("party-gd").await;
    let appeal = file(&party, by_party(&notice, &targets[0])).await.unwrap();
    assert_eq!(appeal.window_closes_on, Some(date("2026-03-04")));
    assert_eq!(appeal.filed_on, Some(date("2026-03-04")));
    // The 30th working day after 4 March 2026.
    assert_eq!(appeal.answer_due_on, Some(date("2026-04-16")));
    app.clock
        .set(shanghai("2026-03-05", 0) + chrono::Duration::minutes(30));
    let err = file(
        &app.client("telecom-gd").await,
        for_customer(&notice, &targets[0], "440101199001011234"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(
        err.message().contains("closed on 2026-03-04"),
        "{}",
        err.message()
    );

    // National Day 2026: holidays 25-27 September and 1-7 October, make-up 10 October.
    app.clock.set(shanghai("2026-09-21", 10));
    let (notice, targets) = blocking_notice(&app, "nd").await;
    // The first target is reported disposed on 22 September; the second first "not
    // disposed", then disposed on 23 September: its window counts from the 23rd.
    app.clock.set(shanghai("2026-09-22", 10));
    let telecom = app.client("telecom-gd").await;
    acknowledge(&telecom, &notice).await;
    let result = |target: &str, outcome: pb::DisposalOutcome| pb::ReportResultRequest {
        notice_id: notice.notice_id.clone(),
        results: vec![pb::TargetResult {
            target_id: target.into(),
            outcome: outcome as i32,
            reason: "customer line, awaiting the court order".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    for (target, outcome) in [
        (&targets[0], pb::DisposalOutcome::Disposed),
        (&targets[1], pb::DisposalOutcome::NotDisposed),
    ] {
        telecom
            .disposal()
            .report_result(result(target, outcome))
            .await
            .unwrap();
    }
    app.clock.set(shanghai("2026-09-23", 10));
    telecom
        .disposal()
        .report_result(result(&targets[1], pb::DisposalOutcome::Disposed))
        .await
        .unwrap();
    // Paper appeals, recorded late but filed on the day they were received.
    app.clock.set(shanghai("2026-10-20", 10));
    let miit = app.officer("miit").await;
    let paper = file(&miit, recorded(&notice, &targets[0], "2026-10-13"))
        .await
        .unwrap();
    assert_eq!(paper.window_closes_on, Some(date("2026-10-13")));
    assert_eq!(paper.filed_on, Some(date("2026-10-13")));
    let later = file(&miit, recorded(&notice, &targets[1], "2026-10-14"))
        .await
        .unwrap();
    assert_eq!(later.window_closes_on, Some(date("2026-10-14")));
    let mut other_person = recorded(&notice, &targets[0], "2026-10-14");
    if let Some(pb::file_appeal_request::Appellant::Recorded(r)) = other_person.appellant.as_mut() {
        r.appellant.as_mut().unwrap().name = "Wang Wu".into();
    }
    let err = file(&miit, other_person).await.unwrap_err();
    assert!(
        err.message().contains("closed on 2026-10-13"),
        "{}",
        err.message()
    );
}

on_both_backends!(a_revoking_answer_reaches_the_unit_which_reports_the_measure_lifted);

async fn a_revoking_answer_reaches_the_unit_which_reports_the_measure_lifted(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.clock.set(shanghai("2026-06-01", 10));
    let (notice, targets) = blocking_notice(&app, "rv").await;
    report_disposed(&app, &notice, &targets).await;
    let telecom = app.client("telecom-gd").await;
    let mut notices = telecom
        .disposal()
        .subscribe_notices(pb::SubscribeNoticesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let party = app.client("party-gd").await;
    let appeal = file(&party, by_party(&notice, &targets[0])).await.unwrap();
    let mut watch = party
        .appeals()
        .watch_appeal(pb::WatchAppealRequest {
            appeal_id: appeal.id.clone(),
            cursor: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        next(&mut watch).await.kind,
        pb::AppealEventKind::Filed as i32
    );

    let answer = |decision: pb::AppealDecision, measures: Vec<pb::DecisionMeasure>, id: &str| {
        pb::AnswerAppealRequest {
            appeal_id: id.into(),
            decision: decision as i32,
            reasons: "The customer proved the host was cleaned".into(),
            lift_time_limit: None,
            replacement_measures: measures,
        }
    };
    // Only the deciding regulator answers.
    let err = app
        .officer("gdca")
        .await
        .appeals()
        .answer_appeal(answer(pb::AppealDecision::Revoked, vec![], &appeal.id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    let answered = app
        .officer("miit")
        .await
        .appeals()
        .answer_appeal(answer(pb::AppealDecision::Revoked, vec![], &appeal.id))
        .await
        .unwrap()
        .into_inner();
    let revocation = answered.revocation.unwrap();
    let body = verified_body(&app, &revocation);
    assert_eq!(body.kind, pb::NoticeKind::Revocation as i32);
    assert_eq!(body.appeal_id, appeal.id);
    assert_eq!(body.targets.len(), 1);
    assert_eq!(
        next(&mut watch).await.kind,
        pb::AppealEventKind::Answered as i32
    );
    let err = app
        .officer("miit")
        .await
        .appeals()
        .answer_appeal(answer(pb::AppealDecision::Upheld, vec![], &appeal.id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    // The revocation reaches the unit, which lifts the block and reports it.
    loop {
        let d = tokio::time::timeout(Duration::from_secs(20), notices.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if d.notice.as_ref().unwrap().notice_id == revocation.notice_id {
            break;
        }
    }
    acknowledge(&telecom, &revocation).await;
    telecom
        .disposal()
        .report_lifted(pb::ReportLiftedRequest {
            notice_id: notice.notice_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        next(&mut watch).await.kind,
        pb::AppealEventKind::MeasureLifted as i32
    );

    // Modified: revocation plus a replacement notice with a window of its own.
    let customer = file(
        &telecom,
        for_customer(&notice, &targets[1], "440101199001011234"),
    )
    .await
    .unwrap();
    let mut narrower = measure(
        pb::MeasureType::StopServiceOrBlock,
        vec![target(K::Url, "http://58.60.2.2/panel")],
    );
    narrower.addressee_organisation_id = "telecom-gd".into();
    let modified = app
        .officer("miit")
        .await
        .appeals()
        .answer_appeal(answer(
            pb::AppealDecision::Modified,
            vec![narrower],
            &customer.id,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(modified.revocation.is_some());
    assert_eq!(modified.replacement_notices.len(), 1);
    let replacement = verified_body(&app, &modified.replacement_notices[0]);
    assert_eq!(replacement.replaces_notice_id, notice.notice_id);
    assert_eq!(replacement.appeal_id, customer.id);
    let found = telecom
        .appeals()
        .list_measures_against(pb::ListMeasuresAgainstRequest {
            resource: Some(target(K::Ip, "58.60.2.2")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .measures;
    // The original target is revoked (hidden without include_inactive); the replacement's
    // window is open and provisional until the unit reports.
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].notice_id,
        modified.replacement_notices[0].notice_id
    );
    assert!(found[0].appeal_window_provisional);
}

on_both_backends!(an_unanswered_appeal_is_reminded_then_flagged_overdue);

async fn an_unanswered_appeal_is_reminded_then_flagged_overdue(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.clock.set(shanghai("2026-09-14", 9));
    let (notice, targets) = blocking_notice(&app, "od").await;
    report_disposed(&app, &notice, &targets).await;
    let appeal = file(
        &app.client("party-gd").await,
        by_party(&notice, &targets[0]),
    )
    .await
    .unwrap();
    // Filed Mon 14 September 2026: the 30th working day is Fri 30 October.
    assert_eq!(appeal.answer_due_on, Some(date("2026-10-30")));
    let mut regulator_watch = app
        .client("miit")
        .await
        .appeals()
        .watch_appeal(pb::WatchAppealRequest {
            appeal_id: appeal.id.clone(),
            cursor: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut party_watch = app
        .client("party-gd")
        .await
        .appeals()
        .watch_appeal(pb::WatchAppealRequest {
            appeal_id: appeal.id.clone(),
            cursor: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    // 5 and 1 working days before the due date, then the day after it; the notice's own
    // timers fire on the way.
    for at in ["2026-10-23", "2026-10-29", "2026-10-31"] {
        app.clock
            .set(shanghai(at, 0) + chrono::Duration::minutes(1));
        app.drive_timers_until_idle().await;
    }
    let mut kinds = Vec::new();
    while kinds.len() < 4 {
        let e = tokio::time::timeout(Duration::from_secs(20), regulator_watch.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        kinds.push(pb::AppealEventKind::try_from(e.kind).unwrap());
    }
    use pb::AppealEventKind as E;
    assert_eq!(
        kinds,
        [
            E::Filed,
            E::AnswerReminder,
            E::AnswerReminder,
            E::AnswerOverdue
        ]
    );
    // The appellant sees the flag but not the reminders.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let e = tokio::time::timeout(Duration::from_secs(20), party_watch.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push(pb::AppealEventKind::try_from(e.kind).unwrap());
    }
    assert_eq!(seen, [E::Filed, E::AnswerOverdue]);
    let overdue = app
        .client("miit")
        .await
        .appeals()
        .list_appeals(pb::ListAppealsRequest {
            overdue_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .appeals;
    assert_eq!(overdue.len(), 1);
    assert!(overdue[0].overdue);
    // Still answerable, late.
    app.officer("miit")
        .await
        .appeals()
        .answer_appeal(pb::AnswerAppealRequest {
            appeal_id: appeal.id.clone(),
            decision: pb::AppealDecision::Upheld as i32,
            reasons: "The host still serves the botnet panel".into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Every disposal and appeal RPC refuses malformed input naming the field.
#[tokio::test]
async fn malformed_disposal_and_appeal_requests_are_refused_naming_the_field() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let (miit, cncert) = (app.officer("miit").await, app.officer("cncert").await);
    let (telecom, party) = (app.client("telecom-gd").await, app.client("party-gd").await);
    let id = uuid::Uuid::now_v7().to_string();
    let future = prost_types::Timestamp {
        seconds: app.clock.now().timestamp() + 3600,
        nanos: 0,
    };
    fn field<T: std::fmt::Debug>(r: Result<T, tonic::Status>) -> String {
        let err = r.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        err.get_details_bad_request().unwrap().field_violations[0]
            .field
            .clone()
    }
    let d = |c: &Client| c.disposal();
    let a = |c: &Client| c.appeals();
    let checks: Vec<(String, &str)> = vec![
        (
            field(
                d(&miit)
                    .get_notice(pb::GetNoticeRequest {
                        notice_id: "x".into(),
                    })
                    .await,
            ),
            "notice_id",
        ),
        (
            field(
                d(&miit)
                    .list_notices(pb::ListNoticesRequest {
                        kinds: vec![9],
                        ..Default::default()
                    })
                    .await,
            ),
            "kinds[0]",
        ),
        (
            field(
                d(&telecom)
                    .subscribe_notices(pb::SubscribeNoticesRequest {
                        cursor: "zzz".into(),
                    })
                    .await,
            ),
            "cursor",
        ),
        (
            field(
                d(&telecom)
                    .acknowledge_receipt(pb::AcknowledgeReceiptRequest {
                        notice_id: id.clone(),
                        body_sha256: vec![],
                    })
                    .await,
            ),
            "body_sha256",
        ),
        (
            field(
                d(&telecom)
                    .report_result(pb::ReportResultRequest {
                        notice_id: id.clone(),
                        ..Default::default()
                    })
                    .await,
            ),
            "results",
        ),
        (
            field(
                d(&cncert)
                    .verify_result(pb::VerifyResultRequest {
                        notice_id: id.clone(),
                        verifications: vec![],
                    })
                    .await,
            ),
            "verifications",
        ),
        (
            field(
                d(&miit)
                    .list_review_queue(pb::ListReviewQueueRequest {
                        threat_id: "x".into(),
                        ..Default::default()
                    })
                    .await,
            ),
            "threat_id",
        ),
        (
            field(
                d(&miit)
                    .revoke_notice(pb::RevokeNoticeRequest {
                        notice_id: id.clone(),
                        ..Default::default()
                    })
                    .await,
            ),
            "reason",
        ),
        (
            field(
                d(&telecom)
                    .report_lifted(pb::ReportLiftedRequest {
                        notice_id: id.clone(),
                        lifted_at: Some(future),
                        ..Default::default()
                    })
                    .await,
            ),
            "lifted_at",
        ),
        (
            field(
                d(&miit)
                    .record_offline_notification(pb::RecordOfflineNotificationRequest {
                        notice_id: id.clone(),
                        notification: None,
                    })
                    .await,
            ),
            "notification",
        ),
        (
            field(
                d(&miit)
                    .list_non_compliance(pb::ListNonComplianceRequest {
                        due_from: Some(date("2026-05-02")),
                        due_to: Some(date("2026-05-01")),
                        ..Default::default()
                    })
                    .await,
            ),
            "due_to",
        ),
        (
            field(
                d(&miit)
                    .get_compliance_summary(pb::GetComplianceSummaryRequest {
                        organisation_ids: vec!["nobody".into()],
                        ..Default::default()
                    })
                    .await,
            ),
            "organisation_ids[0]",
        ),
        (
            field(
                d(&miit)
                    .record_enforcement(pb::RecordEnforcementRequest::default())
                    .await,
            ),
            "enforcement",
        ),
        (
            field(
                a(&party)
                    .list_measures_against(pb::ListMeasuresAgainstRequest::default())
                    .await,
            ),
            "resource",
        ),
        (
            field(
                a(&party)
                    .file_appeal(pb::FileAppealRequest {
                        notice_id: id.clone(),
                        target_id: id.clone(),
                        ..Default::default()
                    })
                    .await,
            ),
            "grounds",
        ),
        (
            field(
                a(&party)
                    .get_appeal(pb::GetAppealRequest {
                        appeal_id: "x".into(),
                    })
                    .await,
            ),
            "appeal_id",
        ),
        (
            field(
                a(&party)
                    .list_appeals(pb::ListAppealsRequest {
                        states: vec![9],
                        ..Default::default()
                    })
                    .await,
            ),
            "states[0]",
        ),
        (
            field(
                a(&party)
                    .withdraw_appeal(pb::WithdrawAppealRequest {
                        appeal_id: "x".into(),
                        reason: String::new(),
                    })
                    .await,
            ),
            "appeal_id",
        ),
        (
            field(
                a(&miit)
                    .answer_appeal(pb::AnswerAppealRequest {
                        appeal_id: id.clone(),
                        ..Default::default()
                    })
                    .await,
            ),
            "decision",
        ),
        (
            field(
                a(&party)
                    .watch_appeal(pb::WatchAppealRequest {
                        appeal_id: String::new(),
                        cursor: "zzz".into(),
                    })
                    .await,
            ),
            "cursor",
        ),
    ];
    for (got, want) in checks {
        assert_eq!(got, want);
    }
}

on_both_backends!(
    an_appeal_filed_before_its_due_year_is_loaded_gets_its_due_date_and_reminders_when_the_year_loads
);

async fn an_appeal_filed_before_its_due_year_is_loaded_gets_its_due_date_and_reminders_when_the_year_loads(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // Filed Wed 2 December 2026: the 30th working day lies in 2027, not loaded yet.
    app.clock.set(shanghai("2026-12-02", 10));
    let (notice, targets) = blocking_notice(&app, "year-end").await;
    report_disposed(&app, &notice, &targets).await;
    let appeal = file(
        &app.client("party-gd").await,
        by_party(&notice, &targets[0]),
    )
    .await
    .unwrap();
    assert_eq!(appeal.answer_due_on, None);
    let miit = app.client("miit").await;
    let get = || {
        let mut appeals = miit.appeals();
        let id = appeal.id.clone();
        async move {
            appeals
                .get_appeal(pb::GetAppealRequest { appeal_id: id })
                .await
                .unwrap()
                .into_inner()
                .appeal
                .unwrap()
        }
    };
    assert_eq!(get().await.answer_due_on, None);
    let mut watch = miit
        .appeals()
        .watch_appeal(pb::WatchAppealRequest {
            appeal_id: appeal.id.clone(),
            cursor: String::new(),
        })
        .await
        .unwrap()
        .into_inner();

    let loaded = app
        .officer("miit")
        .await
        .calendar()
        .load_year(crate::calendar::year_2027(&[]))
        .await
        .unwrap()
        .into_inner();
    assert!(loaded.deadlines_scheduled >= 1, "{loaded:?}");
    // Dec 3–4, 7–11, 14–18, 21–25, 28–31 are 21; Jan 1 and Mon Jan 4 are off; Jan 5–8 and
    // the make-up Saturday Jan 9 make 26; Jan 11–14 make 30.
    let shown = get().await;
    assert_eq!(shown.answer_due_on, Some(date("2027-01-14")));
    let listed = miit
        .appeals()
        .list_appeals(pb::ListAppealsRequest {
            notice_id: notice.notice_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .appeals;
    assert_eq!(
        listed[0].answer_due_on,
        Some(date("2027-01-14")),
        "listed too"
    );

    // 5 working days before (Jan 8: Jan 13, 12, 11, Sat 9, 8), 1 before (Jan 13), then the
    // day after the due date; nothing fires a minute early.
    let mut fired = Vec::new();
    for at in ["2027-01-08", "2027-01-13", "2027-01-15"] {
        app.clock
            .set(shanghai(at, 0) - chrono::Duration::minutes(1));
        app.drive_timers_until_idle().await;
        app.clock
            .set(shanghai(at, 0) + chrono::Duration::minutes(1));
        app.drive_timers_until_idle().await;
        fired.push(app.clock.now());
    }
    use pb::AppealEventKind as E;
    let mut events = Vec::new();
    while events.len() < 5 {
        let e = tokio::time::timeout(Duration::from_secs(20), watch.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        events.push(e);
    }
    let kinds: Vec<E> = events
        .iter()
        .map(|e| E::try_from(e.kind).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            E::Filed,
            E::AnswerDueSet,
            E::AnswerReminder,
            E::AnswerReminder,
            E::AnswerOverdue
        ]
    );
    assert_eq!(
        events[1].appeal.as_ref().unwrap().answer_due_on,
        Some(date("2027-01-14"))
    );
    let at = |e: &pb::AppealEvent| {
        let t = e.occurred_at.unwrap();
        DateTime::from_timestamp(t.seconds, t.nanos as u32).unwrap()
    };
    assert_eq!(
        events[2..].iter().map(at).collect::<Vec<_>>(),
        fired,
        "each at the minute after its day began, none a minute before"
    );
    assert!(get().await.overdue);
}

/// Waits until `n` statements of the app's database wait for a lock (PostgreSQL's own view,
/// so the order of the waiters is known without sleeping for it).
async fn lock_waiters(app: &TestApp, n: i64) {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    for _ in 0..3000 {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE NOT l.granted AND a.datname = current_database()",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        if waiting >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} lock waiters never appeared");
}

/// FileAppeal reads the notice's targets before its transaction, then again under the
/// notice's lock. The test holds that lock itself, queues a revocation of the target behind
/// it and then the appeal, and lets go: the revocation commits between the appeal's first
/// read and its lock, and the appeal must see it there and be refused. Without the second
/// read, the appeal would be filed against a measure already revoked.
#[tokio::test]
async fn a_revocation_that_commits_while_an_appeal_is_being_filed_refuses_the_appeal() {
    use sqlx::Connection;
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    app.clock.set(shanghai("2026-06-01", 10));
    let (notice, targets) = blocking_notice(&app, "race").await;
    report_disposed(&app, &notice, &targets).await;

    let mut holder = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT id FROM notices WHERE id = $1 FOR UPDATE")
        .bind(&notice.notice_id)
        .execute(&mut holder)
        .await
        .unwrap();

    let miit = app.officer("miit").await;
    let revoke = {
        let notice_id = notice.notice_id.clone();
        let target_id = targets[0].clone();
        tokio::spawn(async move {
            miit.disposal()
                .revoke_notice(pb::RevokeNoticeRequest {
                    notice_id,
                    target_ids: vec![target_id],
                    reason: "the address was reassigned to a hospital".into(),
                    lift_time_limit: Some(pb::TimeLimit {
                        limit: Some(pb::time_limit::Limit::Hours(2)),
                    }),
                })
                .await
        })
    };
    lock_waiters(&app, 1).await;
    let party = app.client("party-gd").await;
    let filing = {
        let request = by_party(&notice, &targets[0]);
        tokio::spawn(async move { file(&party, request).await })
    };
    lock_waiters(&app, 2).await;
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();

    let revocation = revoke
        .await
        .unwrap()
        .expect("the revocation, first in the queue, commits")
        .into_inner()
        .revocation
        .unwrap();
    let err = filing
        .await
        .unwrap()
        .expect_err("an appeal against a measure revoked while it was filed");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(
        err.message().contains(&revocation.notice_id),
        "names the revocation: {err}"
    );
    let open = app
        .client("party-gd")
        .await
        .appeals()
        .list_appeals(pb::ListAppealsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .appeals;
    assert!(open.is_empty(), "no appeal was stored: {open:?}");
}
