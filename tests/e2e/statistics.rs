//! StatisticsService and `fenghuo stats` / `fenghuo geo load` (issue #15 §1), over mTLS
//! on both backends: the figures of a seeded day, what each role may see, bad input.

use std::collections::HashMap;

use fenghuo_client::{Client, pb};
use pb::OwnershipKind as O;
use pb::threat_report::Category as Payload;
use tonic::Code;

use crate::appeals::{blocking_notice, by_party, file, report_disposed};
use crate::disposal::bad_field;
use crate::disposal_cli::{cli, json_lines};
use crate::on_both_backends;
use crate::routing_rules::{entry, import};
use crate::support::{Backend, TestApp, spawn_app, today};
use crate::threats::report;

/// The country ranges the tests load: documentation ranges are refused at intake, so real
/// addresses stand in.
const RANGES: &str = "start,end,country\n\
8.8.8.0,8.8.8.255,US\n\
58.60.0.0,58.63.255.255,CN\n\
2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,US\n";

/// `fenghuo geo load FILE` against the app's database.
pub fn geo_load(app: &TestApp, text: &str) -> (bool, String, String) {
    let file = app.data_dir.join("ranges.csv");
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(["geo", "load"])
        .arg(&file)
        .args(["--database-url", &app.database_url])
        .output()
        .expect("runs fenghuo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn control_server(
    value: &str,
    purpose: pb::MaliciousResourcePurpose,
    port: u32,
    family: &str,
    bots: u64,
    country: &str,
) -> Payload {
    Payload::MaliciousResource(pb::MaliciousResource {
        kind: pb::MaliciousResourceKind::Ip as i32,
        value: value.into(),
        purpose: purpose as i32,
        control_server: Some(pb::ControlServer {
            port,
            transport: pb::TransportProtocol::Tcp as i32,
            malware_family: family.into(),
            bot_count: bots,
            no_known_domains: true,
            country: country.into(),
            ..Default::default()
        }),
        message: None,
    })
}

fn incident(kind: pb::IncidentKind, asset: pb::affected_asset::Asset) -> Payload {
    Payload::SecurityIncident(pb::SecurityIncident {
        kind: kind as i32,
        asset: Some(pb::AffectedAsset { asset: Some(asset) }),
        ..Default::default()
    })
}

/// Ownership, country ranges and a day of reports: six threats from vendor-bj (Beijing),
/// one merged sighting from telecom-gd (Guangdong).
async fn seed(app: &TestApp) {
    import(
        &app.client("miit").await,
        vec![
            entry(O::IpPrefix, "58.60.0.0/14", "telecom-gd"),
            entry(O::RegisteredDomain, "evil-example.com", "registrar-bj"),
        ],
    )
    .await
    .unwrap();
    let (ok, out, err) = geo_load(app, RANGES);
    assert!(ok, "{err}");
    assert!(
        out.contains("loaded 3 country ranges as version 1"),
        "{out}"
    );
    use pb::MaliciousResourcePurpose as P;
    use pb::affected_asset::Asset;
    let vendor = app.client("vendor-bj").await.unit();
    let reports = [
        // In Guangdong by the registry, China by the ranges: not outside the mainland.
        (
            "c2-gd",
            control_server(
                "58.60.1.1",
                P::BotnetControlServer,
                8080,
                "Mirai",
                120_000,
                "",
            ),
        ),
        // The ranges say US; the submitter's "DE" is not used.
        (
            "c2-us",
            control_server("8.8.8.8", P::BotnetControlServer, 6667, "Gafgyt", 500, "DE"),
        ),
        // No range: the submitter's country stands.
        (
            "c2-nl",
            control_server(
                "45.33.32.156",
                P::TrojanControlServer,
                443,
                "Gh0st",
                0,
                "NL",
            ),
        ),
        (
            "deface-gov",
            incident(
                pb::IncidentKind::Defacement,
                Asset::Domain("www.example.gov.cn".into()),
            ),
        ),
        (
            "deface-shop",
            incident(
                pb::IncidentKind::Defacement,
                Asset::Url("http://shop.evil-example.com/".into()),
            ),
        ),
        (
            "host-gd",
            incident(
                pb::IncidentKind::HostControlled,
                Asset::Ip("58.60.2.2".into()),
            ),
        ),
    ];
    for (id, payload) in reports {
        let ack = vendor
            .submit(id, report(app, pb::Tlp::Green, payload))
            .await
            .unwrap();
        assert_eq!(ack.outcome, pb::SubmissionOutcome::Accepted as i32, "{id}");
    }
    let merged = app
        .client("telecom-gd")
        .await
        .unit()
        .submit(
            "c2-gd-again",
            report(
                app,
                pb::Tlp::Green,
                control_server(
                    "58.60.1.1",
                    P::BotnetControlServer,
                    8080,
                    "Mirai",
                    120_000,
                    "",
                ),
            ),
        )
        .await
        .unwrap();
    assert_eq!(merged.outcome, pb::SubmissionOutcome::Merged as i32);
}

fn day_request(app: &TestApp) -> pb::StatisticsRequest {
    pb::StatisticsRequest {
        period: Some(pb::StatisticsPeriod {
            span: Some(pb::statistics_period::Span::Day(today(app))),
        }),
        ..Default::default()
    }
}

async fn threats(
    client: &Client,
    req: pb::StatisticsRequest,
) -> Result<pb::ThreatStatistics, tonic::Status> {
    client
        .statistics()
        .get_threat_statistics(req)
        .await
        .map(|r| r.into_inner())
}

/// key → (threats, sightings)
fn rows(rows: &[pb::CountRow]) -> HashMap<String, (u64, u64)> {
    rows.iter()
        .map(|r| (r.key.clone(), (r.threats, r.sightings)))
        .collect()
}

on_both_backends!(
    a_day_of_reports_shows_in_every_table_of_the_national_figures,
    each_role_sees_the_figures_of_its_jurisdiction_only,
    malformed_statistics_requests_are_refused_naming_the_field,
    disposal_and_appeal_figures_count_notices_and_appeals_by_addressee_and_province,
    the_cli_prints_statistics_and_refuses_a_bad_country_file,
    figures_of_a_period_stay_after_retention_removes_its_threats,
    periods_read_from_weeks_and_months_equal_the_days_they_cover,
);

async fn a_day_of_reports_shows_in_every_table_of_the_national_figures(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    seed(&app).await;
    let s = threats(&app.client("miit").await, day_request(&app))
        .await
        .unwrap();
    assert_eq!((s.threats, s.sightings), (6, 7));
    assert_eq!(s.scope.as_ref().unwrap().kind, "national");
    assert_eq!(s.by_day.len(), 1);
    assert_eq!((s.by_day[0].threats, s.by_day[0].sightings), (6, 7));
    let cat = rows(&s.by_category);
    assert_eq!(cat["1"], (3, 4));
    assert_eq!(cat["4"], (3, 3));
    assert_eq!(
        s.by_category.iter().find(|r| r.key == "1").unwrap().label,
        "THREAT_CATEGORY_MALICIOUS_RESOURCE"
    );
    let kind = rows(&s.by_kind);
    assert_eq!(kind["1.1"], (3, 4));
    assert_eq!(kind["4.3"], (2, 2));
    assert_eq!(kind["4.1"], (1, 1));
    assert_eq!(rows(&s.by_event_grade)["3"], (6, 7));
    // Resources by the ownership registry; the responsible units' registered provinces.
    let rprov = rows(&s.by_resource_province);
    assert_eq!(rprov["440000"], (2, 3));
    assert_eq!(rprov["110000"], (1, 1));
    assert_eq!(rprov["none"], (3, 3));
    let units = rows(&s.by_responsible_unit);
    assert_eq!(units["telecom-gd"], (2, 3));
    assert_eq!(units["registrar-bj"], (1, 1));
    let uprov = rows(&s.by_responsible_province);
    assert_eq!(uprov["440000"], (2, 3));
    assert_eq!(uprov["110000"], (1, 1));
    assert_eq!(rows(&s.controlled_hosts_by_province)["440000"], (1, 1));
    // Control servers outside the mainland, with where each country came from.
    let outside: Vec<(String, String, u64, u64)> = s
        .control_servers_outside_mainland
        .iter()
        .map(|c| {
            (
                c.country.clone(),
                c.source.clone(),
                c.botnet_threats,
                c.trojan_threats,
            )
        })
        .collect();
    assert!(
        outside.contains(&("US".into(), "dataset".into(), 1, 0)),
        "{outside:?}"
    );
    assert!(
        outside.contains(&("NL".into(), "reported".into(), 0, 1)),
        "{outside:?}"
    );
    assert_eq!(outside.len(), 2, "{outside:?}");
    let ports = rows(&s.botnet_control_ports);
    assert_eq!(ports["TCP/8080"], (1, 2));
    assert_eq!(ports["TCP/6667"], (1, 1));
    assert!(
        !ports.contains_key("TCP/443"),
        "a trojan server is no botnet's"
    );
    assert_eq!(rows(&s.top_ports)["TCP/443"], (1, 1));
    let sizes = rows(&s.botnet_sizes);
    assert_eq!(sizes.len(), 6);
    assert_eq!(sizes["<1000"], (1, 1));
    assert_eq!(sizes["100000-500000"], (1, 2));
    assert_eq!(sizes[">1000000"], (0, 0));
    assert_eq!(s.defacements_by_month.len(), 1);
    let m = &s.defacements_by_month[0];
    assert_eq!((m.threats, m.gov_cn_threats, m.gov_cn_share), (2, 1, 0.5));
    let families = rows(&s.malware_families);
    assert_eq!(families["mirai"], (1, 2));
    assert_eq!(s.malware_families[0].key, "mirai", "most sightings first");

    // A day without reports answers zeros; a month covers the day.
    let mut req = day_request(&app);
    let mut yesterday = today(&app);
    yesterday.day -= 1;
    if yesterday.day >= 1 {
        req.period = Some(pb::StatisticsPeriod {
            span: Some(pb::statistics_period::Span::Day(yesterday)),
        });
        let empty = threats(&app.client("miit").await, req).await.unwrap();
        assert_eq!((empty.threats, empty.sightings), (0, 0));
    }
    let d = today(&app);
    let month = threats(
        &app.client("cncert").await,
        pb::StatisticsRequest {
            period: Some(pb::StatisticsPeriod {
                span: Some(pb::statistics_period::Span::Month(format!(
                    "{:04}-{:02}",
                    d.year, d.month
                ))),
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((month.threats, month.sightings), (6, 7));
    assert!(month.by_day.len() >= 28);
}

async fn each_role_sees_the_figures_of_its_jurisdiction_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    seed(&app).await;
    let ask = |province: &str, org: &str| pb::StatisticsRequest {
        province: province.into(),
        organisation_id: org.into(),
        ..day_request(&app)
    };
    // The Guangdong regulator: reports about Guangdong resources or by Guangdong units.
    let gdca = app.client("gdca").await;
    let s = threats(&gdca, ask("", "")).await.unwrap();
    assert_eq!(s.scope.as_ref().unwrap().id, "440000");
    assert_eq!((s.threats, s.sightings), (2, 3));
    assert_eq!(
        threats(&gdca, ask("440000", "")).await.unwrap().sightings,
        3
    );
    let err = threats(&gdca, ask("110000", "")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    assert!(err.message().contains("110000"), "{}", err.message());
    let s = threats(&gdca, ask("", "telecom-gd")).await.unwrap();
    assert_eq!((s.threats, s.sightings), (0, 1));
    let err = threats(&gdca, ask("", "vendor-bj")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");

    // The national regulator names any province; the Beijing one holds one report about a
    // Beijing resource, and the reporter's five others (vendor-bj is in Beijing).
    let miit = app.client("miit").await;
    let bj = threats(&miit, ask("110000", "")).await.unwrap();
    assert_eq!((bj.threats, bj.sightings), (6, 6));
    assert_eq!(
        threats(&miit, ask("", "telecom-gd"))
            .await
            .unwrap()
            .sightings,
        1
    );

    // A unit: its own sightings only, and nobody else's or any province's.
    let telecom = app.client("telecom-gd").await;
    let own = threats(&telecom, ask("", "")).await.unwrap();
    assert_eq!(own.scope.as_ref().unwrap().kind, "organisation");
    assert_eq!((own.threats, own.sightings), (0, 1));
    for (province, org) in [("440000", ""), ("", "vendor-bj")] {
        let err = threats(&telecom, ask(province, org)).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{province}{org}: {err}");
    }
    let vendor = threats(&app.client("vendor-bj").await, ask("", ""))
        .await
        .unwrap();
    assert_eq!((vendor.threats, vendor.sightings), (6, 6));

    // The institution sees everything; an informational recipient nothing.
    let cert = threats(&app.client("cncert").await, ask("", ""))
        .await
        .unwrap();
    assert_eq!((cert.threats, cert.sightings), (6, 7));
    app.add_organisation("cac-gd", pb::Role::InformationalRecipient, "440000", "")
        .await;
    let err = threats(&app.client("cac-gd").await, ask("", ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
}

async fn malformed_statistics_requests_are_refused_naming_the_field(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let miit = app.client("miit").await;
    let date = |y, m, d| pb::Date {
        year: y,
        month: m,
        day: d,
    };
    let with = |span| pb::StatisticsRequest {
        period: Some(pb::StatisticsPeriod { span: Some(span) }),
        ..Default::default()
    };
    use pb::statistics_period::Span;
    let range = |from, to| {
        with(Span::Range(pb::DateRange {
            from: Some(from),
            to: Some(to),
        }))
    };
    let cases = [
        (pb::StatisticsRequest::default(), "period"),
        (with(Span::Day(date(2026, 2, 30))), "period.day"),
        (with(Span::Month("2026-13".into())), "period.month"),
        (with(Span::WeekOf(date(2026, 0, 1))), "period.week_of"),
        (range(date(2026, 3, 1), date(2026, 2, 1)), "period.range.to"),
        (range(date(2025, 1, 1), date(2026, 1, 2)), "period.range.to"),
        (
            with(Span::Range(pb::DateRange {
                from: None,
                to: Some(date(2026, 1, 1)),
            })),
            "period.range.from",
        ),
        (
            pb::StatisticsRequest {
                province: "44".into(),
                ..with(Span::Day(date(2026, 1, 1)))
            },
            "province",
        ),
        (
            pb::StatisticsRequest {
                province: "440000".into(),
                organisation_id: "telecom-gd".into(),
                ..with(Span::Day(date(2026, 1, 1)))
            },
            "organisation_id",
        ),
        (
            pb::StatisticsRequest {
                organisation_id: "nobody".into(),
                ..with(Span::Day(date(2026, 1, 1)))
            },
            "organisation_id",
        ),
    ];
    for (req, field) in cases {
        let err = threats(&miit, req.clone()).await.unwrap_err();
        assert_eq!(bad_field(&err), field, "{req:?}: {err}");
        let err = miit
            .statistics()
            .get_appeal_statistics(req.clone())
            .await
            .unwrap_err();
        assert_eq!(bad_field(&err), field, "{req:?}: {err}");
    }
    let err = threats(&miit, range(date(2025, 1, 1), date(2026, 1, 2)))
        .await
        .unwrap_err();
    assert!(err.message().contains("367 days"), "{}", err.message());
}

async fn disposal_and_appeal_figures_count_notices_and_appeals_by_addressee_and_province(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (notice, targets) = blocking_notice(&app, "stats-1").await;
    report_disposed(&app, &notice, &targets).await;
    let appeal = file(
        &app.client("party-gd").await,
        by_party(&notice, &targets[0]),
    )
    .await
    .unwrap();
    app.officer("miit")
        .await
        .appeals()
        .answer_appeal(pb::AnswerAppealRequest {
            appeal_id: appeal.id.clone(),
            decision: pb::AppealDecision::Upheld as i32,
            reasons: "The server still served the malware when checked.".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // Thirty days from today hold the receipt and result deadlines.
    let d = today(&app);
    let from = chrono::NaiveDate::from_ymd_opt(d.year, d.month as u32, d.day as u32).unwrap();
    let to = from + chrono::Days::new(30);
    let req = |province: &str| pb::StatisticsRequest {
        period: Some(pb::StatisticsPeriod {
            span: Some(pb::statistics_period::Span::Range(pb::DateRange {
                from: Some(d),
                to: Some(pb::Date {
                    year: chrono::Datelike::year(&to),
                    month: chrono::Datelike::month(&to) as i32,
                    day: chrono::Datelike::day(&to) as i32,
                }),
            })),
        }),
        province: province.into(),
        ..Default::default()
    };
    let disposal = |org: &'static str, province: &'static str| {
        let app = &app;
        let req = req(province);
        async move {
            app.client(org)
                .await
                .statistics()
                .get_disposal_statistics(req)
                .await
        }
    };
    let national = disposal("miit", "").await.unwrap().into_inner();
    let total = national.total.unwrap();
    assert_eq!(total.notices_issued, 1);
    let receipts = total.receipts.unwrap();
    assert_eq!((receipts.due, receipts.on_time), (1, 1));
    let results = total.results.unwrap();
    assert_eq!((results.due, results.on_time), (2, 2));
    assert_eq!(national.units.len(), 1);
    assert_eq!(national.units[0].organisation_id, "telecom-gd");
    assert_eq!(national.units[0].province, "440000");
    assert_eq!(national.provinces[0].province, "440000");
    let gd = disposal("gdca", "").await.unwrap().into_inner();
    assert_eq!(gd.total.unwrap().notices_issued, 1);
    let bj = disposal("miit", "110000").await.unwrap().into_inner();
    assert_eq!(bj.total.unwrap().notices_issued, 0);
    assert!(bj.units.is_empty());
    let own = disposal("telecom-gd", "").await.unwrap().into_inner();
    assert_eq!(own.total.unwrap().notices_issued, 1);
    let other = disposal("vendor-bj", "").await.unwrap().into_inner();
    assert_eq!(other.total.unwrap().notices_issued, 0);
    let err = disposal("gdca", "110000").await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");

    let appeals = |org: &'static str| {
        let app = &app;
        let req = req("");
        async move {
            app.client(org)
                .await
                .statistics()
                .get_appeal_statistics(req)
                .await
                .unwrap()
                .into_inner()
        }
    };
    let a = appeals("miit").await;
    assert_eq!((a.filed, a.upheld, a.open, a.answered_late), (1, 1, 0, 0));
    // As in ListAppeals: a provincial regulator counts the appeals of its province.
    assert_eq!(
        appeals("gdca").await.filed,
        1,
        "a notice on Guangdong targets"
    );
    assert_eq!(appeals("registrar-bj").await.filed, 0);
    assert_eq!(appeals("party-gd").await.filed, 1, "its own appeal");
    assert_eq!(appeals("telecom-gd").await.filed, 0);
}

async fn the_cli_prints_statistics_and_refuses_a_bad_country_file(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    seed(&app).await;
    let d = today(&app);
    let day = format!("{:04}-{:02}-{:02}", d.year, d.month, d.day);
    let (ok, out, err) = cli(&app, "miit", None, &["stats", "threats", "--day", &day]);
    assert!(ok, "{err}");
    assert!(out.contains("national: 6 threats, 7 sightings"), "{out}");
    assert!(out.contains("US       (dataset ) botnet      1"), "{out}");
    let (ok, out, err) = cli(
        &app,
        "gdca",
        None,
        &["stats", "threats", "--day", &day, "--json"],
    );
    assert!(ok, "{err}");
    let v = &json_lines(&out)[0];
    assert_eq!(v["sightings"], 3);
    assert_eq!(v["scope"]["id"], "440000");
    let (ok, _, err) = cli(
        &app,
        "gdca",
        None,
        &["stats", "threats", "--day", &day, "--province", "110000"],
    );
    assert!(!ok);
    assert!(err.contains("PermissionDenied"), "{err}");
    let (ok, out, err) = cli(
        &app,
        "telecom-gd",
        None,
        &["stats", "disposal", "--month", &day[..7]],
    );
    assert!(ok, "{err}");
    assert!(out.contains("organisation telecom-gd: issued 0"), "{out}");
    let (ok, out, err) = cli(&app, "miit", None, &["stats", "appeals", "--week-of", &day]);
    assert!(ok, "{err}");
    assert!(out.contains("filed 0"), "{out}");
    let (ok, _, err) = cli(
        &app,
        "miit",
        None,
        &["stats", "threats", "--month", "2026-13"],
    );
    assert!(!ok);
    assert!(err.contains("period.month"), "{err}");

    // A bad file stores nothing; a good one is the next version.
    let (ok, _, err) = geo_load(&app, "1.0.0.0,1.0.0.255,AU\n1.0.0.9,1.0.1.0,AU\n");
    assert!(!ok);
    assert!(
        err.contains("line 2: range overlaps the one on line 1"),
        "{err}"
    );
    let (ok, out, err) = geo_load(&app, "1.0.0.0,1.0.0.255,AU\n");
    assert!(ok, "{err}");
    assert!(out.contains("version 2"), "{out}");
}

async fn figures_of_a_period_stay_after_retention_removes_its_threats(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let received = today(&app);
    let vendor = app.client("vendor-bj").await;
    let threat = vendor
        .unit()
        .submit(
            "aged",
            report(&app, pb::Tlp::Green, crate::threats::ip("45.80.0.1")),
        )
        .await
        .unwrap()
        .threat_id;
    // Past the default 180 days of retention: the sweep removes the threat.
    app.clock.advance(chrono::Duration::days(200));
    app.drive_timers_until_idle().await;
    assert_eq!(
        vendor.threat(&threat).await.unwrap_err().code(),
        Code::NotFound
    );
    let s = threats(
        &app.client("miit").await,
        pb::StatisticsRequest {
            period: Some(pb::StatisticsPeriod {
                span: Some(pb::statistics_period::Span::Day(received)),
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (s.threats, s.sightings),
        (1, 1),
        "what was received that day"
    );
}

fn period(from: chrono::NaiveDate, to: chrono::NaiveDate) -> pb::StatisticsRequest {
    let date = |d: chrono::NaiveDate| {
        use chrono::Datelike;
        pb::Date {
            year: d.year(),
            month: d.month() as i32,
            day: d.day() as i32,
        }
    };
    pb::StatisticsRequest {
        period: Some(pb::StatisticsPeriod {
            span: Some(pb::statistics_period::Span::Range(pb::DateRange {
                from: Some(date(from)),
                to: Some(date(to)),
            })),
        }),
        ..Default::default()
    }
}

/// Threats and sightings of `from..=to` as the national regulator and as the reporter read
/// them, with the category table's sum (read from the same counters as the totals).
async fn figures(app: &TestApp, from: chrono::NaiveDate, to: chrono::NaiveDate) -> [u64; 4] {
    let mut out = [0; 4];
    for (i, org) in ["miit", "vendor-bj"].into_iter().enumerate() {
        let s = threats(&app.client(org).await, period(from, to))
            .await
            .unwrap();
        let by_category: u64 = s.by_category.iter().map(|r| r.threats).sum();
        let by_day: u64 = s.by_day.iter().map(|d| d.threats).sum();
        assert_eq!((by_category, by_day), (s.threats, s.threats), "{org}");
        out[2 * i] = s.threats;
        out[2 * i + 1] = s.sightings;
    }
    out
}

/// What the test submitted per day: the expected figures of a period.
fn expected(
    sent: &[(chrono::NaiveDate, u64)],
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> [u64; 4] {
    let n: u64 = sent
        .iter()
        .filter(|(d, _)| *d >= from && *d <= to)
        .map(|(_, n)| n)
        .sum();
    [n, n, n, n]
}

async fn periods_read_from_weeks_and_months_equal_the_days_they_cover(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let local = |app: &TestApp| {
        fenghuo::domain::calendar::local_date(fenghuo::domain::clock::Clock::now(
            app.clock.as_ref(),
        ))
    };
    let first = local(&app);
    let mut sent: Vec<(chrono::NaiveDate, u64)> = Vec::new();
    let mut next_ip = 0u32;
    let mut submit = async |app: &TestApp, n: u64| {
        for _ in 0..n {
            next_ip += 1;
            let ip = format!("45.80.{}.{}", next_ip / 200, 1 + next_ip % 200);
            vendor
                .unit()
                .submit(
                    &format!("r{next_ip}"),
                    report(app, pb::Tlp::Green, crate::threats::ip(&ip)),
                )
                .await
                .unwrap();
        }
    };
    // Twelve reporting days nine days apart: about a hundred days over four months.
    for i in 0..12u64 {
        submit(&app, i + 1).await;
        sent.push((local(&app), i + 1));
        app.clock.advance(chrono::Duration::days(9));
    }
    let last = sent.last().unwrap().0;
    app.drive_timers_until_idle().await;
    let mut snapshot = app.application().store().read_snapshot().await.unwrap();
    let rolled = fenghuo::store::statistics::rolled_through(&mut snapshot)
        .await
        .unwrap()
        .expect("the daily roll-up ran");
    drop(snapshot);
    assert!(
        rolled >= last,
        "rolled through {rolled}, last report {last}"
    );
    let today = local(&app);
    let periods = [
        (first, today),
        (first + chrono::Days::new(5), last),
        (first + chrono::Days::new(27), first + chrono::Days::new(63)),
        (last, last),
        (first, first + chrono::Days::new(365)),
    ];
    for (from, to) in periods {
        assert_eq!(
            figures(&app, from, to).await,
            expected(&sent, from, to),
            "{from}..{to}"
        );
    }

    // A batch counted under a day already rolled (the clock set back onto it) adds to the
    // roll-ups in its own transaction: every period still equals its days.
    let late = sent[4].0;
    app.clock
        .set(fenghuo::domain::calendar::start_of_day(late) + chrono::Duration::hours(12));
    submit(&app, 4).await;
    sent[4].1 += 4;
    for (from, to) in periods {
        assert_eq!(
            figures(&app, from, to).await,
            expected(&sent, from, to),
            "{from}..{to} after a late batch"
        );
    }
    // Whatever the background fold had done by now, folding the rest changes no figure.
    let store = app.application().store();
    while fenghuo::store::statistics::fold(store).await.unwrap() > 0 {}
    let (pending,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM stat_pending")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(pending, 0);
    for (from, to) in periods {
        assert_eq!(
            figures(&app, from, to).await,
            expected(&sent, from, to),
            "{from}..{to} once every batch is folded"
        );
    }
}
