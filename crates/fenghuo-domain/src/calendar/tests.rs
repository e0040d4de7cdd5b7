//! The calendar's unit tests: the shipped years, the counting rule, loading and validation.

use super::year::is_weekend;
use super::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn works(s: &str) -> bool {
    WorkingCalendar::embedded().is_working_day(d(s)).unwrap()
}

/// A made-up 2027 with only the fixed-date holidays, for loading tests.
const Y2027: &str = r#"{"year": 2027, "holidays": ["2027-01-01", "2027-05-01", "2027-10-01"], "makeup_workdays": []}"#;

#[test]
fn the_embedded_calendar_covers_2018_through_2026() {
    assert_eq!(
        WorkingCalendar::embedded().loaded_years(),
        (2018..=2026).collect::<Vec<_>>()
    );
}

#[test]
fn spring_festival_2024_is_off_and_its_makeup_sundays_feb_4_and_feb_18_are_working_days() {
    assert_eq!(
        [d("2024-02-04").weekday(), d("2024-02-18").weekday()],
        [Weekday::Sun; 2]
    );
    assert!(works("2024-02-04") && works("2024-02-18"));
    for day in d("2024-02-10").iter_days().take(8) {
        assert!(
            !works(&day.to_string()),
            "{day} is in the Spring Festival holiday"
        );
    }
    assert!(works("2024-02-09") && works("2024-02-19"));
    assert!(!works("2024-02-24"), "an ordinary Saturday stays off");
}

#[test]
fn labour_day_2025_is_may_1_to_5_with_sunday_april_27_worked() {
    assert_eq!(d("2025-04-27").weekday(), Weekday::Sun);
    assert!(works("2025-04-27"));
    for day in ["2025-05-01", "2025-05-02", "2025-05-05"] {
        assert!(!works(day), "{day}");
    }
    assert!(works("2025-05-06"));
}

#[test]
fn national_day_2023_joins_mid_autumn_and_is_followed_by_makeup_saturday_and_sunday() {
    for day in d("2023-09-29").iter_days().take(8) {
        assert!(
            !works(&day.to_string()),
            "{day} is in the Mid-Autumn/National Day holiday"
        );
    }
    assert_eq!(d("2023-10-07").weekday(), Weekday::Sat);
    assert!(works("2023-10-07") && works("2023-10-08"));
}

#[test]
fn the_2020_spring_festival_extension_to_february_2_counts() {
    assert!(
        !works("2020-01-31"),
        "the extension made Friday Jan 31 a holiday"
    );
    let cal = WorkingCalendar::embedded();
    assert!(
        cal.year(2020)
            .unwrap()
            .holidays()
            .contains(&d("2020-02-02"))
    );
    assert!(works("2020-02-03"));
    assert_eq!(
        cal.add_working_days(d("2020-01-23"), 5).unwrap(),
        d("2020-02-07")
    );
}

#[test]
fn a_ten_working_day_appeal_window_spans_spring_festival_2024() {
    // Feb 7, 8, 9, (10–17 off), 18 makeup, 19–23, (24–25 weekend), 26.
    let cal = WorkingCalendar::embedded();
    assert_eq!(
        cal.add_working_days(d("2024-02-06"), 10).unwrap(),
        d("2024-02-26")
    );
}

#[test]
fn a_thirty_working_day_answer_spans_national_day_2023() {
    let cal = WorkingCalendar::embedded();
    assert_eq!(
        cal.add_working_days(d("2023-09-20"), 30).unwrap(),
        d("2023-11-07")
    );
    assert_eq!(
        cal.add_working_days(d("2023-09-28"), 1).unwrap(),
        d("2023-10-07")
    );
}

#[test]
fn counting_starts_the_day_after_the_event_even_when_the_event_day_is_a_working_day() {
    let cal = WorkingCalendar::embedded();
    assert_eq!(
        cal.add_working_days(d("2024-03-04"), 1).unwrap(),
        d("2024-03-05")
    );
    assert_eq!(
        cal.add_working_days(d("2024-03-08"), 1).unwrap(),
        d("2024-03-11")
    );
    // The event day itself need not be loaded.
    assert_eq!(
        cal.add_working_days(d("2017-12-31"), 1).unwrap(),
        d("2018-01-02")
    );
}

#[test]
fn the_deadline_is_24_00_shanghai_of_the_nth_working_day_which_is_16_00_utc() {
    let cal = WorkingCalendar::embedded();
    let deadline = cal.deadline_after(utc("2024-02-06T03:00:00Z"), 10).unwrap();
    assert_eq!(deadline, utc("2024-02-26T16:00:00Z"));
}

