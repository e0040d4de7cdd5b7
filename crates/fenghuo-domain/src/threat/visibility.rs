//! Who may read a sighting (issue #3, TLP 2.0). One rule for get, search, the
//! feed and every export:
//! - the national regulator and institutions see everything; a provincial
//!   regulator everything reported from its province or about a resource in it
//!   (Art. 6: reports go to MIIT and the relevant provincial administrations, so
//!   TLP limits sharing among units, not the regulator that must act), elsewhere
//!   what a unit sees;
//! - everyone else by the sighting's own TLP: CLEAR all; GREEN all but affected
//!   parties and informational recipients; AMBER and AMBER+STRICT the reporter
//!   and the units responsible for the threat's indicators; RED the reporter.

use super::Tlp;
use crate::organisation::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// National regulator, institutions (Art. 7 needs every report).
    Everything,
    /// A provincial regulator: sightings reported from its province or about a resource
    /// lying in it, and its own.
    Province { province: String, org: String },
    /// Any other unit, by TLP.
    Unit { org: String, sees_green: bool },
}

impl Reader {
    pub fn new(org: &str, roles: &[Role], province: &str) -> Reader {
        if roles
            .iter()
            .any(|r| matches!(r, Role::NationalRegulator | Role::Institution))
        {
            Reader::Everything
        } else if roles.contains(&Role::ProvincialRegulator) {
            Reader::Province {
                province: province.to_owned(),
                org: org.to_owned(),
            }
        } else {
            let sees_green = roles
                .iter()
                .any(|r| !matches!(r, Role::AffectedParty | Role::InformationalRecipient));
            Reader::Unit {
                org: org.to_owned(),
                sees_green,
            }
        }
    }
}

/// What decides a sighting's visibility.
#[derive(Debug, Clone)]
pub struct SightingFacts<'a> {
    pub tlp: Tlp,
    pub reporter: &'a str,
    pub reporter_province: &'a str,
    /// Whether the reader is responsible for one of the threat's indicators.
    pub reader_responsible: bool,
    /// Whether one of the threat's resources lies in the reader's province (the province
    /// of the ownership entry that routes it, Art. 9).
    pub in_reader_province: bool,
}

pub fn can_see(reader: &Reader, s: &SightingFacts<'_>) -> bool {
    match reader {
        Reader::Everything => true,
        // Its province in full, whoever reported it, and elsewhere no less than any unit.
        Reader::Province { province, org } => {
            s.reporter_province == province || s.in_reader_province || by_tlp(org, true, s)
        }
        Reader::Unit { org, sees_green } => by_tlp(org, *sees_green, s),
    }
}

fn by_tlp(org: &str, sees_green: bool, s: &SightingFacts<'_>) -> bool {
    s.reporter == org
        || match s.tlp {
            Tlp::Clear => true,
            Tlp::Green => sees_green,
            Tlp::Amber | Tlp::AmberStrict => s.reader_responsible,
            Tlp::Red => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(tlp: Tlp, reporter: &str) -> SightingFacts<'_> {
        SightingFacts {
            tlp,
            reporter,
            reporter_province: "110000",
            reader_responsible: false,
            in_reader_province: false,
        }
    }

    #[test]
    fn red_is_for_the_reporter_alone() {
        let other = Reader::new("telecom-gd", &[Role::BasicTelecom], "440000");
        let me = Reader::new("vendor-bj", &[Role::SecurityVendor], "110000");
        assert!(!can_see(&other, &facts(Tlp::Red, "vendor-bj")));
        assert!(can_see(&me, &facts(Tlp::Red, "vendor-bj")));
        assert!(can_see(
            &Reader::new("miit", &[Role::NationalRegulator], "national"),
            &facts(Tlp::Red, "vendor-bj")
        ));
    }

    #[test]
    fn green_excludes_affected_parties_and_informational_recipients() {
        let party = Reader::new("party-gd", &[Role::AffectedParty], "440000");
        let telecom = Reader::new("telecom-gd", &[Role::BasicTelecom], "440000");
        assert!(!can_see(&party, &facts(Tlp::Green, "vendor-bj")));
        assert!(can_see(&party, &facts(Tlp::Clear, "vendor-bj")));
        assert!(can_see(&telecom, &facts(Tlp::Green, "vendor-bj")));
    }

    #[test]
    fn amber_reaches_the_responsible_units() {
        let telecom = Reader::new("telecom-gd", &[Role::BasicTelecom], "440000");
        assert!(!can_see(&telecom, &facts(Tlp::Amber, "vendor-bj")));
        let responsible = SightingFacts {
            reader_responsible: true,
            ..facts(Tlp::AmberStrict, "vendor-bj")
        };
        assert!(can_see(&telecom, &responsible));
    }

    #[test]
    fn a_provincial_regulator_sees_what_was_reported_from_its_province() {
        let gdca = Reader::new("gdca", &[Role::ProvincialRegulator], "440000");
        assert!(!can_see(&gdca, &facts(Tlp::Amber, "vendor-bj")));
        assert!(can_see(&gdca, &facts(Tlp::Green, "vendor-bj")));
        let local = SightingFacts {
            reporter_province: "440000",
            ..facts(Tlp::Red, "telecom-gd")
        };
        assert!(can_see(&gdca, &local));
    }

    #[test]
    fn a_provincial_regulator_sees_a_red_report_about_its_province_from_elsewhere() {
        let gdca = Reader::new("gdca", &[Role::ProvincialRegulator], "440000");
        let about_gd = SightingFacts {
            in_reader_province: true,
            ..facts(Tlp::Red, "vendor-bj")
        };
        assert!(can_see(&gdca, &about_gd));
        let telecom = Reader::new("telecom-gd", &[Role::BasicTelecom], "440000");
        assert!(!can_see(&telecom, &about_gd));
    }
}
