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
    /// The normalised report as stored and shown (protobuf `ThreatReport`).
    pub report: Vec<u8>,
    /// Routable resources of the report (IPs, domains, URLs, mailboxes,
    /// numbers): the units responsible for them may read AMBER (Art. 9).
    pub resources: Vec<String>,
}