#[test]
fn the_event_date_is_taken_in_shanghai_not_in_utc() {
    // Both instants are on Sep 27 in UTC; in Shanghai the second is already Sep 28.
    let cal = WorkingCalendar::embedded();
    let late_27th = cal.deadline_after(utc("2023-09-27T15:59:59Z"), 1).unwrap();
    assert_eq!(late_27th, utc("2023-09-28T16:00:00Z"));
    let early_28th = cal.deadline_after(utc("2023-09-27T16:00:00Z"), 1).unwrap();
    assert_eq!(
        early_28th,
        utc("2023-10-07T16:00:00Z"),
        "Sep 29 – Oct 6 are off"
    );
}

#[test]
fn dates_outside_the_loaded_years_are_errors_not_weekday_guesses() {
    let cal = WorkingCalendar::embedded();
    for day in ["2017-12-29", "2027-01-04"] {
        let err = cal.is_working_day(d(day)).unwrap_err();
        assert!(matches!(err, CalendarError::OutsideLoadedYears { date, .. } if date == d(day)));
        let msg = err.to_string();
        assert!(msg.contains(day) && msg.contains("2018–2026"), "{msg}");
    }
    let before = cal.add_working_days(d("2010-05-01"), 3).unwrap_err();
    assert!(matches!(before, CalendarError::OutsideLoadedYears { .. }));
    let empty = WorkingCalendar::new()
        .add_working_days(d("2024-01-01"), 1)
        .unwrap_err();
    assert!(empty.to_string().contains("loaded years: none"), "{empty}");
    let zero = cal.add_working_days(d("2024-03-04"), 0);
    assert!(
        matches!(zero, Err(CalendarError::ZeroWorkingDays)),
        "N = 0 has no deadline"
    );
}

#[test]
fn a_count_running_past_the_last_loaded_year_is_pending_until_the_next_year_is_loaded() {
    let mut cal = WorkingCalendar::embedded();
    let err = cal.add_working_days(d("2026-12-20"), 30).unwrap_err();
    assert!(matches!(
        err,
        CalendarError::PastLoadedYears { working_days: 30, last_loaded: 2026, from } if from == d("2026-12-20")
    ));
    assert!(err.to_string().contains("calendar of 2027"), "{err}");
    assert!(cal.deadline_after(utc("2026-12-20T02:00:00Z"), 30).is_err());
    assert!(
        cal.insert_year(YearCalendar::parse_json(Y2027).unwrap())
            .is_none()
    );
    assert_eq!(cal.loaded_years().last(), Some(&2027));
    assert_eq!(
        cal.add_working_days(d("2026-12-20"), 5).unwrap(),
        d("2026-12-25")
    );
    assert!(cal.add_working_days(d("2026-12-20"), 30).is_ok());
}

#[test]
fn working_days_between_counts_after_from_up_to_and_including_to() {
    let cal = WorkingCalendar::embedded();
    assert_eq!(
        cal.working_days_between(d("2024-03-04"), d("2024-03-04"))
            .unwrap(),
        0
    );
    assert_eq!(
        cal.working_days_between(d("2024-03-04"), d("2024-03-05"))
            .unwrap(),
        1
    );
    assert_eq!(
        cal.working_days_between(d("2024-02-06"), d("2024-02-26"))
            .unwrap(),
        10
    );
    assert_eq!(
        cal.working_days_between(d("2024-02-06"), d("2024-02-25"))
            .unwrap(),
        9
    );
    let reversed = cal
        .working_days_between(d("2024-03-05"), d("2024-03-04"))
        .unwrap_err();
    assert!(matches!(reversed, CalendarError::ReversedRange { .. }));
    let past = cal
        .working_days_between(d("2026-12-01"), d("2027-01-05"))
        .unwrap_err();
    assert!(
        matches!(past, CalendarError::OutsideLoadedYears { date, .. } if date == d("2027-01-01"))
    );
}

#[test]
fn working_days_between_inverts_add_working_days_in_every_loaded_year() {
    let cal = WorkingCalendar::embedded();
    for event in d("2018-01-01")
        .iter_days()
        .step_by(17)
        .take_while(|e| *e < d("2026-10-01"))
    {
        let due = cal.add_working_days(event, 30).unwrap();
        assert_eq!(
            cal.working_days_between(event, due).unwrap(),
            30,
            "from {event}"
        );
        assert!(cal.is_working_day(due).unwrap());
    }
}

#[test]
fn a_year_file_is_validated_rule_by_rule() {
    let base = [d("2027-01-01"), d("2027-05-01"), d("2027-10-01")];
    let outside = YearCalendar::new(2027, [d("2026-12-31")].into_iter().chain(base), []);
    assert!(matches!(
        outside,
        Err(CalendarError::DateOutsideYear {
            list: "holiday",
            ..
        })
    ));
    let monday = YearCalendar::new(2027, base, [d("2027-01-04")]).unwrap_err();
    assert!(matches!(
        monday,
        CalendarError::MakeupNotWeekend {
            weekday: Weekday::Mon,
            ..
        }
    ));
    assert!(monday.to_string().contains("2027-01-04"), "{monday}");
    let both = YearCalendar::new(
        2027,
        [d("2027-01-02")].into_iter().chain(base),
        [d("2027-01-02")],
    );
    assert!(matches!(both, Err(CalendarError::HolidayAndMakeup { .. })));
    let empty = YearCalendar::new(2027, [], []);
    assert!(matches!(
        empty,
        Err(CalendarError::MissingStatutoryHoliday { .. })
    ));
    let far = YearCalendar::new(1991, [], []);
    assert!(matches!(
        far,
        Err(CalendarError::InvalidYear { year: 1991 })
    ));
}

