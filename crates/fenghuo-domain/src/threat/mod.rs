//! Threats of Art. 2 of the 2017 Measures: intake rules, dedup keys, visibility.

pub mod indicator;
pub mod visibility;

use chrono::{DateTime, Utc};

/// Traffic Light Protocol 2.0; the stored number is the contract's enum value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    Clear = 1,
    Green = 2,
    Amber = 3,
    AmberStrict = 4,
    Red = 5,
}

impl Tlp {
    pub fn from_i64(v: i64) -> Option<Tlp> {
        Some(match v {
            1 => Tlp::Clear,
            2 => Tlp::Green,
            3 => Tlp::Amber,
            4 => Tlp::AmberStrict,
            5 => Tlp::Red,
            _ => return None,
        })
    }
}

/// The five categories of Art. 2; the stored number is the item of the article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    MaliciousResource = 1,
    MaliciousProgram = 2,
    SecurityHazard = 3,
    SecurityIncident = 4,
    Other = 5,
}

impl Category {
    pub fn from_i64(v: i64) -> Option<Category> {
        Some(match v {
            1 => Category::MaliciousResource,
            2 => Category::MaliciousProgram,
            3 => Category::SecurityHazard,
            4 => Category::SecurityIncident,
            5 => Category::Other,
            _ => return None,
        })
    }
}

/// A validated, normalised submission, ready to be stored.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The unit's idempotency key.
    pub submission_id: String,
    /// SHA-256 of the submission as received: "same content" for idempotency.
    pub content_sha256: String,
    /// None only for a follow-up that omits it (reporting measures Art. 16).
    pub category: Option<Category>,
    /// Where duplicates meet; None for category 5 and id-less hazards.
    pub dedup_key: Option<String>,
    /// The normalised indicator, for people.
    pub indicator: String,
    pub tlp: Tlp,
    pub discovered_at: DateTime<Utc>,
    /// Reporting measures Art. 16: the threat this report follows up.
    pub follows_up: Option<String>,
    /// The grade or colour of a first report, which sets its deadline (reporting measures
    /// Art. 13); None for a follow-up, which has none.
    pub report_level: Option<crate::policy::Level>,
    /// The normalised report as stored and shown (protobuf `ThreatReport`).
    pub report: Vec<u8>,
    /// Routable resources of the report (IPs, domains, URLs, mailboxes,
    /// numbers): the units responsible for them may read AMBER (Art. 9).
    pub resources: Vec<String>,
}

/// Where a threat stands in identification (Art. 7); the stored number is the contract's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreatStatus {
    Unidentified = 1,
    Confirmed = 2,
    Rejected = 3,
}

/// A stored threat status the contract does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a threat status")]
pub struct UnknownThreatStatus(pub i64);

impl TryFrom<i64> for ThreatStatus {
    type Error = UnknownThreatStatus;

    fn try_from(n: i64) -> Result<Self, Self::Error> {
        ThreatStatus::from_i64(n).ok_or(UnknownThreatStatus(n))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identification {
    Confirm,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the threat was already identified ({0:?}); an identification is final (Art. 7)")]
pub struct AlreadyIdentified(pub ThreatStatus);

impl ThreatStatus {
    pub fn from_i64(v: i64) -> Option<ThreatStatus> {
        Some(match v {
            1 => ThreatStatus::Unidentified,
            2 => ThreatStatus::Confirmed,
            3 => ThreatStatus::Rejected,
            _ => return None,
        })
    }

    /// Identification happens once: unidentified → confirmed or rejected.
    pub fn transition(self, event: Identification) -> Result<ThreatStatus, AlreadyIdentified> {
        match (self, event) {
            (ThreatStatus::Unidentified, Identification::Confirm) => Ok(ThreatStatus::Confirmed),
            (ThreatStatus::Unidentified, Identification::Reject) => Ok(ThreatStatus::Rejected),
            (done, _) => Err(AlreadyIdentified(done)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threat_is_identified_once() {
        assert_eq!(
            ThreatStatus::Unidentified.transition(Identification::Confirm),
            Ok(ThreatStatus::Confirmed)
        );
        assert_eq!(
            ThreatStatus::Unidentified.transition(Identification::Reject),
            Ok(ThreatStatus::Rejected)
        );
        assert_eq!(
            ThreatStatus::Confirmed.transition(Identification::Reject),
            Err(AlreadyIdentified(ThreatStatus::Confirmed))
        );
    }
}
