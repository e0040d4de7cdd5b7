//! The routing table: one in-memory index per kind, built once (Art. 9).

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

use super::entry::{OwnershipEntry, OwnershipKind, normalise};
use super::indicator;

/// Where a notice about a resource goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub owner: String,
    pub province: String,
    /// The entry whose owner is responsible; for `origin_asn` the `asn` entry.
    pub entry_id: String,
    /// How it was found: `ip_prefix`, `origin_asn`, `registered_domain`,
    /// `registry_suffix`, `mail_domain` or `number_prefix`.
    pub via: &'static str,
}

/// A route borrowed from the table: what the hot path returns, allocation-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRef<'a> {
    /// The entry whose owner is responsible.
    pub entry: &'a OwnershipEntry,
    pub via: &'static str,
}

impl From<RouteRef<'_>> for Route {
    fn from(r: RouteRef<'_>) -> Self {
        Route {
            owner: r.entry.owner.clone(),
            province: r.entry.province.clone(),
            entry_id: r.entry.id.clone(),
            via: r.via,
        }
    }
}

/// Index of an entry in `entries`; u32 keeps the trie values small.
type Idx = u32;

/// Built once from the registry's entries; clone it behind an `Arc`.
///
/// Two entries of the same kind and value: the later one in the input wins.
/// Entries whose value is not canonical for their kind are left out and
/// counted in [`RoutingTable::skipped`].
#[derive(Debug, Clone, Default)]
pub struct RoutingTable {
    entries: Vec<OwnershipEntry>,
    v4: PrefixMap<Ipv4Net, Idx>,
    v6: PrefixMap<Ipv6Net, Idx>,
    // Prefix-origin entries already resolved to the `asn` entry of their origin.
    origin_v4: PrefixMap<Ipv4Net, Idx>,
    origin_v6: PrefixMap<Ipv6Net, Idx>,
    registered: HashMap<String, Idx>,
    suffixes: HashMap<String, Idx>,
    mail: HashMap<String, Idx>,
    // Number prefixes by their digits, without the `+`.
    numbers: HashMap<String, Idx>,
    longest_number: usize,
    skipped: usize,
}

impl RoutingTable {
    pub fn build(entries: impl IntoIterator<Item = OwnershipEntry>) -> Self {
        let mut t = RoutingTable::default();
        let mut asns: HashMap<u32, Idx> = HashMap::new();
        let mut origins: Vec<(IpNet, u32, Idx)> = Vec::new();
        for entry in entries {
            let origin = entry.origin_asn.unwrap_or(0);
            let Ok((value, origin_asn)) = normalise(entry.kind, &entry.value, origin) else {
                t.skipped += 1;
                continue;
            };
            // Valid entries are canonical already; a hand-made entry is tolerated.
            let i = Idx::try_from(t.entries.len()).expect("fewer than 2^32 entries");
            match entry.kind {
                OwnershipKind::IpPrefix => match value.parse::<IpNet>() {
                    Ok(IpNet::V4(n)) => {
                        t.v4.insert(n, i);
                    }
                    Ok(IpNet::V6(n)) => {
                        t.v6.insert(n, i);
                    }
                    Err(_) => unreachable!("normalised prefix"),
                },
                OwnershipKind::PrefixOrigin => {
                    let net = value.parse().expect("normalised prefix");
                    origins.push((net, origin_asn.expect("normalised origin"), i));
                }
                OwnershipKind::Asn => {
                    asns.insert(value.parse().expect("normalised asn"), i);
                }
                OwnershipKind::RegisteredDomain => {
                    t.registered.insert(value.clone(), i);
                }
                OwnershipKind::RegistrySuffix => {
                    t.suffixes.insert(value.clone(), i);
                }
                OwnershipKind::MailDomain => {
                    t.mail.insert(value.clone(), i);
                }
                OwnershipKind::NumberPrefix => {
                    let digits = value[1..].to_owned();
                    t.longest_number = t.longest_number.max(digits.len());
                    t.numbers.insert(digits, i);
                }
            }
            t.entries.push(OwnershipEntry {
                value,
                origin_asn,
                ..entry
            });
        }
        // An origin whose AS has no owner routes nowhere, so it is not indexed:
        // a shorter prefix-origin with a known AS then still answers. For one
        // prefix announced by several ASes (MOAS) the lowest owned ASN wins.
        origins.sort_by_key(|(net, asn, _)| (*net, std::cmp::Reverse(*asn)));
        for (net, asn, _) in origins {
            let Some(&owner) = asns.get(&asn) else {
                continue;
            };
            match net {
                IpNet::V4(n) => {
                    t.origin_v4.insert(n, owner);
                }
                IpNet::V6(n) => {
                    t.origin_v6.insert(n, owner);
                }
            }
        }
        t
    }

    /// All entries indexed, canonical.
    pub fn entries(&self) -> &[OwnershipEntry] {
        &self.entries
    }

