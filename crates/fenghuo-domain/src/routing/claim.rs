//! Who may claim what in the ownership registry.
//!
//! Art. 8 and 9 of the 2017 Measures address blocking and removal to the unit
//! that *provides* the service (basic telecom and internet enterprises, domain
//! registries and registrars); Art. 10 gives the *affected* organisation or
//! person standing to appeal. So an entry is either a responsibility (routes
//! notices) or a holding (standing, and the Art. 10 informational notice) —
//! never both — and a responsibility that overlaps another unit's waits for the
//! regulator's approval (issue #18 item 5).

use std::net::IpAddr;

use ipnet::IpNet;

use super::entry::{OwnershipEntry, OwnershipKind};
use super::indicator;
use crate::organisation::{Province, Role};

/// Why an organisation is in an entry; numbers match `fenghuo.v1.OwnershipRelation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Relation {
    /// The provider that must act on a notice: routing follows it.
    #[default]
    Responsible,
    /// The customer or party that uses the resource: standing to appeal, informed of measures.
    Holder,
}

impl Relation {
    /// `OWNERSHIP_RELATION_UNSPECIFIED` (0) reads as responsible, the registry's meaning
    /// before holdings existed; `None` for unknown numbers.
    pub fn from_i32(n: i32) -> Option<Self> {
        match n {
            0 | 1 => Some(Relation::Responsible),
            2 => Some(Relation::Holder),
            _ => None,
        }
    }

    pub fn as_i32(self) -> i32 {
        match self {
            Relation::Responsible => 1,
            Relation::Holder => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Responsible => "responsible",
            Relation::Holder => "holder",
        }
    }

    /// `responsible`, `holder`, or empty (responsible), as the CSV import writes it.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim() {
            "" | "responsible" => Some(Relation::Responsible),
            "holder" => Some(Relation::Holder),
            _ => None,
        }
    }
}

/// Whether an entry counts yet; numbers match `fenghuo.v1.OwnershipApproval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Approval {
    #[default]
    Approved,
    /// Waits for the regulator of the entry's province or the national regulator.
    Pending,
    Refused,
}

impl Approval {
    pub fn as_i32(self) -> i32 {
        match self {
            Approval::Approved => 1,
            Approval::Pending => 2,
            Approval::Refused => 3,
        }
    }

    pub fn from_i32(n: i32) -> Option<Self> {
        match n {
            1 => Some(Approval::Approved),
            2 => Some(Approval::Pending),
            3 => Some(Approval::Refused),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error(
        "Art. 8, 9: only a {needs} is responsible for a {kind} entry; {owner} is {roles} (declare it as a holder instead)"
    )]
    NotAProvider {
        kind: OwnershipKind,
        needs: &'static str,
        owner: String,
        roles: String,
    },
    #[error(
        "a holder entry is an ip_prefix, registered_domain, mail_domain or number_prefix (the resources a measure targets), not a {0}"
    )]
    HolderKind(OwnershipKind),
    #[error(
        "\"national\" is a regulator's jurisdiction, never a resource's province: name the GB/T 2260 code of the province where the resource is used"
    )]
    NationalProvince,
    #[error(
        "the owner {0} is registered as national: name the GB/T 2260 code of the province where the resource is used"
    )]
    ProvinceRequired(String),
    #[error("{0}")]
    BadProvince(String),
}

/// The roles that may be responsible for an entry of `kind` (Art. 8(1), 9), and how the
/// rule reads.
pub fn responsible_roles(kind: OwnershipKind) -> (&'static [Role], &'static str) {
    use OwnershipKind as K;
    match kind {
        K::IpPrefix | K::Asn | K::PrefixOrigin => (
            &[Role::BasicTelecom, Role::InternetEnterprise],
            "basic_telecom or internet_enterprise (the network or data centre that carries the address)",
        ),
        K::RegisteredDomain => (
            &[Role::DomainRegistrar],
            "domain_registrar (the registrar that registered the domain)",
        ),
        K::RegistrySuffix => (
            &[Role::DomainRegistry],
            "domain_registry (the domestic registry running the suffix, 2009 mechanism Art. 4)",
        ),
        K::MailDomain => (
            &[
                Role::BasicTelecom,
                Role::InternetEnterprise,
                Role::DomainRegistrar,
            ],
            "basic_telecom, internet_enterprise or domain_registrar (the mail service provider)",
        ),
        K::NumberPrefix => (
            &[Role::BasicTelecom],
            "basic_telecom (the operator of the number range)",
        ),
    }
}

