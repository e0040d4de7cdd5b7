//! Appeals against Art. 8(1) measures (Art. 10 of the 2017 Measures): the
//! 10-working-day window and the 30-working-day answer, on the official calendar.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::calendar::{CalendarError, WorkingCalendar};
use super::calendar::{local_date, start_of_day};

/// Art. 10: the appeal window, in working days.
pub const WINDOW_WORKING_DAYS: u32 = 10;
/// Art. 10: the regulator's answer, in working days.
pub const ANSWER_WORKING_DAYS: u32 = 30;
/// Reminders to the regulator, working days before the answer is due.
pub const REMINDERS: [u32; 2] = [5, 1];

/// Appeal states, as numbered in the contract. Every change of state goes through
/// [`AppealState::transition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppealState {
    Open = 1,
    Withdrawn = 2,
    Answered = 3,
}

/// What may happen to an appeal (Art. 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppealEvent {
    /// The filer withdraws it.
    Withdraw,
    /// The deciding regulator answers it: upheld, revoked or modified.
    Answer,
    /// A reminder to the regulator before the 30th working day.
    Remind,
    /// The 30th working day passed unanswered: the overdue flag is set; the appeal stays open.
    MarkOverdue,
    /// The calendar of the due year was loaded: the answer's due date becomes known.
    SetAnswerDue,
}

/// An event the appeal's state does not admit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an appeal that is {from} cannot be {}", event.past_tense())]
pub struct TransitionError {
    pub from: AppealState,
    pub event: AppealEvent,
}

impl AppealEvent {
    fn past_tense(self) -> &'static str {
        match self {
            AppealEvent::Withdraw => "withdrawn",
            AppealEvent::Answer => "answered",
            AppealEvent::Remind => "reminded of",
            AppealEvent::MarkOverdue => "marked overdue",
            AppealEvent::SetAnswerDue => "given an answer date",
        }
    }
}

impl std::fmt::Display for AppealState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AppealState::Open => "open",
            AppealState::Withdrawn => "withdrawn",
            AppealState::Answered => "answered",
        })
    }
}

impl AppealState {
    /// The state after `event`: an appeal is answered or withdrawn once, and its clock
    /// (reminders, the overdue flag, the due date) runs only while it is open.
    ///
    /// # Errors
    /// [`TransitionError`] for any event on a closed appeal.
    pub fn transition(self, event: AppealEvent) -> Result<AppealState, TransitionError> {
        match (self, event) {
            (AppealState::Open, AppealEvent::Withdraw) => Ok(AppealState::Withdrawn),
            (AppealState::Open, AppealEvent::Answer) => Ok(AppealState::Answered),
            (
                AppealState::Open,
                AppealEvent::Remind | AppealEvent::MarkOverdue | AppealEvent::SetAnswerDue,
            ) => Ok(AppealState::Open),
            (from @ (AppealState::Withdrawn | AppealState::Answered), event) => {
                Err(TransitionError { from, event })
            }
        }
    }

    pub fn is_open(self) -> bool {
        self == AppealState::Open
    }
}

/// A stored state number the contract does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not an appeal state")]
pub struct UnknownAppealState(pub i64);

impl TryFrom<i64> for AppealState {
    type Error = UnknownAppealState;

    fn try_from(n: i64) -> Result<Self, Self::Error> {
        match n {
            1 => Ok(AppealState::Open),
            2 => Ok(AppealState::Withdrawn),
            3 => Ok(AppealState::Answered),
            other => Err(UnknownAppealState(other)),
        }
    }
}

/// The last day of a period of `n` working days counted from the day after `day`.
pub fn last_working_day(
    calendar: &WorkingCalendar,
    day: NaiveDate,
    n: u32,
) -> Result<NaiveDate, CalendarError> {
    // 24:00 of the n-th working day is 00:00 of the next day: its date minus one.
    let end = calendar.deadline_after(start_of_day(day) + Duration::hours(12), n)?;
    Ok(local_date(end - Duration::microseconds(1)))
}

/// Where the window of one target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub closes_on: NaiveDate,
    /// The addressee has not reported the target disposed: the date may still move.
    pub provisional: bool,
}

/// Art. 10 as the platform reads it: 10 working days from the day after the addressee
/// reported the target disposed or, with no such report, from the day after the
/// notice's deadline.
pub fn window(
    calendar: &WorkingCalendar,
    disposed_reported_at: Option<DateTime<Utc>>,
    deadline: DateTime<Utc>,
) -> Result<Window, CalendarError> {
    let (day, provisional) = match disposed_reported_at {
        Some(t) => (local_date(t), false),
        // A working-day deadline is 00:00 of the next day: its day is the day before.
        None => (local_date(deadline - Duration::microseconds(1)), true),
    };
    Ok(Window {
        closes_on: last_working_day(calendar, day, WINDOW_WORKING_DAYS)?,
        provisional,
    })
}

/// When an appeal filed on `filed_on` must be answered: the 30th working day after it,
/// and the instant that day ends.
pub fn answer_due(
    calendar: &WorkingCalendar,
    filed_on: NaiveDate,
) -> Result<(NaiveDate, DateTime<Utc>), CalendarError> {
    let due_on = last_working_day(calendar, filed_on, ANSWER_WORKING_DAYS)?;
    Ok((due_on, start_of_day(due_on + Duration::days(1))))
}

