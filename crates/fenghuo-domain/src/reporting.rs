//! Reporting deadlines: which policy entry limits a unit's report, and which of the
//! institution's own steps a confirmed threat starts.
//!
//! A unit's first report of an event or warning is due `limit` after its discovery
//! (reporting measures Art. 13; under the selectable 2009 mechanism profile, Art. 8(2)). The
//! step looked up is the profile's `report` for the grade or colour, else its
//! `monthly_summary` (reporting measures: general events are reported monthly, within 5
//! working days of the next month). Warnings always follow the reporting measures: the
//! mechanism grades events only. A follow-up (Art. 16) has no deadline of its own.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::calendar::{WorkingCalendar, local_date};
use super::policy::{DeadlinePolicy, Document, Level, Step, TimeLimit, TimerKey};

/// The policy entry a report's deadline comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportDeadline {
    pub key: TimerKey,
    pub limit: TimeLimit,
}

/// The entry limiting a first report of `level` in `province` (the reporter's: its
/// regulator receives the report, Art. 14 of the 2017 Measures), or None when the policy
/// has none.
pub fn report_deadline(
    policy: &DeadlinePolicy,
    province: &str,
    level: Level,
) -> Option<ReportDeadline> {
    let document = if level.is_colour() {
        Document::Reporting2009
    } else {
        policy.reporting_profile()
    };
    [Step::Report, Step::MonthlySummary]
        .into_iter()
        .map(|step| TimerKey::new(document, level, step))
        .find_map(|key| {
            policy
                .limit(province, key)
                .map(|limit| ReportDeadline { key, limit })
        })
}

impl ReportDeadline {
    /// The instant the report is due after discovery; None when a working-day limit runs
    /// into (or starts in) a calendar year not loaded: the report is never refused for it.
    pub fn due(
        &self,
        discovered_at: DateTime<Utc>,
        calendar: &WorkingCalendar,
    ) -> Option<DateTime<Utc>> {
        self.limit.due_at(discovered_at, calendar).ok()
    }
}

/// The deadlines of one intake batch. A working-day limit depends only on the discovery's
/// Asia/Shanghai date, so each (province, grade or colour, date) is computed once: the
/// single intake writer stays fast (a calendar walk per item cost ~4% of its time).
pub struct BatchDeadlines<'p> {
    policy: &'p DeadlinePolicy,
    /// province -> level -> the entry and its printed key.
    entries: HashMap<String, HashMap<Level, Option<(ReportDeadline, String)>>>,
    /// (province, level, local date) -> due, for working-day limits.
    dues: HashMap<(String, Level, NaiveDate), Option<DateTime<Utc>>>,
}

impl<'p> BatchDeadlines<'p> {
    pub fn new(policy: &'p DeadlinePolicy) -> Self {
        Self {
            policy,
            entries: HashMap::new(),
            dues: HashMap::new(),
        }
    }

    /// The entry of a first report of `level` from `province`, with its key as text.
    pub fn entry(&mut self, province: &str, level: Level) -> Option<(ReportDeadline, String)> {
        if !self.entries.contains_key(province) {
            self.entries.insert(province.to_owned(), HashMap::new());
        }
        let policy = self.policy;
        self.entries.get_mut(province).and_then(|levels| {
            levels
                .entry(level)
                .or_insert_with(|| {
                    report_deadline(policy, province, level).map(|d| (d, d.key.to_string()))
                })
                .clone()
        })
    }

    /// [`ReportDeadline::due`], remembered per date for working-day limits.
    pub fn due(
        &mut self,
        province: &str,
        d: ReportDeadline,
        discovered_at: DateTime<Utc>,
        calendar: &WorkingCalendar,
    ) -> Option<DateTime<Utc>> {
        if !d.limit.needs_calendar() {
            return d.due(discovered_at, calendar);
        }
        let key = (province.to_owned(), d.key.level, local_date(discovered_at));
        *self
            .dues
            .entry(key)
            .or_insert_with(|| d.due(discovered_at, calendar))
    }
}

/// A report arriving at or after its deadline is late (the deadline is met strictly before).
pub fn reported_late(received_at: DateTime<Utc>, due: Option<DateTime<Utc>>) -> bool {
    due.is_some_and(|d| received_at >= d)
}

/// The institution's own steps (its tasks); the stored number is the contract's
/// `InstitutionTaskKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskKind {
    /// 2009 mechanism Art. 8(3): a major-or-above event is reported to MIIT within 2 h.
    ReportToMiit = 1,
    /// 2009 mechanism Art. 8(3): the units concerned are notified of a general event
    /// within 5 working days.
    NotifyUnits = 2,
    /// 2009 mechanism Art. 9(5): general events are summed up monthly and reported with
    /// the monthly bulletin (reporting measures Art. 19).
    MonthlySummary = 3,
}

impl TaskKind {
    pub fn from_i64(n: i64) -> Option<TaskKind> {
        match n {
            1 => Some(TaskKind::ReportToMiit),
            2 => Some(TaskKind::NotifyUnits),
            3 => Some(TaskKind::MonthlySummary),
            _ => None,
        }
    }
}

