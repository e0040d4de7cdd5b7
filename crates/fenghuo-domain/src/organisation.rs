//! Organisations, their roles and their jurisdiction (Art. 5 of the 2017 Measures).

use std::fmt;

/// The parties of the Measures. An organisation may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    NationalRegulator,
    ProvincialRegulator,
    Institution,
    PlatformOperator,
    BasicTelecom,
    InternetEnterprise,
    SecurityVendor,
    DomainRegistry,
    DomainRegistrar,
    AffectedParty,
    InformationalRecipient,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::NationalRegulator,
        Role::ProvincialRegulator,
        Role::Institution,
        Role::PlatformOperator,
        Role::BasicTelecom,
        Role::InternetEnterprise,
        Role::SecurityVendor,
        Role::DomainRegistry,
        Role::DomainRegistrar,
        Role::AffectedParty,
        Role::InformationalRecipient,
    ];

    /// The stored and documented name (the columns of docs/authorization.md).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::NationalRegulator => "national_regulator",
            Role::ProvincialRegulator => "provincial_regulator",
            Role::Institution => "institution",
            Role::PlatformOperator => "platform_operator",
            Role::BasicTelecom => "basic_telecom",
            Role::InternetEnterprise => "internet_enterprise",
            Role::SecurityVendor => "security_vendor",
            Role::DomainRegistry => "domain_registry",
            Role::DomainRegistrar => "domain_registrar",
            Role::AffectedParty => "affected_party",
            Role::InformationalRecipient => "informational_recipient",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn is_regulator(self) -> bool {
        matches!(self, Role::NationalRegulator | Role::ProvincialRegulator)
    }

    /// Whether the organisation signs documents on the platform: regulators their notices
    /// (Art. 8), the institution its monthly bulletin (2009 reporting measures Art. 19).
    pub fn signs_documents(self) -> bool {
        self.is_regulator() || self == Role::Institution
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OrganisationIdError {
    #[error("organisation id must be 3 to 64 characters (got {0})")]
    Length(usize),
    #[error(
        "organisation id may contain only lower-case letters, digits, '-' and '.' (found {0:?})"
    )]
    Character(char),
    #[error("organisation id must start with a letter or digit")]
    Start,
}

/// An organisation's stable identifier, named in its certificates as
/// `urn:fenghuo:org:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrganisationId(String);

impl OrganisationId {
    pub fn parse(raw: &str) -> Result<Self, OrganisationIdError> {
        let n = raw.chars().count();
        if !(3..=64).contains(&n) {
            return Err(OrganisationIdError::Length(n));
        }
        if let Some(c) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
        {
            return Err(OrganisationIdError::Character(c));
        }
        if !raw.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(OrganisationIdError::Start);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SAN URI that binds a certificate to this organisation.
    pub fn certificate_uri(&self) -> String {
        format!("{CERTIFICATE_URI_PREFIX}{}", self.0)
    }
}

pub const CERTIFICATE_URI_PREFIX: &str = "urn:fenghuo:org:";

impl fmt::Display for OrganisationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "province must be \"national\" or a GB/T 2260 province-level code (six digits ending in 0000, e.g. 440000), got {0:?}"
)]
pub struct ProvinceError(pub String);

/// Jurisdiction: national, or a province-level division by its GB/T 2260 code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Province {
    National,
    Code(String),
}

/// GB/T 2260 province-level divisions (including HK, MO, TW codes).
const PROVINCE_CODES: [&str; 34] = [
    "110000", "120000", "130000", "140000", "150000", "210000", "220000", "230000", "310000",
    "320000", "330000", "340000", "350000", "360000", "370000", "410000", "420000", "430000",
    "440000", "450000", "460000", "500000", "510000", "520000", "530000", "540000", "610000",
    "620000", "630000", "640000", "650000", "710000", "810000", "820000",
];

