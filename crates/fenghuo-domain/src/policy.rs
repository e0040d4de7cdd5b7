//! The deadline policy: how long each step of the disposal flow may take.
//!
//! Every timer is keyed by (document, grade or colour, step), because the 2009 documents
//! disagree (a "major" event is reported within 2 h under the mechanism, 4 h under the
//! reporting measures). The default, `data/policy/default.toml`, reproduces both documents and
//! the platform's own receipt limits; a policy file may override entries for the country or,
//! per Art. 14 of the 2017 Measures, for one province.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;

use super::calendar::{CalendarError, WorkingCalendar};
use super::organisation::Province;

/// Longest hour limit accepted: a year. Anything longer is a typo for working days.
const MAX_HOURS: u32 = 8784;
/// Longest working-day limit accepted (about four years).
const MAX_WORKING_DAYS: u32 = 1000;

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vm])* $variant),* }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// The rule set a timer comes from.
    Document {
        /// 木马和僵尸网络监测与处置机制 (MIIT 2009; see docs/measures.md).
        Mechanism2009 = "mechanism_2009",
        /// 互联网网络安全信息通报实施办法 (MIIT 2009; see docs/measures.md).
        Reporting2009 = "reporting_2009",
        /// The platform's own defaults for disposal notices (2017 Measures).
        Platform = "platform",
    }
);

named_enum!(
    /// An event grade (mechanism Art. 7, reporting Art. 11), a warning colour (reporting
    /// Art. 11), or an emergency (2017 Measures Art. 13).
    Level {
        ParticularlySerious = "particularly_serious",
        Serious = "serious",
        Major = "major",
        General = "general",
        Red = "red",
        Orange = "orange",
        Yellow = "yellow",
        Blue = "blue",
        Emergency = "emergency",
    }
);

named_enum!(
    /// A step of the flow that has a time limit.
    Step {
        Report = "report",
        Notification = "notification",
        Receipt = "receipt",
        Feedback = "feedback",
        Verification = "verification",
        SelfVerification = "self_verification",
        ResultReport = "result_report",
        MonthlySummary = "monthly_summary",
        Bulletin = "bulletin",
        /// The institution reports a major-or-above event to MIIT (2009 mechanism Art. 8(3)).
        InstitutionReport = "institution_report",
    }
);

impl Level {
    /// A warning colour (reporting measures Art. 11), as opposed to an event grade.
    pub fn is_colour(self) -> bool {
        matches!(
            self,
            Level::Red | Level::Orange | Level::Yellow | Level::Blue
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerKey {
    pub document: Document,
    pub level: Level,
    pub step: Step,
}

impl TimerKey {
    pub fn new(document: Document, level: Level, step: Step) -> Self {
        Self {
            document,
            level,
            step,
        }
    }
}

impl fmt::Display for TimerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.document, self.level, self.step)
    }
}

/// How long a step may take; written "2h", "5wd" or "monthly 5wd".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLimit {
    /// Calendar hours from the event.
    Hours(u32),
    /// Working days counted from the day after the event; due 24:00 Asia/Shanghai of the N-th.
    WorkingDays(u32),
    /// Within the first N working days of the month after the event's month (monthly reports).
    NextMonthWorkingDays(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "time limit {0:?} is not \"<hours>h\", \"<working days>wd\" or \"monthly <working days>wd\" (at least 1, at most {MAX_HOURS} h or {MAX_WORKING_DAYS} wd)"
)]
pub struct TimeLimitError(pub String);

impl FromStr for TimeLimit {
    type Err = TimeLimitError;

    fn from_str(raw: &str) -> Result<Self, TimeLimitError> {
        let bad = || TimeLimitError(raw.to_owned());
        let number = |digits: &str, max: u32| -> Result<u32, TimeLimitError> {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            match digits.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(bad()),
            }
        };
        let s = raw.trim();
        if let Some(rest) = s.strip_prefix("monthly ") {
            let days = rest.trim().strip_suffix("wd").ok_or_else(bad)?;
            Ok(TimeLimit::NextMonthWorkingDays(number(
                days,
                MAX_WORKING_DAYS,
            )?))
        } else if let Some(days) = s.strip_suffix("wd") {
            Ok(TimeLimit::WorkingDays(number(days, MAX_WORKING_DAYS)?))
        } else if let Some(hours) = s.strip_suffix('h') {
            Ok(TimeLimit::Hours(number(hours, MAX_HOURS)?))
        } else {
            Err(bad())
        }
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeLimit::Hours(h) => write!(f, "{h}h"),
            TimeLimit::WorkingDays(n) => write!(f, "{n}wd"),
            TimeLimit::NextMonthWorkingDays(n) => write!(f, "monthly {n}wd"),
        }
    }
}

