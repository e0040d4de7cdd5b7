//! When the monthly bulletin is published (2009 reporting measures Art. 19): built on the
//! first working day of the next month, due by its 10th working day, on the official calendar.

use chrono::{Datelike, NaiveDate};

use super::calendar::{CalendarError, WorkingCalendar};

/// Art. 19: the bulletin of a month is published within this many working days of the next.
pub const DUE_WORKING_DAYS: u32 = 10;

/// The month a bulletin reports on, written `YYYY-MM`: the key it is stored, listed and
/// fetched by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BulletinMonth(NaiveDate);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{value:?} is not a month: YYYY-MM with a month 01 to 12, e.g. 2026-11")]
pub struct BulletinMonthError {
    /// What was given, shortened.
    pub value: String,
}

impl BulletinMonth {
    /// # Errors
    /// [`BulletinMonthError`] unless `raw` is four digits, '-', two digits of a month.
    pub fn parse(raw: &str) -> Result<Self, BulletinMonthError> {
        let bad = || BulletinMonthError {
            value: raw.chars().take(20).collect(),
        };
        let (y, m) = raw.split_once('-').ok_or_else(bad)?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4) || !digits(m, 2) {
            return Err(bad());
        }
        let (y, m) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        NaiveDate::from_ymd_opt(y, m, 1).map(Self).ok_or_else(bad)
    }

    /// January or December of a year (1000 to 9999).
    pub fn of_year(year: i32, month: u32) -> Option<Self> {
        (1000..=9999)
            .contains(&year)
            .then(|| NaiveDate::from_ymd_opt(year, month, 1).map(Self))
            .flatten()
    }

    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        self.0
    }

    /// `YYYY-MM`.
    pub fn key(self) -> String {
        self.0.format("%Y-%m").to_string()
    }
}

/// The first day of the month after `month` (any day of it).
pub fn next_month(month: NaiveDate) -> NaiveDate {
    let (y, m) = if month.month() == 12 {
        (month.year() + 1, 1)
    } else {
        (month.year(), month.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(month)
}

/// The first day of the month before the one `day` lies in: the month a bulletin built on
/// `day` reports.
pub fn reported_month(day: NaiveDate) -> NaiveDate {
    let first = day.with_day(1).unwrap_or(day);
    let prev = first.pred_opt().unwrap_or(first);
    prev.with_day(1).unwrap_or(prev)
}

/// The `n`-th working day (1-based) of the month after `month`.
///
/// # Errors
/// [`CalendarError`] when that month's year is not loaded: never a guess.
pub fn working_day_of_next_month(
    calendar: &WorkingCalendar,
    month: NaiveDate,
    n: u32,
) -> Result<NaiveDate, CalendarError> {
    let mut day = next_month(month);
    let mut seen = 0;
    loop {
        if calendar.is_working_day(day)? {
            seen += 1;
            if seen >= n.max(1) {
                return Ok(day);
            }
        }
        day = day
            .succ_opt()
            .ok_or(CalendarError::InvalidYear { year: day.year() })?;
    }
}

/// The day the bulletin of `month` is built: the first working day of the next month.
pub fn publication_day(
    calendar: &WorkingCalendar,
    month: NaiveDate,
) -> Result<NaiveDate, CalendarError> {
    working_day_of_next_month(calendar, month, 1)
}

/// The last day it may be published on: the 10th working day of the next month.
pub fn due_day(calendar: &WorkingCalendar, month: NaiveDate) -> Result<NaiveDate, CalendarError> {
    working_day_of_next_month(calendar, month, DUE_WORKING_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn november_is_published_on_the_first_of_december_and_due_on_the_fourteenth() {
        let cal = WorkingCalendar::embedded();
        assert_eq!(
            publication_day(&cal, d("2026-11-01")).unwrap(),
            d("2026-12-01")
        );
        assert_eq!(due_day(&cal, d("2026-11-01")).unwrap(), d("2026-12-14"));
    }

    #[test]
    fn september_waits_for_national_day_and_counts_the_make_up_saturday() {
        let cal = WorkingCalendar::embedded();
        // Oct 1-7 holiday; 8, 9, 10 (make-up Sat), 12-16, 19, 20 -> the 10th is Oct 20.
        assert_eq!(
            publication_day(&cal, d("2026-09-01")).unwrap(),
            d("2026-10-08")
        );
        assert_eq!(due_day(&cal, d("2026-09-15")).unwrap(), d("2026-10-20"));
    }

    #[test]
    fn a_bulletin_month_is_exactly_yyyy_mm() {
        assert_eq!(BulletinMonth::parse("2026-11").unwrap().key(), "2026-11");
        assert_eq!(
            BulletinMonth::parse("2026-01").unwrap().first_day(),
            d("2026-01-01")
        );
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            "",
            "2026-11-01",
            "+026-11",
        ] {
            assert!(BulletinMonth::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(BulletinMonth::of_year(2026, 12).unwrap().key(), "2026-12");
        assert!(BulletinMonth::of_year(99, 1).is_none());
    }

    #[test]
    fn december_rolls_into_the_next_year_and_an_unloaded_year_is_an_error() {
        assert_eq!(next_month(d("2025-12-09")), d("2026-01-01"));
        assert_eq!(reported_month(d("2026-01-05")), d("2025-12-01"));
        assert_eq!(reported_month(d("2026-12-04")), d("2026-11-01"));
        let cal = WorkingCalendar::embedded();
        assert!(publication_day(&cal, d("2026-12-01")).is_err());
    }
}
