//! Normalising the indicators of Art. 2(1): one canonical text per resource,
//! so that two units reporting the same thing meet on the same dedup key.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::echo::Echo;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndicatorError {
    #[error("{} is not an IP address", Echo(.0))]
    NotAnIp(String),
    #[error("{address} is {name} ({registry}): only public addresses can be threats")]
    SpecialPurpose {
        address: String,
        name: &'static str,
        registry: &'static str,
    },
    #[error("{} is not a domain name: {}", Echo(.0), .1)]
    BadDomain(String, &'static str),
    #[error("{} is not a URL: {}", Echo(.0), .1)]
    BadUrl(String, String),
    #[error("{} is not an e-mail address", Echo(.0))]
    BadEmail(String),
    #[error("{} is not a phone number that can be written in E.164 (+<country><number>)", Echo(.0))]
    BadPhone(String),
    #[error("must not be empty")]
    Empty,
}

const V4_REGISTRY: &str = "IANA IPv4 Special-Purpose Address Registry";
const V6_REGISTRY: &str = "IANA IPv6 Special-Purpose Address Registry";
const MULTICAST_REGISTRY: &str = "IANA Multicast Address Space Registry";

/// The special-purpose blocks: none of them is a resource on the public internet.
const SPECIAL_PURPOSE: &[(&str, &str, &str)] = &[
    ("0.0.0.0/8", "\"this network\" (RFC 791)", V4_REGISTRY),
    ("10.0.0.0/8", "private-use (RFC 1918)", V4_REGISTRY),
    (
        "100.64.0.0/10",
        "shared address space (RFC 6598)",
        V4_REGISTRY,
    ),
    ("127.0.0.0/8", "loopback (RFC 1122)", V4_REGISTRY),
    ("169.254.0.0/16", "link-local (RFC 3927)", V4_REGISTRY),
    ("172.16.0.0/12", "private-use (RFC 1918)", V4_REGISTRY),
    (
        "192.0.0.0/24",
        "IETF protocol assignments (RFC 6890)",
        V4_REGISTRY,
    ),
    (
        "192.0.2.0/24",
        "documentation TEST-NET-1 (RFC 5737)",
        V4_REGISTRY,
    ),
    ("192.31.196.0/24", "AS112-v4 (RFC 7535)", V4_REGISTRY),
    ("192.52.193.0/24", "AMT (RFC 7450)", V4_REGISTRY),
    (
        "192.88.99.0/24",
        "deprecated 6to4 relay anycast (RFC 7526)",
        V4_REGISTRY,
    ),
    ("192.168.0.0/16", "private-use (RFC 1918)", V4_REGISTRY),
    (
        "192.175.48.0/24",
        "direct delegation AS112 service (RFC 7534)",
        V4_REGISTRY,
    ),
    ("198.18.0.0/15", "benchmarking (RFC 2544)", V4_REGISTRY),
    (
        "198.51.100.0/24",
        "documentation TEST-NET-2 (RFC 5737)",
        V4_REGISTRY,
    ),
    (
        "203.0.113.0/24",
        "documentation TEST-NET-3 (RFC 5737)",
        V4_REGISTRY,
    ),
    ("224.0.0.0/4", "multicast (RFC 5771)", MULTICAST_REGISTRY),
    ("240.0.0.0/4", "reserved (RFC 1112)", V4_REGISTRY),
    (
        "255.255.255.255/32",
        "limited broadcast (RFC 919)",
        V4_REGISTRY,
    ),
    ("::/128", "unspecified address (RFC 4291)", V6_REGISTRY),
    ("::1/128", "loopback (RFC 4291)", V6_REGISTRY),
    ("::ffff:0:0/96", "IPv4-mapped (RFC 4291)", V6_REGISTRY),
    (
        "64:ff9b::/96",
        "IPv4-IPv6 translation (RFC 6052)",
        V6_REGISTRY,
    ),
    (
        "64:ff9b:1::/48",
        "local-use IPv4/IPv6 translation (RFC 8215)",
        V6_REGISTRY,
    ),
    ("100::/64", "discard-only (RFC 6666)", V6_REGISTRY),
    (
        "2001::/23",
        "IETF protocol assignments (RFC 2928)",
        V6_REGISTRY,
    ),
    ("2001:db8::/32", "documentation (RFC 3849)", V6_REGISTRY),
    ("2002::/16", "6to4 (RFC 3056)", V6_REGISTRY),
    ("3fff::/20", "documentation (RFC 9637)", V6_REGISTRY),
    ("5f00::/16", "segment routing SIDs (RFC 9602)", V6_REGISTRY),
    ("fc00::/7", "unique-local (RFC 4193)", V6_REGISTRY),
    ("fe80::/10", "link-local unicast (RFC 4291)", V6_REGISTRY),
    ("ff00::/8", "multicast (RFC 4291)", MULTICAST_REGISTRY),
];