impl TimeLimit {
    /// Whether computing the due instant needs the working-day calendar.
    pub fn needs_calendar(self) -> bool {
        !matches!(self, TimeLimit::Hours(_))
    }

    /// The instant a step triggered at `event` falls due; it is met strictly before it.
    ///
    /// # Errors
    /// Working-day limits fail like [`WorkingCalendar::deadline_after`]:
    /// [`CalendarError::PastLoadedYears`] means "pending until the next year is loaded".
    pub fn due_at(
        self,
        event: DateTime<Utc>,
        calendar: &WorkingCalendar,
    ) -> Result<DateTime<Utc>, CalendarError> {
        match self {
            TimeLimit::Hours(h) => Ok(event + Duration::hours(i64::from(h))),
            TimeLimit::WorkingDays(n) => calendar.deadline_after(event, n),
            TimeLimit::NextMonthWorkingDays(n) => {
                // Counting from the month's last day makes day 1 the first of the next month.
                let local = event.with_timezone(&Shanghai).date_naive();
                let last = last_day_of_month(local);
                let noon = Shanghai
                    .from_local_datetime(
                        &last.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN)),
                    )
                    .single()
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(event);
                calendar.deadline_after(noon, n)
            }
        }
    }
}

fn last_day_of_month(day: NaiveDate) -> NaiveDate {
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|first| first.pred_opt())
        .unwrap_or(day)
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("{path}: expected a table of {what}")]
    NotATable { path: String, what: &'static str },
    #[error("{path}: unknown document {name:?} (known: {})", names(Document::ALL))]
    UnknownDocument { path: String, name: String },
    #[error(
        "{path}: unknown grade or colour {name:?} (known: {})",
        names(Level::ALL)
    )]
    UnknownLevel { path: String, name: String },
    #[error("{path}: unknown step {name:?} (known: {})", names(Step::ALL))]
    UnknownStep { path: String, name: String },
    #[error("{path}: {source}")]
    BadLimit {
        path: String,
        source: TimeLimitError,
    },
    #[error(
        "reporting_profile: {0:?} is not a reporting rule set (reporting_2009 or mechanism_2009)"
    )]
    BadProfile(String),
    #[error("{path}: {source}")]
    BadProvince {
        path: String,
        source: super::organisation::ProvinceError,
    },
}

fn names<T: fmt::Display>(all: &[T]) -> String {
    all.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

type Limits = BTreeMap<TimerKey, TimeLimit>;

static DEFAULT: LazyLock<DeadlinePolicy> = LazyLock::new(|| {
    DeadlinePolicy::default()
        .overlay(include_str!("../../../data/policy/default.toml"))
        .unwrap_or_else(|e| panic!("data/policy/default.toml is invalid: {e}"))
});

/// The limits in force: national entries, and per-province overrides (Art. 14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlinePolicy {
    national: Limits,
    provinces: BTreeMap<String, Limits>,
    /// Whose limits a unit's report follows (see [`crate::reporting`]).
    reporting_profile: Document,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        Self {
            national: Limits::new(),
            provinces: BTreeMap::new(),
            reporting_profile: Document::Reporting2009,
        }
    }
}

impl DeadlinePolicy {
    /// The policy shipped in the binary.
    pub fn shipped() -> Self {
        DEFAULT.clone()
    }

    /// The shipped policy with a policy file's entries laid over it.
    pub fn shipped_with(file_text: &str) -> Result<Self, PolicyError> {
        Self::shipped().overlay(file_text)
    }

