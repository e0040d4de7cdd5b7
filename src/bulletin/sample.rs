//! A bulletin with every kind of section part, for the renderers' tests.

use chrono::NaiveDate;

use super::figures::{AppealFigures, DisposalFigures, MonthFigures};
use super::{Chart, ChartKind, Document, Language, Section, Table};

pub fn document() -> Document {
    let by_category = Chart {
        kind: ChartKind::Bar,
        caption: "2026年11月接收事件按类别分布".into(),
        unit: "起".into(),
        points: vec![
            ("恶意网络资源".into(), 1520.0),
            ("恶意程序".into(), 860.0),
            ("安全隐患".into(), 230.0),
            ("安全事件".into(), 95.0),
            ("其他".into(), 12.0),
        ],
    };
    let by_day = Chart {
        kind: ChartKind::Line,
        caption: "2026年11月每日接收事件".into(),
        unit: "起".into(),
        points: (1..=30)
            .map(|d| (format!("{d}"), f64::from((d * 37) % 120 + 20)))
            .collect(),
    };
    let sizes = Chart {
        kind: ChartKind::Share,
        caption: "僵尸网络规模分布".into(),
        unit: "个".into(),
        points: vec![
            ("<1,000".into(), 310.0),
            ("1,000–10,000".into(), 42.0),
            ("10,000–100,000".into(), 7.0),
            ("100,000–1,000,000".into(), 1.0),
            (">1,000,000".into(), 0.0),
        ],
    };
    Document {
        language: Language::Chinese,
        title: "公共互联网网络安全威胁月报（2026年11月）".into(),
        subtitle: "国家互联网应急中心 · 2026年12月1日发布".into(),
        footer: "本报告由烽火平台生成并签名（Ed25519）。".into(),
        sections: vec![
            Section {
                title: "一、接收事件情况".into(),
                paragraphs: vec![
                    "2026年11月，平台共接收各单位报送的网络安全威胁2,717起，较上月增长12.4%。"
                        .into(),
                ],
                tables: vec![Table::of(&by_category, "类别", "数量", Some("占比"))],
                charts: vec![by_category.clone(), by_day],
            },
            Section {
                title: "二、僵尸网络".into(),
                paragraphs: vec!["按控制规模统计的僵尸网络数量如下。".into()],
                tables: vec![Table::of(&sizes, "规模", "数量", None)],
                charts: vec![sizes],
            },
        ],
    }
}

/// A month of figures for [`super::figures::assemble`].
pub fn figures() -> MonthFigures {
    let c = |v: &[(&str, u64)]| v.iter().map(|(l, n)| ((*l).to_owned(), *n)).collect();
    MonthFigures {
        month: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        publisher_id: "cncert".into(),
        publisher: "国家互联网应急中心".into(),
        published_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        received_by_category: c(&[("恶意网络资源", 1520), ("恶意程序", 860), ("安全隐患", 230)]),
        received_previous_month: 2000,
        received_by_day: (1..=30).map(|d| (d.to_string(), d * 3)).collect(),
        reports_by_province: c(&[("广东", 900), ("北京", 700)]),
        trojan_hosts_by_province: c(&[("广东", 120)]),
        control_servers_abroad: c(&[("US", 40), ("KR", 10)]),
        country_source: "geo dataset 1".into(),
        botnet_control_ports: c(&[("6667", 30)]),
        botnet_sizes: c(&[("<1,000", 31), (">1,000,000", 1)]),
        defacements_by_month: c(&[("2026-10", 80), ("2026-11", 100)]),
        defacements_gov_cn: 25,
        top_ports: c(&[("445", 300)]),
        malware_families: c(&[("Mirai", 50)]),
        disposal: DisposalFigures {
            notices_issued: 40,
            acknowledged_in_time: 38,
            results_in_time: 30,
            verified_effective: 28,
            non_compliance_records: 2,
        },
        appeals: AppealFigures {
            filed: 3,
            upheld: 1,
            revoked: 1,
            modified: 0,
            answered_late: 0,
        },
    }
}