#[test]
fn a_year_lists_either_whole_holiday_periods_or_only_the_weekdays_off_with_one_meaning() {
    // Made-up 2027 periods: Jan 1–3 (Fri–Sun), May 1–5 (Sat–Wed), Oct 1–7 (Fri–Thu).
    let whole: Vec<NaiveDate> = [("2027-01-01", 3), ("2027-05-01", 5), ("2027-10-01", 7)]
        .iter()
        .flat_map(|&(first, n)| d(first).iter_days().take(n))
        .collect();
    let weekdays: Vec<NaiveDate> = whole.iter().copied().filter(|d| !is_weekend(*d)).collect();
    assert!(!weekdays.contains(&d("2027-05-01")), "a Saturday");
    let as_periods = YearCalendar::new(2027, whole, [d("2027-05-08")]).unwrap();
    let as_weekdays = YearCalendar::new(2027, weekdays, [d("2027-05-08")]).unwrap();
    for day in d("2027-01-01").iter_days().take_while(|d| d.year() == 2027) {
        assert_eq!(as_periods.works(day), as_weekdays.works(day), "{day}");
    }
    assert!(!as_weekdays.works(d("2027-05-03")) && as_weekdays.works(d("2027-05-08")));
    // A statutory day on a weekday must still be listed, naming it.
    let no_national_day = YearCalendar::new(2027, [d("2027-01-01")], []).unwrap_err();
    assert!(matches!(
        no_national_day,
        CalendarError::MissingStatutoryHoliday { weekday: Weekday::Fri, date, .. } if date == d("2027-10-01")
    ));
    assert!(
        no_national_day.to_string().contains("2027-10-01 (Fri)"),
        "{no_national_day}"
    );
}

#[test]
fn the_calendar_warns_from_sixty_days_before_the_last_loaded_day() {
    let cal = WorkingCalendar::embedded();
    let on = |day: &str| cal.coverage(d(day)).unwrap();
    let before = on("2026-10-31");
    assert_eq!((before.last_year, before.days_left), (2026, 61));
    assert_eq!(before.last_day, d("2026-12-31"));
    assert_eq!(before.warning(), None);
    let from = on("2026-11-01");
    assert_eq!(from.days_left, WARN_DAYS_BEFORE_END);
    let warning = on("2026-12-02").warning().unwrap();
    assert!(
        warning.contains("ends on 2026-12-31, 29 day(s) after 2026-12-02")
            && warning.contains("load the calendar of 2027"),
        "{warning}"
    );
    assert!(from.warning().is_some());
    let after = on("2027-01-03");
    assert_eq!(after.days_left, -3);
    assert!(after.warning().unwrap().contains("ended on 2026-12-31"));
    let loaded = cal.with_year(YearCalendar::parse_json(Y2027).unwrap());
    assert_eq!(loaded.coverage(d("2026-12-02")).unwrap().warning(), None);
    assert_eq!(WorkingCalendar::new().coverage(d("2026-12-02")), None);
}

#[test]
fn an_administrator_loads_a_year_from_json_and_replaces_a_loaded_year() {
    let year = YearCalendar::parse_json(&Y2027.replace("[]", r#"["2027-01-02"]"#)).unwrap();
    let json = serde_json::to_string(&year).unwrap();
    assert_eq!(serde_json::from_str::<YearCalendar>(&json).unwrap(), year);
    let mut cal = WorkingCalendar::embedded().with_year(YearCalendar::parse_json(Y2027).unwrap());
    assert!(!cal.is_working_day(d("2027-01-02")).unwrap());
    assert_eq!(
        cal.insert_year(year).unwrap().makeup_workdays().len(),
        0,
        "the replaced year"
    );
    assert!(
        cal.is_working_day(d("2027-01-02")).unwrap(),
        "a make-up Saturday"
    );

    let typo = YearCalendar::parse_json(&Y2027.replace("makeup_workdays", "makeup_days"));
    assert!(matches!(typo, Err(CalendarError::Json(_))));
    let weekday = YearCalendar::parse_json(&Y2027.replace("[]", r#"["2027-03-03"]"#));
    assert!(matches!(
        weekday,
        Err(CalendarError::MakeupNotWeekend { .. })
    ));
    let twice = format!(r#"{{"source": "test", "years": [{Y2027}, {Y2027}]}}"#);
    let twice = WorkingCalendar::parse_json(&twice);
    assert!(matches!(
        twice,
        Err(CalendarError::DuplicateYear { year: 2027 })
    ));
}
