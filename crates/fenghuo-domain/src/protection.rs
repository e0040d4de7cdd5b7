//! Protected systems (Art. 8(3) of the 2017 Measures; 2009 mechanism Art. 9(4), 17, 19).
//!
//! An organisation the registry marks as a party or government organ, a critical information
//! infrastructure operator or an important information system names who must be told of any
//! measure on its resources: its superior authority and the cyberspace administration, or, for
//! an important system, its competent department. The platform informs them itself, so the
//! duty does not hang on an officer remembering a flag.

use serde::{Deserialize, Serialize};

/// What kind of protected system, as numbered in the contract (`ProtectedSystemKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtectedKind {
    PartyOrGovernmentOrgan = 1,
    CriticalInformationInfrastructure = 2,
    ImportantInformationSystem = 3,
}

impl ProtectedKind {
    pub fn from_i32(v: i32) -> Option<Self> {
        match v {
            1 => Some(Self::PartyOrGovernmentOrgan),
            2 => Some(Self::CriticalInformationInfrastructure),
            3 => Some(Self::ImportantInformationSystem),
            _ => None,
        }
    }

    /// Who must be informed (Art. 8(3); 2009 mechanism Art. 9(4)).
    pub fn required(self) -> &'static [InformedKind] {
        match self {
            Self::PartyOrGovernmentOrgan | Self::CriticalInformationInfrastructure => &[
                InformedKind::SuperiorAuthority,
                InformedKind::CyberspaceAdministration,
            ],
            Self::ImportantInformationSystem => &[InformedKind::CompetentDepartment],
        }
    }
}

/// Who is informed, as numbered in the contract (`InformationalAddresseeKind` 1–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InformedKind {
    SuperiorAuthority = 1,
    CyberspaceAdministration = 2,
    CompetentDepartment = 3,
}

impl InformedKind {
    pub fn from_i32(v: i32) -> Option<Self> {
        match v {
            1 => Some(Self::SuperiorAuthority),
            2 => Some(Self::CyberspaceAdministration),
            3 => Some(Self::CompetentDepartment),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SuperiorAuthority => "SUPERIOR_AUTHORITY",
            Self::CyberspaceAdministration => "CYBERSPACE_ADMINISTRATION",
            Self::CompetentDepartment => "COMPETENT_DEPARTMENT",
        }
    }
}

/// One party told of measures: on the platform (`organisation_id`) or off it (`name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformedParty {
    pub kind: InformedKind,
    #[serde(default)]
    pub organisation_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub contact: String,
}

/// Sectors of 2009 mechanism Art. 19, as numbered in the contract (`ImportantSector` 1–11).
pub const SECTORS: std::ops::RangeInclusive<i32> = 1..=11;

/// The registry's mark on an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionMark {
    pub kind: ProtectedKind,
    /// Important information systems only: a value of [`SECTORS`].
    #[serde(default)]
    pub sector: Option<i32>,
    #[serde(default)]
    pub system_name: String,
    pub informed: Vec<InformedParty>,
    /// When and by whom (officer or organisation) the mark was set, in microseconds.
    pub marked_at: i64,
    pub marked_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkError {
    #[error("an important information system names its sector (2009 mechanism Art. 19)")]
    SectorRequired,
    #[error("only an important information system has a sector")]
    SectorNotAllowed,
    #[error("not a sector of 2009 mechanism Art. 19")]
    UnknownSector,
    #[error("Art. 8(3): this kind of protected system also informs {0}")]
    MissingInformed(&'static str),
    #[error("on the platform (organisation_id) or off it with a name")]
    NameRequired { index: usize },
}

impl ProtectionMark {
    /// Checks the mark's rules.
    ///
    /// # Errors
    /// The first [`MarkError`] found.
    pub fn check(&self) -> Result<(), MarkError> {
        match (self.kind, self.sector) {
            (ProtectedKind::ImportantInformationSystem, None) => {
                return Err(MarkError::SectorRequired);
            }
            (ProtectedKind::ImportantInformationSystem, Some(s)) if !SECTORS.contains(&s) => {
                return Err(MarkError::UnknownSector);
            }
            (ProtectedKind::ImportantInformationSystem, Some(_)) | (_, None) => {}
            (_, Some(_)) => return Err(MarkError::SectorNotAllowed),
        }
        if let Some(index) = self
            .informed
            .iter()
            .position(|p| p.organisation_id.is_empty() && p.name.trim().is_empty())
        {
            return Err(MarkError::NameRequired { index });
        }
        match self
            .kind
            .required()
            .iter()
            .find(|k| !self.informed.iter().any(|p| p.kind == **k))
        {
            Some(k) => Err(MarkError::MissingInformed(k.as_str())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(kind: InformedKind, org: &str) -> InformedParty {
        InformedParty {
            kind,
            organisation_id: org.into(),
            name: String::new(),
            contact: String::new(),
        }
    }

    fn mark(
        kind: ProtectedKind,
        sector: Option<i32>,
        informed: Vec<InformedParty>,
    ) -> ProtectionMark {
        ProtectionMark {
            kind,
            sector,
            system_name: "e-filing".into(),
            informed,
            marked_at: 0,
            marked_by: "miit".into(),
        }
    }

    #[test]
    fn an_organ_informs_its_superior_and_the_cyberspace_administration() {
        use InformedKind::*;
        let organ = ProtectedKind::PartyOrGovernmentOrgan;
        let both = vec![
            party(SuperiorAuthority, "gov-gd"),
            party(CyberspaceAdministration, "cac-gd"),
        ];
        assert_eq!(mark(organ, None, both.clone()).check(), Ok(()));
        assert_eq!(
            mark(organ, None, both[..1].to_vec()).check(),
            Err(MarkError::MissingInformed("CYBERSPACE_ADMINISTRATION"))
        );
        assert_eq!(
            mark(organ, Some(3), both).check(),
            Err(MarkError::SectorNotAllowed)
        );
    }

    #[test]
    fn an_important_system_names_its_sector_and_its_competent_department() {
        let system = ProtectedKind::ImportantInformationSystem;
        let dept = vec![party(InformedKind::CompetentDepartment, "")];
        assert_eq!(
            mark(system, Some(5), dept.clone()).check(),
            Err(MarkError::NameRequired { index: 0 })
        );
        let mut named = dept.clone();
        named[0].name = "State Taxation Administration, Guangdong".into();
        assert_eq!(mark(system, Some(5), named.clone()).check(), Ok(()));
        assert_eq!(
            mark(system, None, named.clone()).check(),
            Err(MarkError::SectorRequired)
        );
        assert_eq!(
            mark(system, Some(12), named).check(),
            Err(MarkError::UnknownSector)
        );
    }
}