/// The name of a province-level division, in Chinese and in English, by its GB/T 2260 code.
pub fn province_name(code: &str) -> Option<(&'static str, &'static str)> {
    const NAMES: [(&str, &str, &str); 34] = [
        ("110000", "北京", "Beijing"),
        ("120000", "天津", "Tianjin"),
        ("130000", "河北", "Hebei"),
        ("140000", "山西", "Shanxi"),
        ("150000", "内蒙古", "Inner Mongolia"),
        ("210000", "辽宁", "Liaoning"),
        ("220000", "吉林", "Jilin"),
        ("230000", "黑龙江", "Heilongjiang"),
        ("310000", "上海", "Shanghai"),
        ("320000", "江苏", "Jiangsu"),
        ("330000", "浙江", "Zhejiang"),
        ("340000", "安徽", "Anhui"),
        ("350000", "福建", "Fujian"),
        ("360000", "江西", "Jiangxi"),
        ("370000", "山东", "Shandong"),
        ("410000", "河南", "Henan"),
        ("420000", "湖北", "Hubei"),
        ("430000", "湖南", "Hunan"),
        ("440000", "广东", "Guangdong"),
        ("450000", "广西", "Guangxi"),
        ("460000", "海南", "Hainan"),
        ("500000", "重庆", "Chongqing"),
        ("510000", "四川", "Sichuan"),
        ("520000", "贵州", "Guizhou"),
        ("530000", "云南", "Yunnan"),
        ("540000", "西藏", "Xizang"),
        ("610000", "陕西", "Shaanxi"),
        ("620000", "甘肃", "Gansu"),
        ("630000", "青海", "Qinghai"),
        ("640000", "宁夏", "Ningxia"),
        ("650000", "新疆", "Xinjiang"),
        ("710000", "台湾", "Taiwan"),
        ("810000", "香港", "Hong Kong"),
        ("820000", "澳门", "Macao"),
    ];
    NAMES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, zh, en)| (*zh, *en))
}

impl Province {
    pub fn parse(raw: &str) -> Result<Self, ProvinceError> {
        if raw == "national" {
            Ok(Province::National)
        } else if PROVINCE_CODES.contains(&raw) {
            Ok(Province::Code(raw.to_owned()))
        } else {
            Err(ProvinceError(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Province::National => "national",
            Province::Code(c) => c,
        }
    }
}

#[cfg(test)]
mod province_name_tests {
    #[test]
    fn every_province_code_has_a_name() {
        for code in super::PROVINCE_CODES {
            assert!(super::province_name(code).is_some(), "{code}");
        }
        assert_eq!(super::province_name("440000"), Some(("广东", "Guangdong")));
        assert_eq!(super::province_name("440100"), None);
    }
}

/// An organisation's display name: trimmed, 1 to 200 characters.
pub fn organisation_name(raw: &str) -> Result<&str, &'static str> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        Err("required, at most 200 characters")
    } else {
        Ok(name)
    }
}

/// Whether `roles` fit `province`: the national regulator is national, a provincial one is not.
pub fn roles_fit_province(roles: &[Role], province: &Province) -> Result<(), &'static str> {
    if roles.contains(&Role::NationalRegulator) && *province != Province::National {
        return Err("a national regulator's province is \"national\"");
    }
    if roles.contains(&Role::ProvincialRegulator) && *province == Province::National {
        return Err("a provincial regulator needs its GB/T 2260 province code");
    }
    Ok(())
}

impl fmt::Display for Province {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use super::contacts::{Contact, ContactRole};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn organisation_ids_refuse_upper_case_and_short_names() {
        assert!(OrganisationId::parse("telecom-gd").is_ok());
        assert_eq!(
            OrganisationId::parse("ab"),
            Err(OrganisationIdError::Length(2))
        );
        assert_eq!(
            OrganisationId::parse("Telecom"),
            Err(OrganisationIdError::Character('T'))
        );
        assert_eq!(
            OrganisationId::parse("-abc"),
            Err(OrganisationIdError::Start)
        );
    }

    #[test]
    fn provinces_are_national_or_a_province_level_code() {
        assert_eq!(Province::parse("national"), Ok(Province::National));
        assert!(Province::parse("440000").is_ok());
        assert!(Province::parse("440100").is_err());
        assert!(Province::parse("guangdong").is_err());
    }
}