/// The working day `n` working days before `date` (a reminder's day).
pub fn working_days_before(
    calendar: &WorkingCalendar,
    date: NaiveDate,
    n: u32,
) -> Result<NaiveDate, CalendarError> {
    let mut day = date;
    let mut left = n;
    while left > 0 {
        day = day
            .pred_opt()
            .ok_or(CalendarError::InvalidYear { year: day.year() })?;
        if calendar.is_working_day(day)? {
            left -= 1;
        }
    }
    Ok(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn at(s: &str, hour: u32) -> DateTime<Utc> {
        start_of_day(d(s)) + Duration::hours(i64::from(hour))
    }

    #[test]
    fn the_window_skips_spring_festival_and_counts_make_up_days() {
        let cal = WorkingCalendar::embedded();
        // Reported Thu 2026-02-12: 13 (Fri), 14 (make-up Sat), the holiday 15-23, then
        // 24-27, 28 (make-up Sat), Mar 2, 3, 4 -> the 10th is Wed 2026-03-04.
        let w = window(&cal, Some(at("2026-02-12", 15)), at("2026-02-12", 20)).unwrap();
        assert_eq!(
            w,
            Window {
                closes_on: d("2026-03-04"),
                provisional: false
            }
        );
    }

    #[test]
    fn the_window_skips_national_day() {
        let cal = WorkingCalendar::embedded();
        // Reported Tue 2026-09-22: 23, 24, (25-27 holiday), 28, 29, 30, (Oct 1-7 holiday),
        // 8, 9, 10 (make-up Sat), 12, 13 -> the 10th is Tue 2026-10-13.
        let w = window(&cal, Some(at("2026-09-22", 10)), at("2026-09-22", 20)).unwrap();
        assert_eq!(w.closes_on, d("2026-10-13"));
    }

    #[test]
    fn without_a_report_the_window_runs_from_the_deadline_and_stays_provisional() {
        let cal = WorkingCalendar::embedded();
        // A working-day deadline ends 24:00 Fri 2026-11-20 (= 00:00 Sat 21).
        let w = window(&cal, None, start_of_day(d("2026-11-21"))).unwrap();
        assert_eq!(
            w,
            Window {
                closes_on: d("2026-12-04"),
                provisional: true
            }
        );
    }

    #[test]
    fn the_answer_is_due_on_the_thirtieth_working_day_with_reminders_before() {
        let cal = WorkingCalendar::embedded();
        // Filed Mon 2026-09-14: 15-18 (4), 20 make-up Sun (5), 21-24 (9), 28-30 (12),
        // 8, 9, 10 make-up Sat (15), 12-16 (20), 19-23 (25), 26-30 (30) -> Fri 2026-10-30.
        let (due_on, due_at) = answer_due(&cal, d("2026-09-14")).unwrap();
        assert_eq!(due_on, d("2026-10-30"));
        assert_eq!(due_at, start_of_day(d("2026-10-31")));
        assert_eq!(
            working_days_before(&cal, due_on, 1).unwrap(),
            d("2026-10-29")
        );
        assert_eq!(
            working_days_before(&cal, due_on, 5).unwrap(),
            d("2026-10-23")
        );
        // Across the holiday: Oct 10 (make-up), 9, 8, Sep 30, 29.
        assert_eq!(
            working_days_before(&cal, d("2026-10-12"), 5).unwrap(),
            d("2026-09-29")
        );
    }

    #[test]
    fn an_open_appeal_is_answered_or_withdrawn_once() {
        use AppealEvent::*;
        assert_eq!(
            AppealState::Open.transition(Answer),
            Ok(AppealState::Answered)
        );
        assert_eq!(
            AppealState::Open.transition(Withdraw),
            Ok(AppealState::Withdrawn)
        );
        for closed in [AppealState::Answered, AppealState::Withdrawn] {
            for event in [Withdraw, Answer, Remind, MarkOverdue, SetAnswerDue] {
                assert_eq!(
                    closed.transition(event),
                    Err(TransitionError {
                        from: closed,
                        event
                    })
                );
            }
        }
        assert_eq!(
            AppealState::Answered
                .transition(Withdraw)
                .unwrap_err()
                .to_string(),
            "an appeal that is answered cannot be withdrawn"
        );
    }

    #[test]
    fn the_answer_clock_runs_only_while_open() {
        for event in [
            AppealEvent::Remind,
            AppealEvent::MarkOverdue,
            AppealEvent::SetAnswerDue,
        ] {
            assert_eq!(AppealState::Open.transition(event), Ok(AppealState::Open));
        }
    }

    #[test]
    fn stored_states_convert_at_the_boundary() {
        for s in [
            AppealState::Open,
            AppealState::Withdrawn,
            AppealState::Answered,
        ] {
            assert_eq!(AppealState::try_from(s as i64), Ok(s));
        }
        assert_eq!(AppealState::try_from(0), Err(UnknownAppealState(0)));
        assert_eq!(AppealState::try_from(4), Err(UnknownAppealState(4)));
    }

    #[test]
    fn past_the_loaded_years_is_an_error_not_a_guess() {
        let cal = WorkingCalendar::embedded();
        assert!(window(&cal, Some(at("2026-12-28", 10)), at("2026-12-28", 10)).is_err());
    }
}
