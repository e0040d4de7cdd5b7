//! CalendarService over mTLS: answers from the shipped years, refusals naming the field or the
//! date, and LoadYear (officer-only, audited, seen by every replica).

use fenghuo_client::pb;
use tonic::Code;
use tonic_types::StatusExt;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use fenghuo::store::calendar::ALERT_CALENDAR_ENDING;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};

on_both_backends!(
    the_calendar_answers_from_the_shipped_years_across_spring_festival,
    bad_dates_and_zero_working_days_are_refused_naming_the_field,
    dates_outside_the_loaded_years_fail_the_precondition_naming_the_date_and_the_years,
    a_loaded_year_is_persisted_audited_and_replaced_on_a_second_load,
    load_year_needs_an_officer_token_and_is_refused_to_units_and_provinces,
    load_year_takes_whole_holiday_periods_or_only_the_weekdays_off_with_one_meaning,
    the_end_of_the_loaded_years_is_warned_from_sixty_days_before_once_as_an_operator_alert,
);

pub fn date(s: &str) -> pb::Date {
    let d: chrono::NaiveDate = s.parse().unwrap();
    use chrono::Datelike;
    pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// A 2027 with the three fixed-date holidays, Monday Jan 4 off and Saturday Jan 9 worked
/// (made up: the real one is published late in 2026).
pub fn year_2027(extra_makeup: &[&str]) -> pb::LoadYearRequest {
    pb::LoadYearRequest {
        year: 2027,
        holidays: ["2027-01-01", "2027-01-04", "2027-05-01", "2027-10-01"]
            .map(date)
            .to_vec(),
        makeup_workdays: ["2027-01-09"]
            .iter()
            .chain(extra_makeup)
            .map(|d| date(d))
            .collect(),
    }
}

fn bad_field(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::InvalidArgument, "{status}");
    status
        .get_details_bad_request()
        .expect("BadRequest")
        .field_violations[0]
        .field
        .clone()
}