fn special_purpose(ip: IpAddr) -> Option<(&'static str, &'static str)> {
    use std::sync::OnceLock;
    static TABLE: OnceLock<Vec<(IpNet, &'static str, &'static str)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        SPECIAL_PURPOSE
            .iter()
            .map(|(net, name, reg)| (net.parse().expect("valid prefix"), *name, *reg))
            .collect()
    });
    // The most specific block names the address best (e.g. 2001:db8:: inside 2001::/23).
    table
        .iter()
        .filter(|(net, ..)| net.contains(&ip))
        .max_by_key(|(net, ..)| net.prefix_len())
        .map(|(_, name, reg)| (*name, *reg))
}

/// A public IP address in canonical text (IPv6 compressed, lower case).
pub fn ip(raw: &str) -> Result<String, IndicatorError> {
    let trimmed = raw.trim();
    let trimmed = trimmed
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(trimmed);
    let addr: IpAddr = trimmed
        .parse()
        .map_err(|_| IndicatorError::NotAnIp(raw.to_owned()))?;
    public_ip(addr)
}

fn public_ip(addr: IpAddr) -> Result<String, IndicatorError> {
    if let Some((name, registry)) = special_purpose(addr) {
        return Err(IndicatorError::SpecialPurpose {
            address: addr.to_string(),
            name,
            registry,
        });
    }
    Ok(addr.to_string())
}

/// A domain as an A-label, lower case, without the trailing dot.
pub fn domain(raw: &str) -> Result<String, IndicatorError> {
    let trimmed = raw.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(IndicatorError::Empty);
    }
    let bad = |why| Err(IndicatorError::BadDomain(raw.to_owned(), why));
    let ascii = match idna::domain_to_ascii(trimmed) {
        Ok(a) => a,
        Err(_) => return bad("it is not a valid internationalised domain name"),
    };
    if ascii.parse::<IpAddr>().is_ok() {
        return bad("it is an IP address; report it as an IP");
    }
    if ascii.len() > 253 {
        return bad("longer than 253 characters");
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return bad("it needs at least two labels, e.g. example.com");
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return bad("every label has 1 to 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return bad("labels use letters, digits and inner hyphens");
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad("the top-level label cannot be numeric");
    }
    Ok(ascii)
}

/// A URL normalised by the WHATWG URL standard, without its fragment. Its host
/// must be a public IP or a valid domain.
pub fn url(raw: &str) -> Result<String, IndicatorError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(IndicatorError::Empty);
    }
    let mut parsed = url::Url::parse(trimmed)
        .map_err(|e| IndicatorError::BadUrl(raw.to_owned(), e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https" | "ftp" | "ws" | "wss") {
        return Err(IndicatorError::BadUrl(
            raw.to_owned(),
            format!("scheme {:?} is not a network resource", parsed.scheme()),
        ));
    }
    match parsed.host() {
        Some(url::Host::Domain(d)) => {
            domain(d).map_err(|e| IndicatorError::BadUrl(raw.to_owned(), e.to_string()))?;
        }
        Some(url::Host::Ipv4(a)) => {
            public_ip(IpAddr::V4(a))
                .map_err(|e| IndicatorError::BadUrl(raw.to_owned(), e.to_string()))?;
        }
        Some(url::Host::Ipv6(a)) => {
            public_ip(IpAddr::V6(a))
                .map_err(|e| IndicatorError::BadUrl(raw.to_owned(), e.to_string()))?;
        }
        None => {
            return Err(IndicatorError::BadUrl(
                raw.to_owned(),
                "it has no host".into(),
            ));
        }
    }
    parsed.set_fragment(None);
    Ok(parsed.to_string())
}

/// The host of a URL, as the ownership registry routes it (Art. 9).
pub fn url_host(normalised_url: &str) -> Option<String> {
    url::Url::parse(normalised_url)
        .ok()?
        .host_str()
        .map(|h| h.trim_matches(['[', ']']).to_owned())
}