    /// Lays the entries of a policy file over this policy: an entry replaces the same key.
    pub fn overlay(mut self, text: &str) -> Result<Self, PolicyError> {
        let table: toml::Table = toml::from_str(text)?;
        for (name, value) in &table {
            if name == "reporting_profile" {
                let raw = value.as_str().unwrap_or_default();
                self.reporting_profile = match Document::parse(raw) {
                    Some(d @ (Document::Reporting2009 | Document::Mechanism2009)) => d,
                    _ => return Err(PolicyError::BadProfile(value.to_string())),
                };
            } else if name == "provinces" {
                let provinces = as_table(value, "provinces", "provinces")?;
                for (code, docs) in provinces {
                    let path = format!("provinces.{code}");
                    let province = match Province::parse(code) {
                        Ok(Province::Code(c)) => c,
                        Ok(Province::National) => {
                            // The national entries live at the top level.
                            read_documents(
                                as_table(docs, &path, "documents")?,
                                &path,
                                &mut self.national,
                            )?;
                            continue;
                        }
                        Err(source) => return Err(PolicyError::BadProvince { path, source }),
                    };
                    let limits = self.provinces.entry(province).or_default();
                    read_documents(as_table(docs, &path, "documents")?, &path, limits)?;
                }
            } else {
                let single = toml::Table::from_iter([(name.clone(), value.clone())]);
                read_documents(&single, "", &mut self.national)?;
            }
        }
        Ok(self)
    }

    /// The limit of `key` in `province` ("national" or a GB/T 2260 code): the province's
    /// override if it has one, else the national entry; `None` when the policy has no such timer.
    pub fn limit(&self, province: &str, key: TimerKey) -> Option<TimeLimit> {
        self.provinces
            .get(province)
            .and_then(|p| p.get(&key))
            .or_else(|| self.national.get(&key))
            .copied()
    }

    /// The time a unit has to acknowledge receipt (送达) of a disposal notice: the emergency
    /// entry for emergencies (Art. 13), else the notice's grade.
    pub fn receipt_limit(
        &self,
        province: &str,
        grade: Level,
        emergency: bool,
    ) -> Option<TimeLimit> {
        let level = if emergency { Level::Emergency } else { grade };
        self.limit(
            province,
            TimerKey::new(Document::Platform, level, Step::Receipt),
        )
    }

    /// The rule set units' reporting deadlines follow: `reporting_2009` (the default, the
    /// reporting measures) or `mechanism_2009`, set by `reporting_profile` in a policy file.
    pub fn reporting_profile(&self) -> Document {
        self.reporting_profile
    }

    /// Every national entry, for listing.
    pub fn entries(&self) -> impl Iterator<Item = (TimerKey, TimeLimit)> + '_ {
        self.national.iter().map(|(k, v)| (*k, *v))
    }
}

fn as_table<'a>(
    value: &'a toml::Value,
    path: &str,
    what: &'static str,
) -> Result<&'a toml::Table, PolicyError> {
    value.as_table().ok_or_else(|| PolicyError::NotATable {
        path: path.to_owned(),
        what,
    })
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Reads `document.level.step = "limit"` entries into `into`.
fn read_documents(docs: &toml::Table, path: &str, into: &mut Limits) -> Result<(), PolicyError> {
    for (doc_name, levels) in docs {
        let doc_path = join(path, doc_name);
        let document = Document::parse(doc_name).ok_or_else(|| PolicyError::UnknownDocument {
            path: doc_path.clone(),
            name: doc_name.clone(),
        })?;
        for (level_name, steps) in as_table(levels, &doc_path, "grades or colours")? {
            let level_path = join(&doc_path, level_name);
            let level = Level::parse(level_name).ok_or_else(|| PolicyError::UnknownLevel {
                path: level_path.clone(),
                name: level_name.clone(),
            })?;
            for (step_name, limit) in as_table(steps, &level_path, "steps")? {
                let step_path = join(&level_path, step_name);
                let step = Step::parse(step_name).ok_or_else(|| PolicyError::UnknownStep {
                    path: step_path.clone(),
                    name: step_name.clone(),
                })?;
                let raw = limit.as_str().ok_or_else(|| PolicyError::BadLimit {
                    path: step_path.clone(),
                    source: TimeLimitError(limit.to_string()),
                })?;
                let limit = raw.parse().map_err(|source| PolicyError::BadLimit {
                    path: step_path.clone(),
                    source,
                })?;
                into.insert(TimerKey::new(document, level, step), limit);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
