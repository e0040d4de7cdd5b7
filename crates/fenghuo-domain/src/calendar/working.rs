//! The loaded years of the official calendar: the shipped data, counting working days and
//! deadlines, and how far the loaded years reach.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Deserialize;

use super::year::{YearCalendar, YearFile};
use super::{CalendarError, WARN_DAYS_BEFORE_END, local_date, start_of_day};

/// The shipped file: `{"source": "...", "years": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    #[allow(dead_code)] // provenance for people reading the file
    source: String,
    years: Vec<YearFile>,
}

static EMBEDDED: LazyLock<WorkingCalendar> = LazyLock::new(|| {
    WorkingCalendar::parse_json(include_str!("../../../../data/calendar/mainland.json"))
        .unwrap_or_else(|e| panic!("data/calendar/mainland.json is invalid: {e}"))
});

/// The loaded years of the official calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkingCalendar {
    years: BTreeMap<i32, YearCalendar>,
}

impl WorkingCalendar {
    /// A calendar with no year loaded: every query is an error.
    pub fn new() -> Self {
        Self::default()
    }

    /// The calendar shipped in the binary (2018–2026 at the time of writing).
    pub fn embedded() -> Self {
        EMBEDDED.clone()
    }

    /// Parses the whole-file shape `{"source": "...", "years": [...]}`; a year may appear once.
    pub fn parse_json(json: &str) -> Result<Self, CalendarError> {
        let file: CalendarFile = serde_json::from_str(json)?;
        let mut calendar = Self::new();
        for raw in file.years {
            let year = YearCalendar::try_from(raw)?;
            if calendar.years.contains_key(&year.year) {
                return Err(CalendarError::DuplicateYear { year: year.year });
            }
            calendar.insert_year(year);
        }
        Ok(calendar)
    }

    /// Adds `year`, replacing a loaded calendar of the same year.
    pub fn with_year(mut self, year: YearCalendar) -> Self {
        self.insert_year(year);
        self
    }

    /// Adds `year`, returning the calendar it replaced (for the audit trail).
    pub fn insert_year(&mut self, year: YearCalendar) -> Option<YearCalendar> {
        self.years.insert(year.year, year)
    }

    pub fn year(&self, year: i32) -> Option<&YearCalendar> {
        self.years.get(&year)
    }

    /// Loaded years, ascending.
    pub fn loaded_years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        match self.years.get(&date.year()) {
            Some(year) => Ok(year.works(date)),
            None => Err(self.outside(date)),
        }
    }

    /// The N-th working day after `event_day` (N ≥ 1): counting starts the day after the event,
    /// so the event day itself need not be loaded. A count that reaches a year after the last
    /// loaded one is [`CalendarError::PastLoadedYears`] (store the deadline as pending); one that
    /// reaches an unloaded year before it is [`CalendarError::OutsideLoadedYears`].
    pub fn add_working_days(
        &self,
        event_day: NaiveDate,
        n: u32,
    ) -> Result<NaiveDate, CalendarError> {
        if n == 0 {
            return Err(CalendarError::ZeroWorkingDays);
        }
        let past = |date: NaiveDate| match self.years.keys().next_back() {
            Some(&last_loaded) if date.year() > last_loaded => CalendarError::PastLoadedYears {
                from: event_day,
                working_days: n,
                last_loaded,
            },
            _ => self.outside(date),
        };
        let mut day = event_day;
        let mut left = n;
        loop {
            day = day.succ_opt().ok_or_else(|| past(day))?;
            let year = self.years.get(&day.year()).ok_or_else(|| past(day))?;
            if year.works(day) {
                left -= 1;
                if left == 0 {
                    return Ok(day);
                }
            }
        }
    }

    /// The deadline of a period of N working days after `event`: counting from the event's
    /// Asia/Shanghai date, the instant 24:00 Asia/Shanghai of the N-th working day, i.e. 00:00 of
    /// the next day (16:00 UTC of the N-th working day). A deadline is met strictly before it.
    pub fn deadline_after(
        &self,
        event: DateTime<Utc>,
        n: u32,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let last = self.add_working_days(local_date(event), n)?;
        // `last` lies in a loaded year (1992..=9999): the next day exists.
        let next = last.succ_opt().expect("a loaded day has a successor");
        Ok(start_of_day(next))
    }

    /// The number of working days d with `from < d <= to`: the working days elapsed since an
    /// event on `from` up to and including `to`. 0 when `from == to`; every counted day must be
    /// loaded; `to` before `from` is [`CalendarError::ReversedRange`].
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u32, CalendarError> {
        if to < from {
            return Err(CalendarError::ReversedRange { from, to });
        }
        let mut count = 0;
        for day in from.iter_days().skip(1).take_while(|d| *d <= to) {
            if self.is_working_day(day)? {
                count += 1;
            }
        }
        Ok(count)
    }

    /// How far the loaded years reach as seen on `today`; `None` with no year loaded.
    pub fn coverage(&self, today: NaiveDate) -> Option<Coverage> {
        let (&last_year, _) = self.years.last_key_value()?;
        let last_day = NaiveDate::from_ymd_opt(last_year, 12, 31)?;
        Some(Coverage {
            last_year,
            last_day,
            today,
            days_left: (last_day - today).num_days(),
        })
    }

    fn outside(&self, date: NaiveDate) -> CalendarError {
        CalendarError::OutsideLoadedYears {
            date,
            loaded: self.loaded_years(),
        }
    }
}

/// The end of the loaded years as seen on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    pub last_year: i32,
    /// December 31 of the last loaded year.
    pub last_day: NaiveDate,
    pub today: NaiveDate,
    /// Days after `today` up to and including `last_day`; negative once it has passed.
    pub days_left: i64,
}

impl Coverage {
    /// The warning due from [`WARN_DAYS_BEFORE_END`] days before `last_day` (and after it).
    pub fn warning(&self) -> Option<String> {
        if self.days_left > WARN_DAYS_BEFORE_END {
            return None;
        }
        let when = if self.days_left >= 0 {
            format!(
                "ends on {}, {} day(s) after {}",
                self.last_day, self.days_left, self.today
            )
        } else {
            format!(
                "ended on {}, {} day(s) before {}",
                self.last_day, -self.days_left, self.today
            )
        };
        Some(format!(
            "the working-day calendar {when}: load the calendar of {} (`fenghuo calendar load` \
             or CalendarService.LoadYear); until then every deadline running past {} waits unset, \
             pending calendar",
            self.last_year + 1,
            self.last_day
        ))
    }
}
