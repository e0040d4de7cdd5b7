//! One year of the official calendar: its holidays and make-up working days, validated,
//! and the JSON shape an administrator loads.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::{CalendarError, STATUTORY, YEARS};

/// The JSON shape of one year, before validation.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)] // an administrator's typo must not silently drop a list
pub(super) struct YearFile {
    year: i32,
    holidays: BTreeSet<NaiveDate>,
    makeup_workdays: BTreeSet<NaiveDate>,
}

/// One year of the official calendar: the exceptions to "Monday–Friday works".
///
/// `holidays` are the days off. Both forms administrators type are accepted and mean the same:
/// the whole public-holiday periods as the State Council's notice (and the shipped data) list
/// them, weekend days included, or only the weekdays off; a listed Saturday or Sunday changes
/// nothing. `makeup_workdays` are the weekend days declared working days. A date belongs to the
/// year it falls in, whichever notice set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "YearFile", into = "YearFile")]
pub struct YearCalendar {
    pub(super) year: i32,
    holidays: BTreeSet<NaiveDate>,
    makeup_workdays: BTreeSet<NaiveDate>,
}

impl YearCalendar {
    pub fn new(
        year: i32,
        holidays: impl IntoIterator<Item = NaiveDate>,
        makeup_workdays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, CalendarError> {
        if !YEARS.contains(&year) {
            return Err(CalendarError::InvalidYear { year });
        }
        let holidays: BTreeSet<NaiveDate> = holidays.into_iter().collect();
        let makeup_workdays: BTreeSet<NaiveDate> = makeup_workdays.into_iter().collect();
        for (list, dates) in [
            ("holiday", &holidays),
            ("make-up working day", &makeup_workdays),
        ] {
            if let Some(&date) = dates.iter().find(|d| d.year() != year) {
                return Err(CalendarError::DateOutsideYear { year, date, list });
            }
        }
        if let Some(&date) = makeup_workdays.iter().find(|d| !is_weekend(**d)) {
            return Err(CalendarError::MakeupNotWeekend {
                date,
                weekday: date.weekday(),
            });
        }
        if let Some(&date) = holidays.intersection(&makeup_workdays).next() {
            return Err(CalendarError::HolidayAndMakeup { date });
        }
        // Only a weekday can be missing: the weekdays-only form omits a Saturday May 1.
        for (month, day) in STATUTORY {
            let date =
                NaiveDate::from_ymd_opt(year, month, day).expect("fixed dates exist in every year");
            if !is_weekend(date) && !holidays.contains(&date) {
                return Err(CalendarError::MissingStatutoryHoliday {
                    year,
                    date,
                    weekday: date.weekday(),
                });
            }
        }
        Ok(Self {
            year,
            holidays,
            makeup_workdays,
        })
    }

    /// Parses and validates one year in the JSON shape
    /// `{"year": 2027, "holidays": ["2027-01-01", ...], "makeup_workdays": [...]}`.
    pub fn parse_json(json: &str) -> Result<Self, CalendarError> {
        serde_json::from_str::<YearFile>(json)?.try_into()
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    pub fn makeup_workdays(&self) -> &BTreeSet<NaiveDate> {
        &self.makeup_workdays
    }

    /// The rule itself; `date` must lie in this year.
    pub(super) fn works(&self, date: NaiveDate) -> bool {
        self.makeup_workdays.contains(&date)
            || (!is_weekend(date) && !self.holidays.contains(&date))
    }
}

pub(super) fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

impl TryFrom<YearFile> for YearCalendar {
    type Error = CalendarError;
    fn try_from(f: YearFile) -> Result<Self, CalendarError> {
        Self::new(f.year, f.holidays, f.makeup_workdays)
    }
}

impl From<YearCalendar> for YearFile {
    fn from(y: YearCalendar) -> Self {
        Self {
            year: y.year,
            holidays: y.holidays,
            makeup_workdays: y.makeup_workdays,
        }
    }
}
