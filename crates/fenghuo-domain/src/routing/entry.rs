//! Ownership entries of the Art. 9 registry and the one canonical form of
//! each value, so that imports, look-ups and removals meet on the same text.

use std::net::IpAddr;

use ipnet::IpNet;

use super::indicator;
use crate::echo::{ECHO_LIMIT, Echo, shorten};

/// What an ownership entry is about; numbers match `fenghuo.v1.OwnershipKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnershipKind {
    IpPrefix,
    Asn,
    /// A prefix announced by an origin AS: routes to the owner of that AS.
    PrefixOrigin,
    /// A domain held by the registrar that registered it.
    RegisteredDomain,
    /// A suffix run by a domestic registry (2009 mechanism Art. 4).
    RegistrySuffix,
    MailDomain,
    /// An E.164 number prefix, e.g. `+86138`.
    NumberPrefix,
}

impl OwnershipKind {
    pub const ALL: [OwnershipKind; 7] = [
        OwnershipKind::IpPrefix,
        OwnershipKind::Asn,
        OwnershipKind::PrefixOrigin,
        OwnershipKind::RegisteredDomain,
        OwnershipKind::RegistrySuffix,
        OwnershipKind::MailDomain,
        OwnershipKind::NumberPrefix,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OwnershipKind::IpPrefix => "ip_prefix",
            OwnershipKind::Asn => "asn",
            OwnershipKind::PrefixOrigin => "prefix_origin",
            OwnershipKind::RegisteredDomain => "registered_domain",
            OwnershipKind::RegistrySuffix => "registry_suffix",
            OwnershipKind::MailDomain => "mail_domain",
            OwnershipKind::NumberPrefix => "number_prefix",
        }
    }

    /// # Errors
    /// [`EntryError::UnknownKind`] for any name other than those of [`Self::as_str`].
    pub fn parse(name: &str) -> Result<Self, EntryError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == name.trim())
            .ok_or_else(|| EntryError::UnknownKind(name.to_owned()))
    }

    /// `None` for `OWNERSHIP_KIND_UNSPECIFIED` (0) and unknown numbers.
    pub fn from_i32(n: i32) -> Option<Self> {
        usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| Self::ALL.get(i).copied())
    }

    pub fn as_i32(self) -> i32 {
        match self {
            OwnershipKind::IpPrefix => 1,
            OwnershipKind::Asn => 2,
            OwnershipKind::PrefixOrigin => 3,
            OwnershipKind::RegisteredDomain => 4,
            OwnershipKind::RegistrySuffix => 5,
            OwnershipKind::MailDomain => 6,
            OwnershipKind::NumberPrefix => 7,
        }
    }
}

impl std::fmt::Display for OwnershipKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the ownership registry (Art. 9): `value` is in the canonical
/// form of [`normalise`] for its `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnershipEntry {
    pub id: String,
    pub kind: OwnershipKind,
    pub value: String,
    /// Set only for [`OwnershipKind::PrefixOrigin`].
    pub origin_asn: Option<u32>,
    /// The organisation a notice about a matching resource is addressed to.
    pub owner: String,
    /// The province of the targets it matches (a provincial regulator's jurisdiction).
    pub province: String,
}

