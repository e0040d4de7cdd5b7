//! The professional institution's own timed steps (2009 mechanism Art. 8(3), 9(5)): tasks
//! created by a confirmation, flagged overdue by a durable timer, completed with a note or by
//! a disposal decision, over mTLS on both backends.

use chrono::Duration;
use fenghuo::domain::clock::Clock;
use fenghuo_client::pb;
use tonic::Code;

use crate::disposal::{confirmed_threat, decision, measure, target};
use crate::on_both_backends;
use crate::reporting_deadlines::{pb_ts, shanghai};
use crate::support::{Backend, TestApp, spawn_app};

async fn tasks(app: &TestApp, org: &str) -> Result<Vec<pb::InstitutionTask>, tonic::Status> {
    Ok(app
        .client(org)
        .await
        .identification()
        .list_institution_tasks(pb::ListInstitutionTasksRequest::default())
        .await?
        .into_inner()
        .tasks)
}

on_both_backends!(a_major_events_report_to_miit_goes_overdue_two_hours_after_identification_and_is_completed_with_a_note);

async fn a_major_events_report_to_miit_goes_overdue_two_hours_after_identification_and_is_completed_with_a_note(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.clock.set(shanghai("2026-03-05", 10));
    let identified = app.clock.now();
    let threat = confirmed_threat(&app, pb::EventGrade::Major).await;
    let listed = tasks(&app, "cncert").await.unwrap();
    assert_eq!(listed.len(), 1);
    let task = &listed[0];
    assert_eq!(task.kind, pb::InstitutionTaskKind::ReportToMiit as i32);
    assert_eq!(task.threat_id, threat);
    assert_eq!(task.deadline_key, "mechanism_2009.major.institution_report");
    assert_eq!(task.due_at, Some(pb_ts(identified + Duration::hours(2))));
    assert!(!task.overdue && task.done_at.is_none());

    // Not before its due instant; at it, the timer flags it overdue.
    app.clock
        .set(identified + Duration::hours(2) - Duration::seconds(1));
    app.drive_timers_until_idle().await;
    assert!(!tasks(&app, "cncert").await.unwrap()[0].overdue);
    app.clock.set(identified + Duration::hours(2));
    app.drive_timers_until_idle().await;
    assert!(tasks(&app, "cncert").await.unwrap()[0].overdue);
    // Regulators see it; units may not list tasks; another institution sees none of it.
    assert!(tasks(&app, "miit").await.unwrap()[0].overdue);
    assert_eq!(
        tasks(&app, "telecom-gd").await.unwrap_err().code(),
        Code::PermissionDenied
    );
    app.add_organisation("caict", pb::Role::Institution, "national", "")
        .await;
    assert!(tasks(&app, "caict").await.unwrap().is_empty());

    // Completed late, with a note: done, and still flagged overdue.
    let complete = |note: &str| pb::CompleteInstitutionTaskRequest {
        task_id: task.id.clone(),
        note: note.into(),
    };
    let done = app
        .officer("cncert")
        .await
        .identification()
        .complete_institution_task(complete("Reported to MIIT by phone, file 2026-17"))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert!(done.overdue && done.done_at.is_some());
    assert_eq!(done.done_note, "Reported to MIIT by phone, file 2026-17");
    // Done is final; the same completion again answers as before.
    let again = app
        .officer("cncert")
        .await
        .identification()
        .complete_institution_task(complete("Reported to MIIT by phone, file 2026-17"))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(again, done);
    let other = app
        .officer("cncert")
        .await
        .identification()
        .complete_institution_task(complete("something else"))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::FailedPrecondition);
    let empty = app
        .officer("cncert")
        .await
        .identification()
        .complete_institution_task(complete(" "))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
}

on_both_backends!(a_general_events_notification_task_is_completed_by_the_disposal_decision_and_the_monthly_summary_waits);

async fn a_general_events_notification_task_is_completed_by_the_disposal_decision_and_the_monthly_summary_waits(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // Thursday 5 March 2026: 5 working days end with Thursday 12 March; the monthly
    // summary is due within the first 10 working days of April (4-6 April Qingming):
    // 1-3, 7-10, 13-15 April.
    app.clock.set(shanghai("2026-03-05", 10));
    let threat = confirmed_threat(&app, pb::EventGrade::General).await;
    let listed = tasks(&app, "cncert").await.unwrap();
    let kinds: Vec<i32> = listed.iter().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        [
            pb::InstitutionTaskKind::NotifyUnits as i32,
            pb::InstitutionTaskKind::MonthlySummary as i32
        ]
    );
    let (notify, summary) = (&listed[0], &listed[1]);
    assert_eq!(notify.due_at, Some(pb_ts(shanghai("2026-03-13", 0))));
    assert_eq!(
        (summary.month.as_str(), summary.threat_id.as_str()),
        ("2026-03", "")
    );
    assert_eq!(summary.due_at, Some(pb_ts(shanghai("2026-04-16", 0))));

    // The regulator's decision notifies the units: the task is done, on time.
    app.officer("miit")
        .await
        .disposal()
        .issue_decision(decision(
            "notify-1",
            &threat,
            vec![measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![target(pb::MeasureTargetKind::Ip, "58.60.1.1")],
            )],
        ))
        .await
        .unwrap();
    app.clock.set(shanghai("2026-03-13", 0));
    app.drive_timers_until_idle().await;
    let listed = tasks(&app, "cncert").await.unwrap();
    assert!(listed[0].done_at.is_some() && !listed[0].overdue);
    assert!(listed[0].done_by.starts_with("decision:"));
    // The summary is open and not yet due.
    assert!(listed[1].done_at.is_none() && !listed[1].overdue);
}

on_both_backends!(a_monthly_summary_due_in_a_year_not_loaded_gets_its_due_date_when_the_year_loads);

async fn a_monthly_summary_due_in_a_year_not_loaded_gets_its_due_date_when_the_year_loads(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // Wednesday 2 December 2026: the units are notified by Wednesday 9 December; the summary
    // of December is due in January 2027, not loaded yet.
    app.clock.set(shanghai("2026-12-02", 10));
    confirmed_threat(&app, pb::EventGrade::General).await;
    let listed = tasks(&app, "cncert").await.unwrap();
    assert_eq!(listed[0].due_at, Some(pb_ts(shanghai("2026-12-10", 0))));
    assert_eq!(
        (listed[1].month.as_str(), listed[1].due_at),
        ("2026-12", None)
    );

    app.officer("miit")
        .await
        .calendar()
        .load_year(crate::calendar::year_2027(&[]))
        .await
        .unwrap();
    // 1 and 4 January off, Saturday 9 January a make-up day: 5-9, 11-15 January.
    let listed = tasks(&app, "cncert").await.unwrap();
    assert_eq!(listed[1].due_at, Some(pb_ts(shanghai("2027-01-16", 0))));
    app.clock.set(shanghai("2027-01-16", 0));
    app.drive_timers_until_idle().await;
    let listed = tasks(&app, "cncert").await.unwrap();
    assert!(listed[0].overdue && listed[1].overdue);
}
