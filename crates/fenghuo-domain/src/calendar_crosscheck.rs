//! Cross-check of the shipped calendar (from PyPI `chinese-calendar`) against the crates.io
//! crate `chinese_holiday`, an independently maintained copy of the State Council's notices.
#![cfg(test)]

use chinese_holiday::{Ymd, chinese_holiday};
use chrono::{Datelike, NaiveDate};

use crate::calendar::WorkingCalendar;

#[test]
fn every_day_from_2018_to_2026_agrees_with_the_chinese_holiday_crate() {
    let calendar = WorkingCalendar::embedded();
    let first = NaiveDate::from_ymd_opt(2018, 1, 1).unwrap();
    // chinese_holiday 2026.0.1 (the newest on 2026-12-02) refuses (panics on) dates after
    // 2026-12-25: the 2027 notice may still move the last days of 2026.
    let last = NaiveDate::from_ymd_opt(2026, 12, 25).unwrap();
    let mut disagreements = Vec::new();
    let mut checked = 0;
    for day in first.iter_days().take_while(|d| *d <= last) {
        let ymd = Ymd::new(day.year() as u16, day.month() as u8, day.day() as u8);
        let theirs = chinese_holiday(ymd).is_workday();
        let ours = calendar.is_working_day(day).unwrap();
        if ours != theirs {
            disagreements.push(format!("{day}: ours {ours}, chinese_holiday {theirs}"));
        }
        checked += 1;
    }
    assert_eq!(checked, 3281);
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
