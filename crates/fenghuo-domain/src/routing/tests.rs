use std::net::IpAddr;

use super::*;

fn entry(id: &str, kind: OwnershipKind, value: &str, origin: u32, owner: &str) -> OwnershipEntry {
    OwnershipEntry::new(id, kind, value, origin, owner, "110000").expect("valid entry")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn table() -> RoutingTable {
    use OwnershipKind::*;
    RoutingTable::build([
        entry("p1", IpPrefix, "202.96.0.0/12", 0, "telecom"),
        entry("p2", IpPrefix, "202.96.128.0/17", 0, "telecom-gd"),
        entry("p3", IpPrefix, "240e::/20", 0, "telecom"),
        entry("p4", IpPrefix, "240e:1::/32", 0, "telecom-sh"),
        entry("a1", Asn, "AS4837", 0, "unicom"),
        entry("o1", PrefixOrigin, "221.0.0.0/13", 4837, "ignored"),
        entry("o2", PrefixOrigin, "2408:8000::/20", 4837, "ignored"),
        entry("o3", PrefixOrigin, "221.0.0.0/16", 9808, "ignored"),
        entry("s1", RegistrySuffix, "cn", 0, "cnnic-demo"),
        entry("s2", RegistrySuffix, "中国", 0, "cnnic-demo"),
        entry("d1", RegisteredDomain, "example.cn", 0, "registrar-bj"),
        entry("d2", RegisteredDomain, "example.com.cn", 0, "registrar-sh"),
        entry("d3", RegisteredDomain, "例子.中国", 0, "registrar-idn"),
        entry("m1", MailDomain, "mail.example.cn", 0, "mail-host"),
        entry("m2", MailDomain, "example.org", 0, "mail-org"),
        entry("n1", NumberPrefix, "+86", 0, "miit-numbers"),
        entry("n2", NumberPrefix, "+86138", 0, "mobile"),
        entry("n3", NumberPrefix, "+861380013", 0, "mobile-bj"),
    ])
}

fn via(r: Option<Route>) -> (String, &'static str) {
    let r = r.expect("a route");
    (r.owner, r.via)
}

#[test]
fn the_longest_ipv4_prefix_wins() {
    let t = table();
    assert_eq!(
        via(t.route_ip(ip("202.96.200.1"))),
        ("telecom-gd".into(), "ip_prefix")
    );
    assert_eq!(
        via(t.route_ip(ip("202.97.0.1"))),
        ("telecom".into(), "ip_prefix")
    );
    assert_eq!(t.route_ip(ip("202.96.200.1")).unwrap().entry_id, "p2");
}

#[test]
fn the_longest_ipv6_prefix_wins() {
    let t = table();
    assert_eq!(
        via(t.route_ip(ip("240e:1::53"))),
        ("telecom-sh".into(), "ip_prefix")
    );
    assert_eq!(
        via(t.route_ip(ip("240e:2::53"))),
        ("telecom".into(), "ip_prefix")
    );
}

#[test]
fn an_address_without_a_prefix_falls_back_to_the_owner_of_its_origin_asn() {
    let t = table();
    // 221.0.0.0/16 is announced by AS9808, which has no owner: the /13 of AS4837 answers.
    let r = t.route_ip(ip("221.0.5.5")).unwrap();
    assert_eq!(
        (r.owner.as_str(), r.via, r.entry_id.as_str()),
        ("unicom", "origin_asn", "a1")
    );
    assert_eq!(
        via(t.route_ip(ip("2408:8000::1"))),
        ("unicom".into(), "origin_asn")
    );
}

#[test]
fn a_registered_domain_goes_to_its_registrar_and_other_names_to_the_registry_of_the_suffix() {
    let t = table();
    assert_eq!(
        via(t.route_domain("www.example.cn")),
        ("registrar-bj".into(), "registered_domain")
    );
    assert_eq!(
        via(t.route_domain("a.b.www.example.com.cn")),
        ("registrar-sh".into(), "registered_domain")
    );
    assert_eq!(
        via(t.route_domain("other.cn")),
        ("cnnic-demo".into(), "registry_suffix")
    );
    assert_eq!(
        via(t.route_domain("other.com.cn")),
        ("cnnic-demo".into(), "registry_suffix")
    );
    assert_eq!(t.route_domain("example.com"), None);
}

#[test]
fn idn_domains_route_by_their_a_labels() {
    let t = table();
    assert_eq!(
        via(t.route("www.例子.中国")),
        ("registrar-idn".into(), "registered_domain")
    );
    assert_eq!(
        via(t.route("别的.中国")),
        ("cnnic-demo".into(), "registry_suffix")
    );
}

#[test]
fn a_url_routes_by_its_host() {
    let t = table();
    assert_eq!(
        via(t.route_url("https://WWW.Example.CN/login?x=1")),
        ("registrar-bj".into(), "registered_domain")
    );
    assert_eq!(
        via(t.route("http://[240e:1::8]/x")),
        ("telecom-sh".into(), "ip_prefix")
    );
    assert_eq!(
        via(t.route("http://202.96.130.1:8080/")),
        ("telecom-gd".into(), "ip_prefix")
    );
}

#[test]
fn an_email_address_routes_to_its_mail_domain_then_parents() {
    let t = table();
    assert_eq!(
        via(t.route_email("Phisher@Mail.Example.CN")),
        ("mail-host".into(), "mail_domain")
    );
    assert_eq!(
        via(t.route("x@eu.smtp.example.org")),
        ("mail-org".into(), "mail_domain")
    );
    assert_eq!(t.route("x@example.cn"), None);
}

#[test]
fn a_phone_number_routes_to_the_longest_number_prefix() {
    let t = table();
    assert_eq!(
        via(t.route_phone("+8613800138000")),
        ("mobile-bj".into(), "number_prefix")
    );
    assert_eq!(
        via(t.route("+86 139 0000 0000")),
        ("miit-numbers".into(), "number_prefix")
    );
    assert_eq!(
        via(t.route("138 0099 0000")),
        ("mobile".into(), "number_prefix")
    );
    assert_eq!(t.route("+1 202 555 0143"), None);
}

#[test]
fn unknown_or_malformed_resources_route_nowhere() {
    let t = table();
    assert_eq!(t.route("8.8.8.8"), None);
    assert_eq!(t.route("example.com"), None);
    assert_eq!(t.route("10.0.0.1"), None);
    assert_eq!(t.route("not a resource"), None);
    assert_eq!(t.route(""), None);
}

#[test]
fn values_get_one_canonical_form_per_kind() {
    use OwnershipKind::*;
    let n = |k, v: &str, o| normalise(k, v, o).unwrap();
    assert_eq!(
        n(IpPrefix, " 202.96.0.0/12 ", 0),
        ("202.96.0.0/12".into(), None)
    );
    assert_eq!(n(IpPrefix, "240E:0000::/20", 0), ("240e::/20".into(), None));
    assert_eq!(n(IpPrefix, "8.8.8.8", 0), ("8.8.8.8/32".into(), None));
    assert_eq!(n(Asn, "as4134", 0), ("4134".into(), None));
    assert_eq!(n(Asn, "AS 4134", 0), ("4134".into(), None));
    assert_eq!(
        n(PrefixOrigin, "221.0.0.0/13", 4837),
        ("221.0.0.0/13".into(), Some(4837))
    );
    assert_eq!(
        n(RegisteredDomain, "WWW.例子.中国.", 0).0,
        "www.xn--fsqu00a.xn--fiqs8s"
    );
    assert_eq!(n(RegistrySuffix, ".COM.cn", 0).0, "com.cn");
    assert_eq!(n(RegistrySuffix, "中国", 0).0, "xn--fiqs8s");
    assert_eq!(n(MailDomain, "Example.ORG", 0).0, "example.org");
    assert_eq!(n(NumberPrefix, "+86 138", 0).0, "+86138");
}

#[test]
fn bad_entries_are_refused_naming_the_rule() {
    use OwnershipKind::*;
    let e = |k, v: &str, o| normalise(k, v, o).unwrap_err().to_string();
    let msg = e(IpPrefix, "202.96.0.7/12", 0);
    assert!(
        msg.contains("network-aligned") && msg.contains("202.96.0.0/12"),
        "{msg}"
    );
    assert!(e(IpPrefix, "0.0.0.0/0", 0).contains("at least 1"));
    assert!(e(IpPrefix, "10.0.0.0/8", 0).contains("private-use"));
    assert!(e(IpPrefix, "not/a/prefix", 0).contains("CIDR"));
    assert!(e(Asn, "AS0", 0).contains("RFC 7607"));
    assert!(e(Asn, "23456", 0).contains("AS_TRANS"));
    assert!(e(Asn, "64500", 0).contains("documentation"));
    assert!(e(Asn, "65000", 0).contains("private use"));
    assert!(e(Asn, "AS4294967295", 0).contains("RFC 7300"));
    assert!(e(Asn, "ASX", 0).contains("not an AS number"));
    assert!(e(PrefixOrigin, "221.0.0.0/13", 0).contains("origin ASN"));
    assert!(e(PrefixOrigin, "221.0.0.0/13", 64512).contains("private use"));
    assert!(e(IpPrefix, "221.0.0.0/13", 4837).contains("only to prefix_origin"));
    assert!(e(RegisteredDomain, "com.cn", 0).contains("public suffix"));
    assert!(e(RegisteredDomain, "exa mple.cn", 0).contains("not a domain name"));
    assert!(e(RegistrySuffix, "c n", 0).contains("registry suffix"));
    assert!(e(RegistrySuffix, "123", 0).contains("numeric"));
    assert!(e(NumberPrefix, "86138", 0).contains("E.164"));
    assert!(e(NumberPrefix, "+1234567890123456", 0).contains("1 to 15 digits"));
}

#[test]
fn kinds_match_the_proto_numbers_and_names() {
    for (n, kind) in (1..).zip(OwnershipKind::ALL) {
        assert_eq!(kind.as_i32(), n);
        assert_eq!(OwnershipKind::from_i32(n), Some(kind));
        assert_eq!(OwnershipKind::parse(kind.as_str()), Ok(kind));
    }
    assert_eq!(OwnershipKind::from_i32(0), None);
    assert_eq!(OwnershipKind::from_i32(8), None);
    assert!(OwnershipKind::parse("ip").is_err());
}

#[test]
fn a_table_skips_hand_made_entries_that_are_not_canonical() {
    let bad = OwnershipEntry {
        id: "x".into(),
        kind: OwnershipKind::IpPrefix,
        value: "202.96.0.7/12".into(),
        origin_asn: None,
        owner: "o".into(),
        province: "p".into(),
    };
    let t = RoutingTable::build([bad]);
    assert_eq!((t.entries().len(), t.skipped()), (0, 1));
}

#[test]
fn the_benchmark_finds_owners_for_addresses_inside_its_prefixes() {
    let r = lookup_benchmark(10_000, 10_000, 7);
    assert!(r.prefixes > 9_000 && r.hits >= 7_000, "{r:?}");
}

/// `cargo test --release -- --ignored one_million`: the target of issue 5.
#[test]
#[ignore = "a release-mode benchmark"]
fn one_million_mixed_prefixes_answer_five_million_lookups_a_second_on_one_thread() {
    let r = lookup_benchmark(1_000_000, 10_000_000, 42);
    assert!(r.lookups_per_sec >= 5_000_000.0, "{r:?}");
}

#[test]
fn the_covering_entry_is_the_most_specific_one_of_the_same_kind() {
    use OwnershipKind::*;
    let t = table();
    let probe = |kind, value: &str| {
        let e = entry("new", kind, value, 0, "claimant");
        t.covering(&e).map(|c| c.id.clone())
    };
    assert_eq!(probe(IpPrefix, "202.96.200.0/24").as_deref(), Some("p2"));
    assert_eq!(probe(IpPrefix, "202.96.0.0/12").as_deref(), Some("p1"));
    assert_eq!(probe(IpPrefix, "203.0.0.0/24"), None);
    assert_eq!(
        probe(RegisteredDomain, "shop.example.cn").as_deref(),
        Some("d1")
    );
    assert_eq!(probe(RegistrySuffix, "gd.cn").as_deref(), Some("s1"));
    assert_eq!(probe(NumberPrefix, "+8613800138").as_deref(), Some("n3"));
    assert_eq!(probe(MailDomain, "example.cn"), None);
}