/// The tasks a threat confirmed with `grade` gives its institution, each with the policy
/// entry of its limit (counted from the identification). The mechanism is the only
/// document that sets the institution's steps, so they are read from it whatever the
/// reporting profile.
pub fn institution_tasks(grade: Level) -> Vec<(TaskKind, TimerKey)> {
    let key = |level, step| TimerKey::new(Document::Mechanism2009, level, step);
    match grade {
        Level::ParticularlySerious | Level::Serious | Level::Major => {
            vec![(TaskKind::ReportToMiit, key(grade, Step::InstitutionReport))]
        }
        Level::General => vec![
            (TaskKind::NotifyUnits, key(grade, Step::Notification)),
            (TaskKind::MonthlySummary, key(grade, Step::MonthlySummary)),
        ],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Level::*;

    fn limit(policy: &DeadlinePolicy, level: Level) -> Option<String> {
        report_deadline(policy, "national", level).map(|d| format!("{} = {}", d.key, d.limit))
    }

    fn mechanism() -> DeadlinePolicy {
        DeadlinePolicy::shipped_with("reporting_profile = \"mechanism_2009\"").unwrap()
    }

    #[test]
    fn the_default_profile_follows_the_reporting_measures() {
        let p = DeadlinePolicy::shipped();
        assert_eq!(p.reporting_profile(), Document::Reporting2009);
        let expect = [
            (
                ParticularlySerious,
                "reporting_2009.particularly_serious.report = 2h",
            ),
            (Serious, "reporting_2009.serious.report = 2h"),
            (Major, "reporting_2009.major.report = 4h"),
            (
                General,
                "reporting_2009.general.monthly_summary = monthly 5wd",
            ),
            (Red, "reporting_2009.red.report = 2h"),
            (Orange, "reporting_2009.orange.report = 2h"),
            (Yellow, "reporting_2009.yellow.report = 4h"),
            (Blue, "reporting_2009.blue.report = 5wd"),
        ];
        for (level, want) in expect {
            assert_eq!(limit(&p, level).as_deref(), Some(want), "{level}");
        }
        assert_eq!(limit(&p, Emergency), None);
    }

    #[test]
    fn the_mechanism_profile_gives_major_events_two_hours_and_keeps_warnings_on_the_reporting_measures()
     {
        let p = mechanism();
        assert_eq!(
            limit(&p, Major).as_deref(),
            Some("mechanism_2009.major.report = 2h")
        );
        assert_eq!(
            limit(&p, General).as_deref(),
            Some("mechanism_2009.general.report = 5wd")
        );
        assert_eq!(
            limit(&p, Yellow).as_deref(),
            Some("reporting_2009.yellow.report = 4h")
        );
    }

    #[test]
    fn an_unknown_profile_is_refused() {
        assert!(DeadlinePolicy::shipped_with("reporting_profile = \"platform\"").is_err());
        assert!(DeadlinePolicy::shipped_with("reporting_profile = 3").is_err());
    }

    #[test]
    fn a_batch_computes_each_working_day_deadline_once_per_date_and_hours_exactly() {
        let p = DeadlinePolicy::shipped();
        let calendar = WorkingCalendar::embedded();
        let mut batch = BatchDeadlines::new(&p);
        let (blue, key) = batch.entry("110000", Blue).unwrap();
        assert_eq!(key, "reporting_2009.blue.report");
        let morning: DateTime<Utc> = "2026-03-06T01:00:00Z".parse().unwrap();
        let evening: DateTime<Utc> = "2026-03-06T14:00:00Z".parse().unwrap(); // 22:00 Shanghai
        let next_day: DateTime<Utc> = "2026-03-06T17:00:00Z".parse().unwrap(); // Saturday
        for at in [morning, evening, next_day] {
            assert_eq!(
                batch.due("110000", blue, at, &calendar),
                blue.due(at, &calendar)
            );
        }
        let (serious, _) = batch.entry("110000", Serious).unwrap();
        assert_eq!(
            batch.due("110000", serious, evening, &calendar),
            Some(evening + chrono::Duration::hours(2))
        );
    }

    #[test]
    fn a_report_at_its_deadline_is_late_and_one_without_a_deadline_never() {
        let due: DateTime<Utc> = "2026-03-02T06:00:00Z".parse().unwrap();
        assert!(!reported_late(
            due - chrono::Duration::seconds(1),
            Some(due)
        ));
        assert!(reported_late(due, Some(due)));
        assert!(!reported_late(due, None));
    }

    #[test]
    fn a_blue_warning_discovered_in_a_year_not_loaded_has_no_computable_deadline() {
        let p = DeadlinePolicy::shipped();
        let d = report_deadline(&p, "national", Blue).unwrap();
        let calendar = WorkingCalendar::embedded();
        // Friday 2026-03-06 (Shanghai): 5 working days end 24:00 on Friday 2026-03-13.
        let at: DateTime<Utc> = "2026-03-06T02:00:00Z".parse().unwrap();
        assert_eq!(
            d.due(at, &calendar),
            Some("2026-03-13T16:00:00Z".parse().unwrap())
        );
        let far: DateTime<Utc> = "2099-03-06T02:00:00Z".parse().unwrap();
        assert_eq!(d.due(far, &calendar), None);
    }

    #[test]
    fn major_and_above_give_the_institution_a_report_to_miit_and_general_events_two_tasks() {
        let p = DeadlinePolicy::shipped();
        for grade in [ParticularlySerious, Serious, Major] {
            let tasks = institution_tasks(grade);
            assert_eq!(tasks.len(), 1);
            assert_eq!(tasks[0].0, TaskKind::ReportToMiit);
            assert_eq!(p.limit("national", tasks[0].1), Some(TimeLimit::Hours(2)));
        }
        let general = institution_tasks(General);
        assert_eq!(
            general.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            [TaskKind::NotifyUnits, TaskKind::MonthlySummary]
        );
        assert_eq!(
            p.limit("national", general[0].1),
            Some(TimeLimit::WorkingDays(5))
        );
        assert_eq!(
            p.limit("national", general[1].1),
            Some(TimeLimit::NextMonthWorkingDays(10))
        );
    }
}