async fn the_calendar_answers_from_the_shipped_years_across_spring_festival(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut calendar = app.client("telecom-gd").await.calendar();
    for (day, expected) in [
        ("2024-02-18", true),  // make-up Sunday
        ("2024-02-12", false), // Spring Festival
        ("2020-01-31", false), // the 2020 extension
        ("2023-10-07", true),  // make-up Saturday after National Day
    ] {
        let got = calendar
            .is_working_day(pb::IsWorkingDayRequest {
                date: Some(date(day)),
            })
            .await
            .unwrap()
            .into_inner()
            .working_day;
        assert_eq!(got, expected, "{day}");
    }
    let added = calendar
        .add_working_days(pb::AddWorkingDaysRequest {
            from: Some(date("2024-02-06")),
            working_days: 10,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.date, Some(date("2024-02-26")));
    let deadline = added.deadline.unwrap();
    assert_eq!(
        chrono::DateTime::from_timestamp(deadline.seconds, 0).unwrap(),
        "2024-02-26T16:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        "24:00 Asia/Shanghai"
    );
    let between = calendar
        .working_days_between(pb::WorkingDaysBetweenRequest {
            from: Some(date("2023-09-20")),
            to: Some(date("2023-11-07")),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(between.working_days, 30, "across National Day 2023");
    let years = calendar
        .list_loaded_years(pb::ListLoadedYearsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(years.years, (2018..=2026).collect::<Vec<_>>());
    assert!(years.loaded_by_administrator.is_empty());
}

async fn bad_dates_and_zero_working_days_are_refused_naming_the_field(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut calendar = app.client("party-gd").await.calendar();
    let err = calendar
        .is_working_day(pb::IsWorkingDayRequest { date: None })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "date");
    for bad in [
        pb::Date {
            year: 2023,
            month: 2,
            day: 29,
        },
        pb::Date {
            year: 2024,
            month: 13,
            day: 1,
        },
        pb::Date {
            year: 2024,
            month: -1,
            day: 1,
        },
    ] {
        let err = calendar
            .is_working_day(pb::IsWorkingDayRequest { date: Some(bad) })
            .await
            .unwrap_err();
        assert_eq!(bad_field(&err), "date", "{bad:?}");
        assert!(err.message().contains("not a calendar date"), "{err}");
    }
    let err = calendar
        .add_working_days(pb::AddWorkingDaysRequest {
            from: Some(date("2024-03-04")),
            working_days: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "working_days");
    let err = calendar
        .working_days_between(pb::WorkingDaysBetweenRequest {
            from: Some(date("2024-03-05")),
            to: Some(date("2024-03-04")),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "to");
    let err = calendar
        .working_days_between(pb::WorkingDaysBetweenRequest {
            from: Some(date("2024-03-05")),
            to: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "to");
}

async fn dates_outside_the_loaded_years_fail_the_precondition_naming_the_date_and_the_years(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut calendar = app.client("cncert").await.calendar();
    let err = calendar
        .is_working_day(pb::IsWorkingDayRequest {
            date: Some(date("2027-01-04")),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(
        err.message().contains("2027-01-04") && err.message().contains("2018–2026"),
        "{err}"
    );
    let failure = err.get_details_precondition_failure().expect("details");
    assert_eq!(failure.violations[0].subject, "2027-01-04");
    let err = calendar
        .is_working_day(pb::IsWorkingDayRequest {
            date: Some(date("2017-12-29")),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "never a weekday guess"
    );
    let err = calendar
        .add_working_days(pb::AddWorkingDaysRequest {
            from: Some(date("2026-12-20")),
            working_days: 30,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("calendar of 2027"), "{err}");
    let failure = err.get_details_precondition_failure().expect("details");
    assert_eq!(failure.violations[0].subject, "2027-01-01");
}

async fn a_loaded_year_is_persisted_audited_and_replaced_on_a_second_load(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut admin = app.officer("miit").await.calendar();
    let loaded = admin.load_year(year_2027(&[])).await.unwrap().into_inner();
    assert_eq!((loaded.year, loaded.replaced), (2027, false));
    let mut unit = app.client("telecom-gd").await.calendar();
    let works = |d: &'static str| {
        let mut unit = unit.clone();
        async move {
            unit.is_working_day(pb::IsWorkingDayRequest {
                date: Some(date(d)),
            })
            .await
            .unwrap()
            .into_inner()
            .working_day
        }
    };
    assert!(!works("2027-01-04").await, "a loaded holiday");
    assert!(works("2027-01-09").await, "a loaded make-up Saturday");
    assert!(!works("2027-01-16").await, "an ordinary Saturday");
    assert!(works("2027-01-05").await);

    // The second load replaces the first: Saturday Jan 16 becomes a make-up day.
    let again = admin
        .load_year(year_2027(&["2027-01-16"]))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replaced);
    assert!(works("2027-01-16").await);
    let years = unit
        .list_loaded_years(pb::ListLoadedYearsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(years.years, (2018..=2027).collect::<Vec<_>>());
    assert_eq!(years.loaded_by_administrator, vec![2027]);

    let audit = app
        .client("miit")
        .await
        .audit()
        .query_audit(pb::QueryAuditRequest {
            subject: "calendar:2027".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].action, "calendar.load_year");
    assert_eq!(audit[1].officer, "duty-officer");
    assert!(
        audit[1].details_json.contains("\"replaced\":true"),
        "{}",
        audit[1].details_json
    );

    // Loading an embedded year replaces it too (a late State Council correction).
    let mut y2026 = year_2027(&[]);
    y2026.year = 2026;
    y2026.holidays = ["2026-01-01", "2026-05-01", "2026-10-01"]
        .map(date)
        .to_vec();
    y2026.makeup_workdays.clear();
    assert!(admin.load_year(y2026).await.unwrap().into_inner().replaced);

    if backend == Backend::Postgres {
        // Another replica reads the same years: nothing cached to go stale.
        let replica = app.spawn_replica().await;
        let mut there = replica.client("vendor-bj").await.calendar();
        let got = there
            .is_working_day(pb::IsWorkingDayRequest {
                date: Some(date("2027-01-16")),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(got.working_day);
        replica.stop().await;
    }
}

async fn load_year_needs_an_officer_token_and_is_refused_to_units_and_provinces(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let err = app
        .client("miit")
        .await
        .calendar()
        .load_year(year_2027(&[]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    for org in ["telecom-gd", "gdca", "cncert"] {
        let err = app
            .officer(org)
            .await
            .calendar()
            .load_year(year_2027(&[]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{org}: {err}");
    }
    let mut admin = app.officer("miit").await.calendar();
    let err = admin
        .load_year(year_2027(&["2027-01-06"]))
        .await
        .unwrap_err();
    assert_eq!(
        bad_field(&err),
        "makeup_workdays",
        "a Wednesday is no make-up day"
    );
    let mut truncated = year_2027(&[]);
    truncated.holidays.retain(|d| d.month != 10);
    let err = admin.load_year(truncated).await.unwrap_err();
    assert_eq!(bad_field(&err), "holidays");
    let mut wrong_year = year_2027(&[]);
    wrong_year.holidays.push(date("2026-12-31"));
    let err = admin.load_year(wrong_year).await.unwrap_err();
    assert_eq!(bad_field(&err), "holidays");
    let mut bad_date = year_2027(&[]);
    bad_date.holidays.push(pb::Date {
        year: 2027,
        month: 2,
        day: 30,
    });
    let err = admin.load_year(bad_date).await.unwrap_err();
    assert_eq!(bad_field(&err), "holidays[4]");
    let years = admin
        .list_loaded_years(pb::ListLoadedYearsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        years.loaded_by_administrator.is_empty(),
        "nothing refused was stored"
    );
}

async fn load_year_takes_whole_holiday_periods_or_only_the_weekdays_off_with_one_meaning(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut admin = app.officer("miit").await.calendar();
    // Labour Day 2027 (made up): Sat May 1 to Wed May 5 off, Sat May 8 worked. Typed the way
    // the proto once described, weekdays only, Saturday May 1 is absent.
    let weekdays = pb::LoadYearRequest {
        year: 2027,
        holidays: [
            "2027-01-01",
            "2027-05-03",
            "2027-05-04",
            "2027-05-05",
            "2027-10-01",
        ]
        .map(date)
        .to_vec(),
        makeup_workdays: vec![date("2027-05-08")],
    };
    let loaded = admin
        .load_year(weekdays.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!((loaded.year, loaded.replaced), (2027, false));
    let unit = app.client("telecom-gd").await.calendar();
    let answers = || {
        let mut unit = unit.clone();
        async move {
            let mut out = Vec::new();
            for day in [
                "2027-04-30",
                "2027-05-01",
                "2027-05-02",
                "2027-05-03",
                "2027-05-06",
                "2027-05-08",
            ] {
                out.push(
                    unit.is_working_day(pb::IsWorkingDayRequest {
                        date: Some(date(day)),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .working_day,
                );
            }
            out
        }
    };
    let expected = [true, false, false, false, true, true];
    assert_eq!(answers().await, expected);
    // The notice's way, the whole period with its weekend: the same calendar.
    let mut periods = weekdays.clone();
    periods
        .holidays
        .extend(["2027-05-01", "2027-05-02"].map(date));
    assert!(
        admin
            .load_year(periods)
            .await
            .unwrap()
            .into_inner()
            .replaced
    );
    assert_eq!(answers().await, expected);
    // A statutory day on a weekday is still required: Friday October 1.
    let mut truncated = weekdays;
    truncated.holidays.retain(|d| d.month != 10);
    let err = admin.load_year(truncated).await.unwrap_err();
    assert_eq!(bad_field(&err), "holidays");
    assert!(err.message().contains("2027-10-01 (Fri)"), "{err}");
}

/// 10:00 Asia/Shanghai on a date.
fn shanghai(day: &str) -> DateTime<Utc> {
    let d: chrono::NaiveDate = day.parse().unwrap();
    Shanghai
        .from_local_datetime(&d.and_hms_opt(10, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

async fn ending_alerts(app: &TestApp) -> Vec<fenghuo::store::timers::AlertRow> {
    let all: Vec<fenghuo::store::timers::AlertRow> = sqlx::query_as(
        "SELECT id, raised_at, kind, subject, message, resolved_at FROM operator_alerts \
         WHERE kind = $1 ORDER BY raised_at",
    )
    .bind(ALERT_CALENDAR_ENDING)
    .fetch_all(app.application().store().pool())
    .await
    .unwrap();
    all
}

async fn the_end_of_the_loaded_years_is_warned_from_sixty_days_before_once_as_an_operator_alert(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    // The start-up check ran at the real date; start over from 31 October 2026, 61 days out.
    sqlx::query("DELETE FROM operator_alerts")
        .execute(app.application().store().pool())
        .await
        .unwrap();
    let stopped = app.stopped().await;
    stopped.clock().set(shanghai("2026-10-31"));
    let app = stopped.restart().await;
    let calendar = app.client("telecom-gd").await.calendar();
    let years = || {
        let mut calendar = calendar.clone();
        async move {
            calendar
                .list_loaded_years(pb::ListLoadedYearsRequest {})
                .await
                .unwrap()
                .into_inner()
        }
    };
    let early = years().await;
    assert_eq!(early.last_day, Some(date("2026-12-31")));
    assert_eq!((early.days_left, early.warning.as_str()), (61, ""));
    app.drive_timers_until_idle().await;
    assert!(ending_alerts(&app).await.is_empty(), "61 days out");

    // From 1 November, 60 days out: the warning, and one alert however many days pass.
    app.clock.set(shanghai("2026-11-01"));
    let warned = years().await;
    assert_eq!(warned.days_left, 60);
    assert!(
        warned.warning.contains("ends on 2026-12-31")
            && warned.warning.contains("calendar of 2027"),
        "{}",
        warned.warning
    );
    app.drive_timers_until_idle().await;
    let alerts = ending_alerts(&app).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].subject, "calendar:2027");
    assert_eq!(
        alerts[0].raised_at,
        shanghai("2026-11-01").timestamp_micros()
    );
    assert!(
        alerts[0].message.contains("calendar of 2027"),
        "{}",
        alerts[0].message
    );
    for day in ["2026-11-02", "2026-12-02"] {
        app.clock.set(shanghai(day));
        app.drive_timers_until_idle().await;
    }
    let stopped = app.stopped().await;
    stopped.clock().set(shanghai("2026-12-03"));
    let app = stopped.restart().await;
    app.drive_timers_until_idle().await;
    assert_eq!(ending_alerts(&app).await.len(), 1, "raised once for 2027");

    // Loading 2027 resolves it; the next one is for 2028, from 1 November 2027.
    app.officer("miit")
        .await
        .calendar()
        .load_year(year_2027(&[]))
        .await
        .unwrap();
    let alerts = ending_alerts(&app).await;
    assert!(alerts[0].resolved_at.is_some());
    let mut calendar = app.client("telecom-gd").await.calendar();
    let after = calendar
        .list_loaded_years(pb::ListLoadedYearsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (after.days_left, after.warning.as_str()),
        (393, ""),
        "from 2026-12-03"
    );
    app.clock.set(shanghai("2027-11-01"));
    app.drive_timers_until_idle().await;
    let alerts = ending_alerts(&app).await;
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[1].subject, "calendar:2028");
    assert_eq!(alerts[1].resolved_at, None);
}
