use super::*;
use Document::*;
use Level::*;
use Step::*;

fn shipped(document: Document, level: Level, step: Step) -> Option<TimeLimit> {
    DeadlinePolicy::shipped().limit("national", TimerKey::new(document, level, step))
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn the_mechanism_gives_major_and_above_two_hours_to_report_and_four_to_feed_back() {
    for grade in [ParticularlySerious, Serious, Major] {
        let expected = [
            (Report, TimeLimit::Hours(2)),
            (Feedback, TimeLimit::Hours(4)),
            (Verification, TimeLimit::Hours(2)),
            (SelfVerification, TimeLimit::Hours(6)),
            (ResultReport, TimeLimit::Hours(2)),
        ];
        for (step, limit) in expected {
            assert_eq!(
                shipped(Mechanism2009, grade, step),
                Some(limit),
                "{grade} {step}"
            );
        }
        assert_eq!(shipped(Mechanism2009, grade, MonthlySummary), None);
    }
}

#[test]
fn the_mechanism_gives_general_events_working_days_and_a_monthly_summary() {
    let expected = [
        (Report, TimeLimit::WorkingDays(5)),
        (Notification, TimeLimit::WorkingDays(5)),
        (Feedback, TimeLimit::WorkingDays(5)),
        (Verification, TimeLimit::WorkingDays(5)),
        (SelfVerification, TimeLimit::WorkingDays(10)),
        (MonthlySummary, TimeLimit::NextMonthWorkingDays(10)),
    ];
    for (step, limit) in expected {
        assert_eq!(shipped(Mechanism2009, General, step), Some(limit), "{step}");
    }
}

#[test]
fn the_reporting_measures_give_2h_to_serious_and_red_orange_and_4h_to_major_and_yellow() {
    for level in [ParticularlySerious, Serious, Red, Orange] {
        assert_eq!(
            shipped(Reporting2009, level, Report),
            Some(TimeLimit::Hours(2)),
            "{level}"
        );
    }
    for level in [Major, Yellow] {
        assert_eq!(
            shipped(Reporting2009, level, Report),
            Some(TimeLimit::Hours(4)),
            "{level}"
        );
    }
    assert_eq!(
        shipped(Reporting2009, Blue, Report),
        Some(TimeLimit::WorkingDays(5))
    );
    assert_eq!(
        shipped(Reporting2009, General, Report),
        None,
        "general events go monthly"
    );
    assert_eq!(
        shipped(Reporting2009, General, MonthlySummary),
        Some(TimeLimit::NextMonthWorkingDays(5))
    );
    assert_eq!(
        shipped(Reporting2009, General, Bulletin),
        Some(TimeLimit::NextMonthWorkingDays(10))
    );
}

#[test]
fn the_two_documents_disagree_on_major_events_and_both_are_kept() {
    assert_eq!(
        shipped(Mechanism2009, Major, Report),
        Some(TimeLimit::Hours(2))
    );
    assert_eq!(
        shipped(Reporting2009, Major, Report),
        Some(TimeLimit::Hours(4))
    );
}

#[test]
fn receipt_is_one_hour_for_emergencies_and_major_and_above_and_one_working_day_otherwise() {
    let policy = DeadlinePolicy::shipped();
    for grade in [ParticularlySerious, Serious, Major] {
        assert_eq!(
            policy.receipt_limit("440000", grade, false),
            Some(TimeLimit::Hours(1))
        );
    }
    assert_eq!(
        policy.receipt_limit("440000", General, false),
        Some(TimeLimit::WorkingDays(1))
    );
    assert_eq!(
        policy.receipt_limit("440000", General, true),
        Some(TimeLimit::Hours(1))
    );
}

#[test]
fn a_province_overrides_one_entry_and_inherits_the_rest() {
    let policy = DeadlinePolicy::shipped_with(
        r#"
        [provinces."440000".mechanism_2009.general]
        feedback = "3wd"
        [platform.general]
        receipt = "4h"
        "#,
    )
    .unwrap();
    let key = TimerKey::new(Mechanism2009, General, Feedback);
    assert_eq!(policy.limit("440000", key), Some(TimeLimit::WorkingDays(3)));
    assert_eq!(policy.limit("110000", key), Some(TimeLimit::WorkingDays(5)));
    assert_eq!(
        policy.limit("440000", TimerKey::new(Mechanism2009, General, Report)),
        Some(TimeLimit::WorkingDays(5))
    );
    assert_eq!(
        policy.receipt_limit("110000", General, false),
        Some(TimeLimit::Hours(4))
    );
}

#[test]
fn a_policy_file_with_a_typo_is_refused_naming_the_entry() {
    let cases = [
        (
            "[mechanism_2009.general]\nfeedbak = \"5wd\"",
            "mechanism_2009.general.feedbak",
        ),
        (
            "[mechanism_2008.general]\nfeedback = \"5wd\"",
            "mechanism_2008",
        ),
        (
            "[mechanism_2009.grey]\nfeedback = \"5wd\"",
            "mechanism_2009.grey",
        ),
        (
            "[mechanism_2009.general]\nfeedback = \"5 days\"",
            "mechanism_2009.general.feedback",
        ),
        (
            "[mechanism_2009.general]\nfeedback = \"0wd\"",
            "mechanism_2009.general.feedback",
        ),
        (
            "[mechanism_2009.general]\nfeedback = 5",
            "mechanism_2009.general.feedback",
        ),
        (
            "[provinces.\"440001\".platform.general]\nreceipt = \"1h\"",
            "provinces.440001",
        ),
    ];
    for (text, path) in cases {
        let err = DeadlinePolicy::shipped_with(text).unwrap_err();
        assert!(err.to_string().starts_with(path), "{text}: {err}");
    }
    assert!(matches!(
        DeadlinePolicy::shipped_with("[x"),
        Err(PolicyError::Toml(_))
    ));
}

#[test]
fn limits_print_as_they_are_written() {
    for raw in ["2h", "5wd", "monthly 10wd"] {
        assert_eq!(raw.parse::<TimeLimit>().unwrap().to_string(), raw);
    }
    for raw in [
        "",
        "h",
        "wd",
        "-1h",
        "1.5h",
        "9000h",
        "1001wd",
        "monthly",
        "monthly 2h",
    ] {
        assert!(raw.parse::<TimeLimit>().is_err(), "{raw:?}");
    }
}

#[test]
fn an_hour_limit_is_calendar_hours_even_across_a_holiday() {
    let cal = WorkingCalendar::new();
    let due = TimeLimit::Hours(4)
        .due_at(utc("2024-02-10T22:30:00Z"), &cal)
        .unwrap();
    assert_eq!(due, utc("2024-02-11T02:30:00Z"));
}

#[test]
fn a_working_day_limit_counts_over_national_day_to_24_00_shanghai() {
    let cal = WorkingCalendar::embedded();
    // Sep 28 2023 (Shanghai): Sep 29 – Oct 6 off, Oct 7 and 8 make-up days.
    let due = TimeLimit::WorkingDays(5)
        .due_at(utc("2023-09-28T03:00:00Z"), &cal)
        .unwrap();
    assert_eq!(due, utc("2023-10-11T16:00:00Z"), "Oct 7, 8, 9, 10, 11");
}

#[test]
fn a_monthly_limit_counts_working_days_of_the_next_month() {
    let cal = WorkingCalendar::embedded();
    // September 2023's general events: Oct 1–6 off, so the 5th working day of October is Oct 11.
    let due = TimeLimit::NextMonthWorkingDays(5)
        .due_at(utc("2023-09-03T08:00:00Z"), &cal)
        .unwrap();
    assert_eq!(due, utc("2023-10-11T16:00:00Z"));
    // An event at 01:00 Shanghai on Oct 1 belongs to October, not September.
    let due = TimeLimit::NextMonthWorkingDays(10)
        .due_at(utc("2023-09-30T17:00:00Z"), &cal)
        .unwrap();
    assert_eq!(due, utc("2023-11-14T16:00:00Z"));
    // December's summary is due in January of the next year.
    let past = TimeLimit::NextMonthWorkingDays(5).due_at(utc("2026-12-10T00:00:00Z"), &cal);
    assert!(matches!(past, Err(CalendarError::PastLoadedYears { .. })));
}
