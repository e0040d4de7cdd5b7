//! Event grades from a botnet's scale (2009 mechanism Art. 7): particularly serious when one
//! botnet exceeds 1,000,000 IP addresses, serious above 500,000, major above 100,000, general
//! otherwise. The bureau that wrote the thresholds may revise them (Art. 7, last paragraph),
//! so they are settings (`[grading]` in the configuration), with the text's numbers as default.
//!
//! Several units often report the same control server, each seeing part of it; their counts
//! overlap, so the largest reported scale stands rather than their sum. The "one or more botnets
//! in the same period" of the serious and major grades is a judgement across threats that stays
//! with the institution, which states its reason when its grade departs from the thresholds.

use serde::Deserialize;

/// The four event grades; numbers match `fenghuo.v1.EventGrade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventGrade {
    ParticularlySerious = 1,
    Serious = 2,
    Major = 3,
    General = 4,
}

impl EventGrade {
    pub fn from_i32(n: i32) -> Option<EventGrade> {
        match n {
            1 => Some(EventGrade::ParticularlySerious),
            2 => Some(EventGrade::Serious),
            3 => Some(EventGrade::Major),
            4 => Some(EventGrade::General),
            _ => None,
        }
    }

    pub fn as_i32(self) -> i32 {
        self as i32
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventGrade::ParticularlySerious => "particularly serious",
            EventGrade::Serious => "serious",
            EventGrade::Major => "major",
            EventGrade::General => "general",
        }
    }
}

/// Bot counts a botnet must exceed for each grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradeThresholds {
    pub particularly_serious_bots: u64,
    pub serious_bots: u64,
    pub major_bots: u64,
}

impl Default for GradeThresholds {
    fn default() -> Self {
        GradeThresholds {
            particularly_serious_bots: 1_000_000,
            serious_bots: 500_000,
            major_bots: 100_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    #[error(
        "grading thresholds must fall from particularly serious to major: {particularly_serious} > {serious} > {major} > 0"
    )]
    NotDescending {
        particularly_serious: u64,
        serious: u64,
        major: u64,
    },
}

impl GradeThresholds {
    /// # Errors
    /// [`ThresholdError::NotDescending`] unless each grade needs more bots than the next.
    pub fn validated(self) -> Result<Self, ThresholdError> {
        if self.particularly_serious_bots > self.serious_bots
            && self.serious_bots > self.major_bots
            && self.major_bots > 0
        {
            Ok(self)
        } else {
            Err(ThresholdError::NotDescending {
                particularly_serious: self.particularly_serious_bots,
                serious: self.serious_bots,
                major: self.major_bots,
            })
        }
    }

    /// The grade a botnet of `bots` IP addresses is given by the thresholds.
    pub fn grade(&self, bots: u64) -> EventGrade {
        if bots > self.particularly_serious_bots {
            EventGrade::ParticularlySerious
        } else if bots > self.serious_bots {
            EventGrade::Serious
        } else if bots > self.major_bots {
            EventGrade::Major
        } else {
            EventGrade::General
        }
    }

    /// The grade of the largest of the reported scales; None when nobody reported one.
    pub fn grade_of_reports(
        &self,
        bot_counts: impl IntoIterator<Item = u64>,
    ) -> Option<(EventGrade, u64)> {
        let largest = bot_counts.into_iter().filter(|b| *b > 0).max()?;
        Some((self.grade(largest), largest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_grade_starts_above_its_threshold() {
        let t = GradeThresholds::default();
        assert_eq!(t.grade(1_000_001), EventGrade::ParticularlySerious);
        assert_eq!(t.grade(1_000_000), EventGrade::Serious);
        assert_eq!(t.grade(500_001), EventGrade::Serious);
        assert_eq!(t.grade(500_000), EventGrade::Major);
        assert_eq!(t.grade(100_001), EventGrade::Major);
        assert_eq!(t.grade(100_000), EventGrade::General);
        assert_eq!(t.grade(0), EventGrade::General);
    }

    #[test]
    fn the_largest_reported_scale_decides_and_none_reported_gives_none() {
        let t = GradeThresholds::default();
        assert_eq!(
            t.grade_of_reports([120_000, 0, 600_000]),
            Some((EventGrade::Serious, 600_000))
        );
        assert_eq!(t.grade_of_reports([0, 0]), None);
        assert_eq!(t.grade_of_reports([]), None);
    }

    #[test]
    fn thresholds_out_of_order_are_refused() {
        let t = GradeThresholds {
            serious_bots: 2_000_000,
            ..GradeThresholds::default()
        };
        assert!(t.validated().is_err());
        assert!(GradeThresholds::default().validated().is_ok());
    }
}