/// Whether `owner` with `roles` may hold `relation` for an entry of `kind`.
///
/// # Errors
/// [`ClaimError::NotAProvider`] for a responsibility without a fitting provider role,
/// [`ClaimError::HolderKind`] for a holding of a kind no measure targets.
pub fn check_claim(
    kind: OwnershipKind,
    relation: Relation,
    owner: &str,
    roles: &[Role],
) -> Result<(), ClaimError> {
    match relation {
        Relation::Responsible => {
            let (fit, needs) = responsible_roles(kind);
            if roles.iter().any(|r| fit.contains(r)) {
                Ok(())
            } else {
                Err(ClaimError::NotAProvider {
                    kind,
                    needs,
                    owner: owner.to_owned(),
                    roles: role_list(roles),
                })
            }
        }
        Relation::Holder => match kind {
            OwnershipKind::IpPrefix
            | OwnershipKind::RegisteredDomain
            | OwnershipKind::MailDomain
            | OwnershipKind::NumberPrefix => Ok(()),
            other => Err(ClaimError::HolderKind(other)),
        },
    }
}

pub fn role_list(roles: &[Role]) -> String {
    if roles.is_empty() {
        return "without roles".into();
    }
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The province of an entry (#11 item 2): the owner's unless another is declared;
/// "national" never.
///
/// # Errors
/// [`ClaimError::NationalProvince`], [`ClaimError::ProvinceRequired`] for a national
/// owner declaring none, [`ClaimError::BadProvince`] for an unknown code.
pub fn entry_province(
    owner: &str,
    owner_province: &str,
    declared: &str,
) -> Result<String, ClaimError> {
    let declared = declared.trim();
    let raw = if declared.is_empty() {
        if owner_province == Province::National.as_str() {
            return Err(ClaimError::ProvinceRequired(owner.to_owned()));
        }
        owner_province
    } else {
        declared
    };
    match Province::parse(raw) {
        Ok(Province::National) => Err(ClaimError::NationalProvince),
        Ok(p) => Ok(p.to_string()),
        Err(e) => Err(ClaimError::BadProvince(e.to_string())),
    }
}

/// Whether `outer` covers the value of `inner` (same kind, canonical values): the same
/// value, a prefix containing it, a parent domain or suffix, a shorter number prefix.
pub fn covers(outer: &OwnershipEntry, inner: &OwnershipEntry) -> bool {
    if outer.kind != inner.kind {
        return false;
    }
    use OwnershipKind as K;
    match outer.kind {
        K::IpPrefix | K::PrefixOrigin => {
            match (outer.value.parse::<IpNet>(), inner.value.parse::<IpNet>()) {
                (Ok(o), Ok(i)) => o.contains(&i),
                _ => false,
            }
        }
        K::Asn => outer.value == inner.value,
        K::RegisteredDomain | K::RegistrySuffix | K::MailDomain => {
            within_domain(&inner.value, &outer.value)
        }
        K::NumberPrefix => inner.value.starts_with(&outer.value),
    }
}

fn within_domain(name: &str, domain: &str) -> bool {
    name == domain
        || name
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// A resource a measure targets, as a holding is matched against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    Ip(IpAddr),
    /// A domain, or the host of a URL: lower-case A-label.
    Domain(&'a str),
    /// A normalised e-mail address.
    Email(&'a str),
    /// E.164, `+` and digits.
    Phone(&'a str),
}

/// A [`Target`] that owns its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedTarget {
    Ip(IpAddr),
    Domain(String),
    Email(String),
    Phone(String),
}

impl OwnedTarget {
    pub fn as_target(&self) -> Target<'_> {
        match self {
            OwnedTarget::Ip(ip) => Target::Ip(*ip),
            OwnedTarget::Domain(d) => Target::Domain(d),
            OwnedTarget::Email(e) => Target::Email(e),
            OwnedTarget::Phone(p) => Target::Phone(p),
        }
    }

    /// A URL's host: its IP or its domain.
    pub fn url(raw: &str) -> Option<Self> {
        let host = indicator::url_host(&indicator::url(raw).ok()?)?;
        let bare = host.trim_matches(['[', ']']);
        Some(match bare.parse::<IpAddr>() {
            Ok(ip) => OwnedTarget::Ip(ip),
            Err(_) => OwnedTarget::Domain(host),
        })
    }

    pub fn email(raw: &str) -> Option<Self> {
        indicator::email(raw).ok().map(OwnedTarget::Email)
    }

    pub fn phone(raw: &str) -> Option<Self> {
        indicator::phone(raw).ok().map(OwnedTarget::Phone)
    }

    pub fn domain(raw: &str) -> Option<Self> {
        indicator::domain(raw).ok().map(OwnedTarget::Domain)
    }

    pub fn ip(raw: &str) -> Option<Self> {
        raw.trim().parse().ok().map(OwnedTarget::Ip)
    }
}

/// Any resource as LookupResponsible reads it: an IP, a URL (with a scheme), an e-mail
/// address, a phone number, else a domain.
pub fn target_of(resource: &str) -> Option<OwnedTarget> {
    let r = resource.trim();
    if let Ok(ip) = indicator::ip(r) {
        return OwnedTarget::ip(&ip);
    }
    if r.contains("://") {
        return OwnedTarget::url(r);
    }
    if r.contains('@') {
        return OwnedTarget::email(r);
    }
    let phone_like = r.bytes().any(|b| b.is_ascii_digit())
        && r.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'-' | b'(' | b')'));
    if phone_like {
        return OwnedTarget::phone(r);
    }
    OwnedTarget::domain(r)
}

/// Whether the holding `entry` contains `target` (Art. 10: the organisation affected).
pub fn holds(entry: &OwnershipEntry, target: Target<'_>) -> bool {
    use OwnershipKind as K;
    match (entry.kind, target) {
        (K::IpPrefix, Target::Ip(ip)) => entry
            .value
            .parse::<IpNet>()
            .is_ok_and(|net| net.contains(&ip)),
        (K::RegisteredDomain, Target::Domain(d)) => within_domain(d, &entry.value),
        (K::RegisteredDomain | K::MailDomain, Target::Email(address)) => address
            .rsplit_once('@')
            .is_some_and(|(_, d)| within_domain(d, &entry.value)),
        (K::NumberPrefix, Target::Phone(p)) => p.starts_with(&entry.value),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(kind: OwnershipKind, value: &str, owner: &str) -> OwnershipEntry {
        OwnershipEntry::new("x", kind, value, 0, owner, "440000").unwrap()
    }

    #[test]
    fn only_a_provider_role_fitting_the_kind_may_be_responsible() {
        use OwnershipKind as K;
        let telecom = [Role::BasicTelecom];
        let registrar = [Role::DomainRegistrar];
        let party = [Role::AffectedParty];
        assert!(check_claim(K::IpPrefix, Relation::Responsible, "t", &telecom).is_ok());
        assert!(matches!(
            check_claim(K::IpPrefix, Relation::Responsible, "r", &registrar),
            Err(ClaimError::NotAProvider { .. })
        ));
        assert!(check_claim(K::RegisteredDomain, Relation::Responsible, "r", &registrar).is_ok());
        assert!(
            check_claim(K::RegistrySuffix, Relation::Responsible, "r", &registrar).is_err(),
            "a registry suffix needs the registry role"
        );
        let err = check_claim(K::IpPrefix, Relation::Responsible, "party-gd", &party).unwrap_err();
        assert!(err.to_string().contains("affected_party"), "{err}");
        assert!(check_claim(K::IpPrefix, Relation::Holder, "party-gd", &party).is_ok());
        assert_eq!(
            check_claim(K::Asn, Relation::Holder, "party-gd", &party),
            Err(ClaimError::HolderKind(K::Asn))
        );
    }

    #[test]
    fn a_resource_province_defaults_to_the_owner_and_is_never_national() {
        assert_eq!(entry_province("t", "440000", "").unwrap(), "440000");
        assert_eq!(entry_province("t", "440000", "110000").unwrap(), "110000");
        assert_eq!(
            entry_province("t", "440000", "national"),
            Err(ClaimError::NationalProvince)
        );
        assert_eq!(
            entry_province("group", "national", ""),
            Err(ClaimError::ProvinceRequired("group".into()))
        );
        assert!(matches!(
            entry_province("t", "440000", "440100"),
            Err(ClaimError::BadProvince(_))
        ));
    }

    #[test]
    fn covering_is_containment_within_one_kind() {
        use OwnershipKind as K;
        let wide = e(K::IpPrefix, "58.60.0.0/14", "a");
        assert!(covers(&wide, &e(K::IpPrefix, "58.60.1.0/24", "b")));
        assert!(covers(&wide, &e(K::IpPrefix, "58.60.0.0/14", "b")));
        assert!(!covers(&wide, &e(K::IpPrefix, "58.0.0.0/8", "b")));
        let d = e(K::RegisteredDomain, "example.cn", "a");
        assert!(covers(&d, &e(K::RegisteredDomain, "shop.example.cn", "b")));
        assert!(!covers(&d, &e(K::RegisteredDomain, "badexample.cn", "b")));
        assert!(!covers(&d, &e(K::MailDomain, "example.cn", "b")));
        let n = e(K::NumberPrefix, "+86138", "a");
        assert!(covers(&n, &e(K::NumberPrefix, "+861380013", "b")));
        assert!(!covers(&n, &e(K::NumberPrefix, "+86139", "b")));
    }

    #[test]
    fn a_holding_contains_the_targets_on_its_resource() {
        use OwnershipKind as K;
        let p = e(K::IpPrefix, "58.60.1.0/24", "party");
        assert!(holds(&p, Target::Ip("58.60.1.9".parse().unwrap())));
        assert!(!holds(&p, Target::Ip("58.60.2.9".parse().unwrap())));
        let d = e(K::RegisteredDomain, "shop.cn", "party");
        assert!(holds(&d, Target::Domain("www.shop.cn")));
        assert!(holds(&d, Target::Email("sales@shop.cn")));
        assert!(!holds(&d, Target::Domain("myshop.cn")));
        let n = e(K::NumberPrefix, "+8613800", "party");
        assert!(holds(&n, Target::Phone("+8613800138000")));
    }
}