    /// How many input entries were left out as not canonical.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    fn hit(&self, i: Idx, via: &'static str) -> RouteRef<'_> {
        RouteRef {
            entry: &self.entries[i as usize],
            via,
        }
    }

    /// The most specific indexed entry of `entry`'s kind that covers its value (the same
    /// value, a containing prefix, a parent domain or suffix, a shorter number prefix): whose
    /// claim an entry would override (issue #18 item 5). `entry` is canonical.
    pub fn covering(&self, entry: &OwnershipEntry) -> Option<&OwnershipEntry> {
        let at = |i: &Idx| &self.entries[*i as usize];
        match entry.kind {
            OwnershipKind::IpPrefix => match entry.value.parse::<IpNet>().ok()? {
                IpNet::V4(n) => self.v4.get_lpm(&n).map(|(_, i)| at(i)),
                IpNet::V6(n) => self.v6.get_lpm(&n).map(|(_, i)| at(i)),
            },
            // Few entries of these kinds: a scan.
            OwnershipKind::PrefixOrigin | OwnershipKind::Asn => self
                .entries
                .iter()
                .filter(|e| super::claim::covers(e, entry))
                .max_by_key(|e| e.value.parse::<IpNet>().map_or(0, |n| n.prefix_len())),
            OwnershipKind::RegisteredDomain => {
                parents(&entry.value).find_map(|n| self.registered.get(n).map(at))
            }
            OwnershipKind::RegistrySuffix => {
                parents(&entry.value).find_map(|n| self.suffixes.get(n).map(at))
            }
            OwnershipKind::MailDomain => {
                parents(&entry.value).find_map(|n| self.mail.get(n).map(at))
            }
            OwnershipKind::NumberPrefix => {
                let digits = entry.value.strip_prefix('+')?;
                (1..=digits.len().min(self.longest_number))
                    .rev()
                    .find_map(|n| self.numbers.get(&digits[..n]).map(at))
            }
        }
    }

    /// Longest matching `ip_prefix`; else the longest `prefix_origin` whose
    /// origin AS has an owner → that owner (Art. 9: the unit responsible for
    /// the address). The hot path: no allocation.
    #[inline]
    pub fn lookup_ip(&self, ip: IpAddr) -> Option<RouteRef<'_>> {
        match ip {
            IpAddr::V4(a) => {
                let host = Ipv4Net::from(a);
                if let Some((_, &i)) = self.v4.get_lpm(&host) {
                    return Some(self.hit(i, "ip_prefix"));
                }
                self.origin_v4
                    .get_lpm(&host)
                    .map(|(_, &i)| self.hit(i, "origin_asn"))
            }
            IpAddr::V6(a) => {
                let host = Ipv6Net::from(a);
                if let Some((_, &i)) = self.v6.get_lpm(&host) {
                    return Some(self.hit(i, "ip_prefix"));
                }
                self.origin_v6
                    .get_lpm(&host)
                    .map(|(_, &i)| self.hit(i, "origin_asn"))
            }
        }
    }

    pub fn route_ip(&self, ip: IpAddr) -> Option<Route> {
        self.lookup_ip(ip).map(Route::from)
    }

    /// `domain` is normalised (lower-case A-label, no trailing dot). The
    /// registrar of its registered domain, checked from the name itself up to
    /// the registrable domain of the public-suffix list; else the longest
    /// matching registry suffix (2009 mechanism Art. 4).
    pub fn lookup_domain(&self, domain: &str) -> Option<RouteRef<'_>> {
        let registrable = psl::domain_str(domain).map_or(0, str::len);
        for name in parents(domain) {
            if name.len() < registrable {
                break;
            }
            if let Some(&i) = self.registered.get(name) {
                return Some(self.hit(i, "registered_domain"));
            }
        }
        parents(domain)
            .find_map(|name| self.suffixes.get(name))
            .map(|&i| self.hit(i, "registry_suffix"))
    }

    pub fn route_domain(&self, domain: &str) -> Option<Route> {
        self.lookup_domain(domain).map(Route::from)
    }

    /// The host of a URL: its IP or its domain.
    pub fn route_url(&self, raw: &str) -> Option<Route> {
        let host = indicator::url_host(&indicator::url(raw).ok()?)?;
        match host.parse::<IpAddr>() {
            Ok(ip) => self.route_ip(ip),
            Err(_) => self.route_domain(&host),
        }
    }

    /// The `mail_domain` entry of the address's domain, exact, then parents.
    pub fn route_email(&self, raw: &str) -> Option<Route> {
        let address = indicator::email(raw).ok()?;
        let (_, domain) = address.rsplit_once('@')?;
        parents(domain)
            .find_map(|name| self.mail.get(name))
            .map(|&i| Route::from(self.hit(i, "mail_domain")))
    }

    /// `e164` is `+` and digits; the longest `number_prefix` wins.
    pub fn route_phone(&self, e164: &str) -> Option<Route> {
        let digits = e164.trim().strip_prefix('+')?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        (1..=digits.len().min(self.longest_number))
            .rev()
            .find_map(|n| self.numbers.get(&digits[..n]))
            .map(|&i| Route::from(self.hit(i, "number_prefix")))
    }

    /// Any resource of a notice: an IP, a URL (with a scheme), an e-mail
    /// address, a phone number, else a domain. Unknown or malformed → `None`
    /// (the national regulator only).
    pub fn route(&self, resource: &str) -> Option<Route> {
        let r = resource.trim();
        if let Ok(ip) = indicator::ip(r) {
            return self.route_ip(ip.parse().ok()?);
        }
        if r.contains("://") {
            return self.route_url(r);
        }
        if r.contains('@') {
            return self.route_email(r);
        }
        let phone_like = r.bytes().any(|b| b.is_ascii_digit())
            && r.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'-' | b'(' | b')'));
        if phone_like {
            return self.route_phone(&indicator::phone(r).ok()?);
        }
        self.route_domain(&indicator::domain(r).ok()?)
    }
}

/// `a.b.c`, `b.c`, `c`.
fn parents(name: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(name), |n| n.split_once('.').map(|(_, rest)| rest))
}
