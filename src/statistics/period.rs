//! The period a statistics answer covers: Asia/Shanghai calendar days, inclusive.

use chrono::{Datelike, Days, NaiveDate};

/// Longest period one answer covers.
pub const MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

/// Why a period is refused; `field` names the request field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("{field}: {to} is before from {from}")]
    Reversed {
        field: &'static str,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error("{field}: {days} days; a period is at most {MAX_DAYS} days")]
    TooLong { field: &'static str, days: i64 },
    #[error("{field}: {value:?} is not a month YYYY-MM")]
    BadMonth { field: &'static str, value: String },
    #[error("{field}: lies outside the supported dates")]
    OutOfRange { field: &'static str },
}

impl PeriodError {
    pub fn field(&self) -> &'static str {
        match self {
            PeriodError::Reversed { field, .. }
            | PeriodError::TooLong { field, .. }
            | PeriodError::BadMonth { field, .. }
            | PeriodError::OutOfRange { field } => field,
        }
    }
}

impl Period {
    /// `from` to `to` inclusive; `field` names the range in errors.
    pub fn range(
        from: NaiveDate,
        to: NaiveDate,
        field: &'static str,
    ) -> Result<Period, PeriodError> {
        if to < from {
            return Err(PeriodError::Reversed { field, from, to });
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_DAYS {
            return Err(PeriodError::TooLong { field, days });
        }
        Ok(Period { from, to })
    }

    pub fn day(d: NaiveDate) -> Period {
        Period { from: d, to: d }
    }

    /// The Monday-to-Sunday week containing `d`.
    pub fn week_of(d: NaiveDate, field: &'static str) -> Result<Period, PeriodError> {
        let monday = d - Days::new(u64::from(d.weekday().num_days_from_monday()));
        let sunday = monday
            .checked_add_days(Days::new(6))
            .ok_or(PeriodError::OutOfRange { field })?;
        Ok(Period {
            from: monday,
            to: sunday,
        })
    }

    /// A month written "YYYY-MM".
    pub fn month(text: &str, field: &'static str) -> Result<Period, PeriodError> {
        let bad = || PeriodError::BadMonth {
            field,
            value: text.chars().take(20).collect(),
        };
        let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        let from = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
        let next = if m == 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(y, m + 1, 1)
        }
        .ok_or_else(bad)?;
        Ok(Period {
            from,
            to: next.pred_opt().ok_or_else(bad)?,
        })
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let to = self.to;
        self.from.iter_days().take_while(move |d| *d <= to)
    }

    /// "YYYY-MM" of every month the period touches, oldest first.
    pub fn months(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in self.days() {
            let m = format!("{:04}-{:02}", d.year(), d.month());
            if out.last() != Some(&m) {
                out.push(m);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_week_runs_monday_to_sunday_and_a_month_to_its_last_day() {
        let w = Period::week_of(d("2026-12-03"), "week_of").unwrap();
        assert_eq!((w.from(), w.to()), (d("2026-11-30"), d("2026-12-06")));
        let m = Period::month("2024-02", "month").unwrap();
        assert_eq!((m.from(), m.to()), (d("2024-02-01"), d("2024-02-29")));
        assert_eq!(
            Period::month("2026-12", "month").unwrap().to(),
            d("2026-12-31")
        );
    }

    #[test]
    fn reversed_long_and_malformed_periods_name_their_field() {
        let e = Period::range(d("2026-02-01"), d("2026-01-01"), "period.range").unwrap_err();
        assert_eq!(e.field(), "period.range");
        assert!(matches!(
            Period::range(d("2025-01-01"), d("2026-01-02"), "period.range"),
            Err(PeriodError::TooLong { days: 367, .. })
        ));
        assert!(Period::range(d("2024-01-01"), d("2024-12-31"), "r").is_ok());
        for bad in ["2026-13", "2026-1", "26-01", "x", ""] {
            assert!(Period::month(bad, "period.month").is_err(), "{bad}");
        }
    }
}
