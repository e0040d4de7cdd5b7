//! Reporting deadlines (reporting measures Art. 13; 2009 mechanism Art. 8(2)) and late
//! reports in the units' compliance figures, over mTLS on both backends.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use fenghuo::domain::clock::Clock;
use fenghuo::domain::policy::DeadlinePolicy;
use fenghuo::timers::TimerHandlers;
use fenghuo_client::pb;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app, spawn_app_configured};
use crate::threats::{ip, report};

pub fn shanghai(date: &str, hour: u32) -> DateTime<Utc> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    Shanghai
        .from_local_datetime(&d.and_hms_opt(hour, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

pub fn pb_ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    }
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_opt(t.timestamp(), 0).unwrap()
}

fn date(t: DateTime<Utc>) -> pb::Date {
    use chrono::Datelike;
    let d = t.with_timezone(&Shanghai).date_naive();
    pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// An event report of `grade` about `addr`, discovered at `discovered`.
fn event(
    app: &TestApp,
    grade: pb::EventGrade,
    addr: &str,
    discovered: DateTime<Utc>,
) -> pb::ThreatReport {
    let mut r = report(app, pb::Tlp::Green, ip(addr));
    r.discovered_at = Some(pb_ts(discovered));
    if let Some(pb::threat_report::Information::Event(e)) = r.information.as_mut() {
        e.grade = grade as i32;
    }
    r
}

fn warning(
    app: &TestApp,
    colour: pb::WarningColour,
    addr: &str,
    discovered: DateTime<Utc>,
) -> pb::ThreatReport {
    let mut r = report(app, pb::Tlp::Green, ip(addr));
    r.discovered_at = Some(pb_ts(discovered));
    r.information = Some(pb::threat_report::Information::Warning(
        pb::WarningInformation {
            colour: colour as i32,
            description: "A botnet control server".into(),
            possible_harm_and_degree: "Low".into(),
            affected_users_and_scope: "A few hosts".into(),
            already_known_to: "none".into(),
            recommended_countermeasures: "Block it".into(),
        },
    ));
    r
}

/// Submits as vendor-bj and returns the reporter's view of its sighting.
async fn sighting(app: &TestApp, id: &str, r: pb::ThreatReport) -> pb::Sighting {
    let vendor = app.client("vendor-bj").await;
    let ack = vendor.unit().submit(id, r).await.unwrap();
    let threat = vendor.threat(&ack.threat_id).await.unwrap();
    threat
        .sightings
        .into_iter()
        .find(|s| s.id == ack.sighting_id)
        .unwrap()
}

fn due(s: &pb::Sighting) -> Option<DateTime<Utc>> {
    s.report_due
        .as_ref()
        .map(|t| Utc.timestamp_opt(t.seconds, 0).unwrap())
}

on_both_backends!(
    a_serious_event_is_due_two_hours_after_discovery_and_a_report_at_that_instant_is_late
);

async fn a_serious_event_is_due_two_hours_after_discovery_and_a_report_at_that_instant_is_late(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.clock.set(shanghai("2026-03-05", 10));
    let now = app.clock.now();

    let prompt = sighting(
        &app,
        "s-1",
        event(
            &app,
            pb::EventGrade::Serious,
            "45.33.32.156",
            now - Duration::minutes(30),
        ),
    )
    .await;
    assert_eq!(due(&prompt), Some(now + Duration::minutes(90)));
    assert!(!prompt.reported_late);
    assert_eq!(prompt.report_deadline, "reporting_2009.serious.report");

    // Received exactly 2 h after discovery: the deadline is met strictly before it.
    let late = sighting(
        &app,
        "s-2",
        event(
            &app,
            pb::EventGrade::Serious,
            "45.33.32.157",
            now - Duration::hours(2),
        ),
    )
    .await;
    assert_eq!(due(&late), Some(now));
    assert!(late.reported_late);

    // A follow-up (reporting measures Art. 16) has no deadline of its own.
    let mut follow_up = event(
        &app,
        pb::EventGrade::Serious,
        "45.33.32.156",
        now - Duration::hours(5),
    );
    follow_up.follows_up_threat_id = prompt.threat_id.clone();
    follow_up.category = None;
    let follow_up = sighting(&app, "s-3", follow_up).await;
    assert_eq!((due(&follow_up), follow_up.reported_late), (None, false));
    assert_eq!(follow_up.report_deadline, "");

    // Regulators see the same deadline on the report.
    let seen = app
        .client("miit")
        .await
        .threat(&late.threat_id)
        .await
        .unwrap();
    assert!(seen.sightings[0].reported_late);
}

on_both_backends!(
    a_major_event_is_due_in_four_hours_by_default_and_in_two_under_the_mechanism_profile
);

async fn a_major_event_is_due_in_four_hours_by_default_and_in_two_under_the_mechanism_profile(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let discovered = whole_seconds(app.clock.now() - Duration::hours(3));
    let by_default = sighting(
        &app,
        "m-1",
        event(&app, pb::EventGrade::Major, "45.33.32.156", discovered),
    )
    .await;
    assert_eq!(due(&by_default), Some(discovered + Duration::hours(4)));
    assert_eq!(by_default.report_deadline, "reporting_2009.major.report");
    assert!(!by_default.reported_late);
    app.stop().await;

    let Some(app) = spawn_app_configured(
        backend,
        TimerHandlers::new(),
        Arc::new(|s| {
            s.policy =
                DeadlinePolicy::shipped_with("reporting_profile = \"mechanism_2009\"").unwrap();
        }),
    )
    .await
    else {
        return;
    };
    let discovered = whole_seconds(app.clock.now() - Duration::hours(3));
    let mechanism = sighting(
        &app,
        "m-1",
        event(&app, pb::EventGrade::Major, "45.33.32.156", discovered),
    )
    .await;
    assert_eq!(due(&mechanism), Some(discovered + Duration::hours(2)));
    assert_eq!(mechanism.report_deadline, "mechanism_2009.major.report");
    assert!(mechanism.reported_late);
}

on_both_backends!(
    a_blue_warning_is_due_on_the_fifth_working_day_and_a_general_event_in_the_next_months_summary
);

async fn a_blue_warning_is_due_on_the_fifth_working_day_and_a_general_event_in_the_next_months_summary(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // Discovered Wednesday 30 September 2026; 1-7 October is the National Day holiday and
    // Saturday 10 October a make-up working day: 8, 9, 10, 12, 13 October.
    app.clock.set(shanghai("2026-09-30", 12));
    let blue = sighting(
        &app,
        "w-1",
        warning(
            &app,
            pb::WarningColour::Blue,
            "45.33.32.156",
            shanghai("2026-09-30", 10),
        ),
    )
    .await;
    assert_eq!(due(&blue), Some(shanghai("2026-10-14", 0)));
    assert_eq!(blue.report_deadline, "reporting_2009.blue.report");

    // A general event of November goes into the monthly summary, due within the first
    // 5 working days of December: 1-4 and 7 December.
    app.clock.set(shanghai("2026-11-10", 12));
    let general = sighting(
        &app,
        "g-1",
        event(
            &app,
            pb::EventGrade::General,
            "45.33.32.157",
            shanghai("2026-11-10", 9),
        ),
    )
    .await;
    assert_eq!(due(&general), Some(shanghai("2026-12-08", 0)));
    assert_eq!(
        general.report_deadline,
        "reporting_2009.general.monthly_summary"
    );

    // One of December is due in January 2027, a year not loaded: no deadline, still stored.
    app.clock.set(shanghai("2026-12-10", 12));
    let pending = sighting(
        &app,
        "g-2",
        event(
            &app,
            pb::EventGrade::General,
            "45.33.32.158",
            shanghai("2026-12-10", 9),
        ),
    )
    .await;
    assert_eq!((due(&pending), pending.reported_late), (None, false));
    assert_eq!(
        pending.report_deadline,
        "reporting_2009.general.monthly_summary"
    );
}

on_both_backends!(a_late_report_counts_in_the_reporting_units_compliance_summary);

async fn a_late_report_counts_in_the_reporting_units_compliance_summary(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.clock.set(shanghai("2026-03-05", 10));
    let now = app.clock.now();
    sighting(
        &app,
        "k-1",
        event(
            &app,
            pb::EventGrade::Serious,
            "45.33.32.156",
            now - Duration::hours(3),
        ),
    )
    .await;
    sighting(
        &app,
        "k-2",
        event(
            &app,
            pb::EventGrade::Serious,
            "45.33.32.157",
            now - Duration::minutes(10),
        ),
    )
    .await;

    let request = |orgs: Vec<String>| pb::GetComplianceSummaryRequest {
        organisation_ids: orgs,
        due_from: Some(date(now)),
        due_to: Some(date(now)),
        ..Default::default()
    };
    // The national regulator lists the reporter among the units without naming it.
    let listed = app
        .client("miit")
        .await
        .disposal()
        .get_compliance_summary(request(vec![]))
        .await
        .unwrap()
        .into_inner()
        .units;
    let vendor = listed
        .iter()
        .find(|u| u.organisation_id == "vendor-bj")
        .unwrap();
    let reports = vendor.reports.unwrap();
    assert_eq!(
        (reports.due, reports.on_time, reports.late, reports.missing),
        (2, 1, 1, 0)
    );
    assert!((reports.on_time_rate - 0.5).abs() < 1e-9);

    // The unit sees its own lateness.
    let own = app
        .client("vendor-bj")
        .await
        .disposal()
        .get_compliance_summary(request(vec![]))
        .await
        .unwrap()
        .into_inner()
        .units;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].reports.unwrap().late, 1);

    // Another range: nothing due then.
    let mut earlier = request(vec!["vendor-bj".into()]);
    earlier.due_from = Some(date(now - Duration::days(10)));
    earlier.due_to = Some(date(now - Duration::days(9)));
    let none = app
        .client("miit")
        .await
        .disposal()
        .get_compliance_summary(earlier)
        .await
        .unwrap()
        .into_inner()
        .units;
    assert_eq!(none[0].reports.unwrap().due, 0);
}