impl OwnershipEntry {
    /// An entry with its value normalised.
    ///
    /// # Errors
    /// The [`EntryError`] of [`normalise`].
    pub fn new(
        id: impl Into<String>,
        kind: OwnershipKind,
        raw_value: &str,
        origin_asn: u32,
        owner: impl Into<String>,
        province: impl Into<String>,
    ) -> Result<Self, EntryError> {
        let (value, origin_asn) = normalise(kind, raw_value, origin_asn)?;
        Ok(Self {
            id: id.into(),
            kind,
            value,
            origin_asn,
            owner: owner.into(),
            province: province.into(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error(
        "{} is not an ownership kind (ip_prefix, asn, prefix_origin, registered_domain, registry_suffix, mail_domain, number_prefix)",
        Echo(.0)
    )]
    UnknownKind(String),
    #[error("{} is not an IP prefix: write it as CIDR, e.g. 202.96.0.0/12 or 240e::/20", Echo(.0))]
    NotAPrefix(String),
    #[error("{} has host bits set: a prefix must be network-aligned, e.g. {network}", shorten(.raw, ECHO_LIMIT))]
    PrefixNotAligned { raw: String, network: String },
    #[error("{0} covers the whole address family: an ownership prefix has a length of at least 1")]
    DefaultRoute(String),
    #[error("{prefix} starts in special-purpose space: {reason}")]
    SpecialPurposePrefix { prefix: String, reason: String },
    #[error("{} is not an AS number: write AS4134 or 4134, between 1 and 4294967294", Echo(.0))]
    NotAnAsn(String),
    #[error("AS{asn} is {why}: it cannot own public resources")]
    ReservedAsn { asn: u32, why: &'static str },
    #[error("a prefix_origin entry needs its origin ASN (origin_asn)")]
    MissingOriginAsn,
    #[error("origin_asn applies only to prefix_origin entries, not to {0}")]
    UnexpectedOriginAsn(OwnershipKind),
    #[error("{0}")]
    BadDomain(String),
    #[error("{0} is a public suffix: enter it as a registry_suffix, not as a {1}")]
    PublicSuffix(String, OwnershipKind),
    #[error("{} is not a registry suffix: {} (e.g. cn, com.cn, 中国)", Echo(.0), .1)]
    BadSuffix(String, &'static str),
    #[error("{} is not an E.164 number prefix: write + followed by 1 to 15 digits, e.g. +86138", Echo(.0))]
    BadNumberPrefix(String),
}

/// The canonical value of an entry and its origin ASN.
///
/// - `ip_prefix`, `prefix_origin`: CIDR, network-aligned (`203.0.113.7/24` is
///   refused, naming `203.0.113.0/24`), IPv6 compressed; a bare address is a
///   /32 or /128. The network address must not be special-purpose space.
/// - `asn`: decimal digits; `AS4134`, `as4134` and `4134` are accepted. The
///   reserved numbers of the IANA registry are refused (see [`asn`]).
/// - `prefix_origin`: a prefix as above plus a required `origin_asn`.
/// - `registered_domain`, `mail_domain`: A-label via `indicator::domain`; a
///   registered domain must not itself be a public suffix.
/// - `registry_suffix`: one or more labels, A-label, no leading or trailing dot.
/// - `number_prefix`: `+` and 1 to 15 digits (spaces and hyphens dropped).
///
/// `origin_asn` is 0 when absent, as in the proto.
///
/// # Errors
/// One [`EntryError`] variant per rule, its message naming the rule.
pub fn normalise(
    kind: OwnershipKind,
    raw_value: &str,
    origin_asn: u32,
) -> Result<(String, Option<u32>), EntryError> {
    if kind != OwnershipKind::PrefixOrigin && origin_asn != 0 {
        return Err(EntryError::UnexpectedOriginAsn(kind));
    }
    let value = match kind {
        OwnershipKind::IpPrefix => prefix(raw_value)?.to_string(),
        OwnershipKind::PrefixOrigin => {
            let net = prefix(raw_value)?;
            if origin_asn == 0 {
                return Err(EntryError::MissingOriginAsn);
            }
            check_asn(origin_asn)?;
            return Ok((net.to_string(), Some(origin_asn)));
        }
        OwnershipKind::Asn => asn(raw_value)?.to_string(),
        OwnershipKind::RegisteredDomain => {
            let d =
                indicator::domain(raw_value).map_err(|e| EntryError::BadDomain(e.to_string()))?;
            if is_public_suffix(&d) {
                return Err(EntryError::PublicSuffix(d, kind));
            }
            d
        }
        OwnershipKind::MailDomain => {
            indicator::domain(raw_value).map_err(|e| EntryError::BadDomain(e.to_string()))?
        }
        OwnershipKind::RegistrySuffix => registry_suffix(raw_value)?,
        OwnershipKind::NumberPrefix => number_prefix(raw_value)?,
    };
    Ok((value, None))
}

/// A network-aligned prefix of public space.
///
/// # Errors
/// See [`normalise`].
pub fn prefix(raw: &str) -> Result<IpNet, EntryError> {
    let trimmed = raw.trim();
    let net: IpNet = match trimmed.parse() {
        Ok(net) => net,
        Err(_) => match trimmed.parse::<IpAddr>() {
            Ok(addr) => IpNet::from(addr),
            Err(_) => return Err(EntryError::NotAPrefix(raw.to_owned())),
        },
    };
    if net.trunc() != net {
        return Err(EntryError::PrefixNotAligned {
            raw: trimmed.to_owned(),
            network: net.trunc().to_string(),
        });
    }
    if net.prefix_len() == 0 {
        return Err(EntryError::DefaultRoute(net.to_string()));
    }
    if let Err(e) = indicator::ip(&net.network().to_string()) {
        let reason = match e {
            indicator::IndicatorError::SpecialPurpose { name, registry, .. } => {
                format!("{name} ({registry}); only public address space has a responsible unit")
            }
            other => other.to_string(),
        };
        return Err(EntryError::SpecialPurposePrefix {
            prefix: net.to_string(),
            reason,
        });
    }
    Ok(net)
}

/// An AS number from `AS4134`, `as4134` or `4134`.
///
/// Refused (IANA AS Numbers registry): 0 (RFC 7607), 23456 AS_TRANS (RFC 6793),
/// 64496–64511 and 65536–65551 documentation (RFC 5398), 64512–65534 and
/// 4200000000–4294967294 private use (RFC 6996), 65535 and 4294967295 last
/// (RFC 7300), 65552–131071 reserved by IANA.
///
/// # Errors
/// [`EntryError::NotAnAsn`] or [`EntryError::ReservedAsn`].
pub fn asn(raw: &str) -> Result<u32, EntryError> {
    let trimmed = raw.trim();
    let digits = trimmed
        .strip_prefix("AS")
        .or_else(|| trimmed.strip_prefix("as"))
        .or_else(|| trimmed.strip_prefix("As"))
        .unwrap_or(trimmed)
        .trim_start();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EntryError::NotAnAsn(raw.to_owned()));
    }
    let n: u32 = digits
        .parse()
        .map_err(|_| EntryError::NotAnAsn(raw.to_owned()))?;
    check_asn(n)?;
    Ok(n)
}

fn check_asn(asn: u32) -> Result<(), EntryError> {
    let why = match asn {
        0 => "reserved (RFC 7607)",
        23456 => "AS_TRANS (RFC 6793)",
        64496..=64511 | 65536..=65551 => "reserved for documentation (RFC 5398)",
        64512..=65534 | 4_200_000_000..=4_294_967_294 => "reserved for private use (RFC 6996)",
        65535 | 4_294_967_295 => "reserved as the last number of its range (RFC 7300)",
        65552..=131_071 => "reserved by IANA",
        _ => return Ok(()),
    };
    Err(EntryError::ReservedAsn { asn, why })
}

fn registry_suffix(raw: &str) -> Result<String, EntryError> {
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_prefix('.').unwrap_or(trimmed);
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    let bad = |why| Err(EntryError::BadSuffix(raw.to_owned(), why));
    if trimmed.is_empty() {
        return bad("it is empty");
    }
    let Ok(ascii) = idna::domain_to_ascii(trimmed) else {
        return bad("it is not a valid internationalised name");
    };
    for label in ascii.split('.') {
        if label.is_empty() || label.len() > 63 {
            return bad("every label has 1 to 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return bad("labels use letters, digits and inner hyphens");
        }
    }
    if ascii
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad("the top-level label cannot be numeric");
    }
    Ok(ascii)
}

fn number_prefix(raw: &str) -> Result<String, EntryError> {
    let compact: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    match compact.strip_prefix('+') {
        Some(digits)
            if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(compact)
        }
        _ => Err(EntryError::BadNumberPrefix(raw.to_owned())),
    }
}

/// Whether `name` (an A-label) is an ICANN or private public suffix itself.
fn is_public_suffix(name: &str) -> bool {
    psl::suffix(name.as_bytes()).is_some_and(|s| s.is_known() && s.as_bytes() == name.as_bytes())
}
