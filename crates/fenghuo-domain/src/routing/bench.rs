//! In-process look-up benchmark (issue 5: ≥ 5,000,000 look-ups/s on one
//! thread over 1,000,000 mixed prefixes).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::entry::{OwnershipEntry, OwnershipKind};
use super::table::RoutingTable;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LookupReport {
    pub lookups_per_sec: f64,
    pub build_secs: f64,
    pub prefixes: usize,
    /// Look-ups that found an owner.
    pub hits: usize,
}

/// Builds a table of `prefixes` random prefixes (4 in 5 IPv4 /8–/24, mostly
/// /24; 1 in 5 IPv6 /19–/48 in 2000::/3, mostly /32 and /48) and times
/// `lookups` look-ups on one thread: 3 in 4 addresses inside a stored prefix,
/// the rest random. Deterministic for a `seed`.
pub fn lookup_benchmark(prefixes: usize, lookups: usize, seed: u64) -> LookupReport {
    let mut rng = XorShift(seed.max(1));
    let mut nets = Vec::with_capacity(prefixes);
    let entries: Vec<OwnershipEntry> = (0..prefixes)
        .map(|n| {
            let net = random_prefix(&mut rng);
            nets.push(net);
            OwnershipEntry {
                id: format!("e{n}"),
                kind: OwnershipKind::IpPrefix,
                value: net.to_string(),
                origin_asn: None,
                owner: format!("unit-{}", n % 1000),
                province: "110000".into(),
            }
        })
        .collect();
    let started = Instant::now();
    let table = RoutingTable::build(entries);
    let build_secs = started.elapsed().as_secs_f64();

    let addresses: Vec<IpAddr> = (0..lookups)
        .map(|_| {
            if !nets.is_empty() && !rng.next().is_multiple_of(4) {
                let net = nets[(rng.next() % nets.len() as u64) as usize];
                address_in(net, &mut rng)
            } else if rng.next().is_multiple_of(5) {
                IpAddr::V6(Ipv6Addr::from(
                    (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> 3 | 1 << 125,
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
            }
        })
        .collect();
    let started = Instant::now();
    let mut hits = 0;
    for &ip in &addresses {
        if black_box(table.lookup_ip(black_box(ip))).is_some() {
            hits += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    LookupReport {
        lookups_per_sec: lookups as f64 / secs,
        build_secs,
        prefixes: table.entries().len(),
        hits,
    }
}

/// xorshift64: deterministic, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn random_prefix(rng: &mut XorShift) -> IpNet {
    if !rng.next().is_multiple_of(5) {
        let len = match rng.next() % 10 {
            0..=5 => 24,
            6 => 22,
            7 => 20,
            _ => 8 + (rng.next() % 17) as u8,
        };
        loop {
            let a = rng.next() as u32;
            // Public unicast only: no 0/8, 10/8, 127/8 nor 224/3.
            if matches!(a >> 24, 1..=9 | 11..=126 | 128..=223) {
                let net = Ipv4Net::new(Ipv4Addr::from(a), len).expect("length ≤ 32");
                return IpNet::V4(net.trunc());
            }
        }
    } else {
        let len = match rng.next() % 10 {
            0..=4 => 48,
            5..=6 => 32,
            7 => 29,
            _ => 19 + (rng.next() % 30) as u8,
        };
        // 2400::/12 (APNIC), where the platform's v6 space lives.
        let bits = (u128::from(rng.next()) << 64) >> 12 | 0x2400u128 << 112;
        let net = Ipv6Net::new(Ipv6Addr::from(bits), len).expect("length ≤ 128");
        IpNet::V6(net.trunc())
    }
}

fn address_in(net: IpNet, rng: &mut XorShift) -> IpAddr {
    match net {
        IpNet::V4(n) => {
            let host = (rng.next() as u32) & !u32::from(n.netmask());
            IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) | host))
        }
        IpNet::V6(n) => {
            let random = u128::from(rng.next()) << 64 | u128::from(rng.next());
            let host = random & !u128::from(n.netmask());
            IpAddr::V6(Ipv6Addr::from(u128::from(n.network()) | host))
        }
    }
}