/// An e-mail address, lower-cased, with its domain as an A-label.
pub fn email(raw: &str) -> Result<String, IndicatorError> {
    let trimmed = raw.trim();
    let (local, host) = trimmed
        .rsplit_once('@')
        .ok_or_else(|| IndicatorError::BadEmail(raw.to_owned()))?;
    if local.is_empty()
        || local.len() > 64
        || local.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(IndicatorError::BadEmail(raw.to_owned()));
    }
    let host = domain(host).map_err(|_| IndicatorError::BadEmail(raw.to_owned()))?;
    Ok(format!("{}@{host}", local.to_lowercase()))
}

/// A phone number in E.164. Numbers without a country code are read as
/// mainland-China numbers.
pub fn phone(raw: &str) -> Result<String, IndicatorError> {
    let trimmed = raw.trim();
    let parsed = phonenumber::parse(Some(phonenumber::country::Id::CN), trimmed)
        .map_err(|_| IndicatorError::BadPhone(raw.to_owned()))?;
    if !phonenumber::is_valid(&parsed) {
        return Err(IndicatorError::BadPhone(raw.to_owned()));
    }
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_are_canonical_and_special_purpose_blocks_are_refused_with_their_registry() {
        assert_eq!(ip(" 8.8.8.8 ").unwrap(), "8.8.8.8");
        assert_eq!(ip("2400:3200:0000::0001").unwrap(), "2400:3200::1");
        assert_eq!(ip("[2400:3200::1]").unwrap(), "2400:3200::1");
        let err = ip("10.1.2.3").unwrap_err().to_string();
        assert!(
            err.contains("private-use") && err.contains("IANA IPv4 Special-Purpose"),
            "{err}"
        );
        assert!(
            ip("127.0.0.1")
                .unwrap_err()
                .to_string()
                .contains("loopback")
        );
        assert!(
            ip("203.0.113.9")
                .unwrap_err()
                .to_string()
                .contains("documentation")
        );
        assert!(
            ip("2001:db8::1")
                .unwrap_err()
                .to_string()
                .contains("documentation (RFC 3849)")
        );
        assert!(
            ip("fe80::1")
                .unwrap_err()
                .to_string()
                .contains("link-local")
        );
        assert!(ip("::ffff:8.8.8.8").is_err());
        assert!(matches!(ip("8.8.8"), Err(IndicatorError::NotAnIp(_))));
    }

    #[test]
    fn domains_become_lower_case_a_labels_without_the_trailing_dot() {
        assert_eq!(domain("WWW.Example.COM.").unwrap(), "www.example.com");
        assert_eq!(domain("例子.中国").unwrap(), "xn--fsqu00a.xn--fiqs8s");
        assert!(domain("localhost").is_err());
        assert!(domain("8.8.8.8").is_err());
        assert!(domain("-bad.example.com").is_err());
        assert!(domain("exa mple.com").is_err());
    }

    #[test]
    fn urls_are_whatwg_normalised_without_fragment() {
        assert_eq!(
            url("HTTP://Example.COM:80/a/../b?q=1#frag").unwrap(),
            "http://example.com/b?q=1"
        );
        assert_eq!(
            url("https://例子.中国/登录").unwrap(),
            "https://xn--fsqu00a.xn--fiqs8s/%E7%99%BB%E5%BD%95"
        );
        assert!(
            url("http://192.168.1.1/admin")
                .unwrap_err()
                .to_string()
                .contains("private-use")
        );
        assert!(url("mailto:a@example.com").is_err());
        assert!(url("not a url").is_err());
        assert_eq!(
            url_host("http://[2400:3200::1]/x").as_deref(),
            Some("2400:3200::1")
        );
    }

    #[test]
    fn emails_are_lower_cased() {
        assert_eq!(email("Phisher@Example.COM").unwrap(), "phisher@example.com");
        assert!(email("no-at-sign").is_err());
        assert!(email("@example.com").is_err());
    }

    #[test]
    fn phone_numbers_become_e164_reading_national_numbers_as_chinese() {
        assert_eq!(phone("138 0013 8000").unwrap(), "+8613800138000");
        assert_eq!(phone("+86 10 6552 9988").unwrap(), "+861065529988");
        assert_eq!(phone("+1 (202) 555-0143").unwrap(), "+12025550143");
        assert!(phone("12345").is_err());
    }
}
