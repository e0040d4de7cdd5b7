//! Week and month roll-ups of the day counters, and how a period is read from them.
//!
//! A period's figures are a sum over days. Read day by day, a year costs 365 rows per key;
//! read as whole months, whole weeks and the days left over, it costs about 30 reads of one
//! row per key. [`cover`] splits a period so; only units that end on or before the last
//! rolled day are read from the roll-ups, everything later from the days.

use chrono::{Datelike, Days, NaiveDate};

/// A roll-up unit: the stored `span` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Span {
    /// Monday to Sunday.
    Week,
    Month,
}

impl Span {
    pub fn code(self) -> &'static str {
        match self {
            Span::Week => "W",
            Span::Month => "M",
        }
    }

    /// The first day of the unit containing `d`.
    pub fn start_of(self, d: NaiveDate) -> NaiveDate {
        match self {
            Span::Week => d - Days::new(u64::from(d.weekday().num_days_from_monday())),
            Span::Month => d.with_day(1).unwrap_or(d),
        }
    }

    /// The last day of the unit that starts on `start`.
    pub fn end_of(self, start: NaiveDate) -> NaiveDate {
        match self {
            Span::Week => start + Days::new(6),
            Span::Month => {
                let next = if start.month() == 12 {
                    NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
                };
                next.and_then(|n| n.pred_opt()).unwrap_or(start)
            }
        }
    }

    /// The unit after the one that starts on `start`.
    fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        self.end_of(start).succ_opt()
    }
}

/// Inclusive day ranges and unit starts that together count every day of a period once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cover {
    /// `(first, last)` days read from the day counters.
    pub days: Vec<(NaiveDate, NaiveDate)>,
    /// `(first unit start, last unit start)` read from the roll-ups, per span.
    pub units: Vec<(Span, NaiveDate, NaiveDate)>,
}

impl Cover {
    /// Every day counted, in order (for tests).
    #[cfg(test)]
    fn days_counted(&self) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        for (a, b) in &self.days {
            out.extend(a.iter_days().take_while(|d| d <= b));
        }
        for (span, first, last) in &self.units {
            let mut s = *first;
            while s <= *last {
                let end = span.end_of(s);
                out.extend(s.iter_days().take_while(|d| *d <= end));
                match span.next(s) {
                    Some(n) => s = n,
                    None => break,
                }
            }
        }
        out.sort();
        out
    }
}

/// Splits `[from, to]` into whole months and whole weeks that end on or before
/// `rolled_through`, and days for the rest.
pub fn cover(from: NaiveDate, to: NaiveDate, rolled_through: Option<NaiveDate>) -> Cover {
    let mut c = Cover::default();
    if to < from {
        return c;
    }
    let rolled_end = match rolled_through {
        Some(r) if r >= from => r.min(to),
        _ => {
            c.days.push((from, to));
            return c;
        }
    };
    // Whole months inside [from, rolled_end], weeks inside what is left at either side.
    let mut rest = Vec::new();
    match whole_units(Span::Month, from, rolled_end) {
        Some((first, last)) => {
            c.units.push((Span::Month, first, last));
            if first > from {
                rest.push((from, first.pred_opt().unwrap_or(first)));
            }
            let end = Span::Month.end_of(last);
            if end < rolled_end {
                rest.push((end.succ_opt().unwrap_or(end), rolled_end));
            }
        }
        None => rest.push((from, rolled_end)),
    }
    for (a, b) in rest {
        match whole_units(Span::Week, a, b) {
            Some((first, last)) => {
                c.units.push((Span::Week, first, last));
                if first > a {
                    c.days.push((a, first.pred_opt().unwrap_or(first)));
                }
                let end = Span::Week.end_of(last);
                if end < b {
                    c.days.push((end.succ_opt().unwrap_or(end), b));
                }
            }
            None => c.days.push((a, b)),
        }
    }
    if rolled_end < to {
        c.days
            .push((rolled_end.succ_opt().unwrap_or(rolled_end), to));
    }
    c
}

/// The first and last starts of the `span` units lying wholly inside `[a, b]`.
fn whole_units(span: Span, a: NaiveDate, b: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let first = if span.start_of(a) == a {
        a
    } else {
        span.next(span.start_of(a))?
    };
    let last_end = if span.end_of(span.start_of(b)) == b {
        b
    } else {
        span.start_of(b).pred_opt()?
    };
    let last = span.start_of(last_end);
    (first <= last && span.end_of(last) <= b && first >= a).then_some((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn units_know_their_bounds_across_years_and_leap_days() {
        assert_eq!(Span::Month.end_of(d(2024, 2, 1)), d(2024, 2, 29));
        assert_eq!(Span::Month.end_of(d(2026, 12, 1)), d(2026, 12, 31));
        assert_eq!(Span::Week.start_of(d(2026, 12, 4)), d(2026, 11, 30));
        assert_eq!(Span::Week.end_of(d(2026, 11, 30)), d(2026, 12, 6));
    }

    #[test]
    fn nothing_rolled_reads_every_day() {
        let c = cover(d(2026, 1, 1), d(2026, 3, 31), None);
        assert_eq!(c.days, vec![(d(2026, 1, 1), d(2026, 3, 31))]);
        assert!(c.units.is_empty());
        let c = cover(d(2026, 1, 1), d(2026, 3, 31), Some(d(2025, 12, 31)));
        assert_eq!(c.days, vec![(d(2026, 1, 1), d(2026, 3, 31))]);
    }

    #[test]
    fn a_year_reads_months_then_weeks_then_days() {
        // 2025-12-05 .. 2026-12-04 with the days through 2026-12-02 rolled.
        let c = cover(d(2025, 12, 5), d(2026, 12, 4), Some(d(2026, 12, 2)));
        assert_eq!(
            c.units,
            vec![
                (Span::Month, d(2026, 1, 1), d(2026, 11, 1)),
                // 2025-12-08 (Mon) .. 2025-12-28 (Sun)
                (Span::Week, d(2025, 12, 8), d(2025, 12, 22)),
            ]
        );
        assert_eq!(
            c.days,
            vec![
                (d(2025, 12, 5), d(2025, 12, 7)),
                (d(2025, 12, 29), d(2025, 12, 31)),
                (d(2026, 12, 1), d(2026, 12, 2)),
                (d(2026, 12, 3), d(2026, 12, 4)),
            ]
        );
    }

    #[test]
    fn every_day_is_counted_once_whatever_the_bounds() {
        let start = d(2024, 1, 1);
        for from_off in (0..400).step_by(7) {
            for len in [0u64, 1, 6, 7, 13, 30, 31, 45, 59, 90, 200, 365] {
                for rolled_off in [None, Some(0u64), Some(3), Some(40), Some(500)] {
                    let from = start + Days::new(from_off);
                    let to = from + Days::new(len);
                    let rolled = rolled_off.map(|o| from + Days::new(o));
                    let c = cover(from, to, rolled);
                    let want: Vec<_> = from.iter_days().take_while(|x| *x <= to).collect();
                    assert_eq!(c.days_counted(), want, "{from}..{to} rolled {rolled:?}");
                    for (span, first, last) in &c.units {
                        assert!(span.end_of(*last) <= rolled.unwrap(), "{c:?}");
                        assert_eq!(span.start_of(*first), *first);
                    }
                }
            }
        }
    }
}
