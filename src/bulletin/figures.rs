//! What a month's bulletin reports, and how it is laid out in sections. The figures are
//! filled from the statistics; this file decides only their order, words and charts.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Chart, ChartKind, Document, Language, Section, Table, number, percent};

/// A labelled count.
pub type Count = (String, u64);

/// One month's figures, as the bulletin prints them (seed: CNCERT's half-year report's
/// sections, on the platform's own data).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MonthFigures {
    /// The month reported: its first day.
    pub month: NaiveDate,
    /// The publishing organisation's id (its key signs) and its name as printed.
    pub publisher_id: String,
    pub publisher: String,
    /// When the bulletin is published (the first working day of the next month, or the
    /// day it was built on demand).
    pub published_on: NaiveDate,
    /// Threats first received in the month, by Art. 2 category.
    pub received_by_category: Vec<Count>,
    /// Total received the month before, for the comparison sentence.
    pub received_previous_month: u64,
    /// Reports (sightings) received per day of the month, in order.
    pub received_by_day: Vec<Count>,
    /// Reports by the province of the reporting unit.
    pub reports_by_province: Vec<Count>,
    pub trojan_hosts_by_province: Vec<Count>,
    /// Control servers outside the mainland, by country or region, and where the
    /// country came from ("geo dataset v3", "reported by the submitter").
    pub control_servers_abroad: Vec<Count>,
    pub country_source: String,
    pub botnet_control_ports: Vec<Count>,
    /// Botnets by size, in the 2009 grade thresholds' bands.
    pub botnet_sizes: Vec<Count>,
    /// Defaced websites per month (the last months up to this one) and, this month,
    /// how many were under .gov.cn.
    pub defacements_by_month: Vec<Count>,
    pub defacements_gov_cn: u64,
    pub top_ports: Vec<Count>,
    pub malware_families: Vec<Count>,
    pub disposal: DisposalFigures,
    pub appeals: AppealFigures,
}

/// Art. 12: what was ordered and how it was carried out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DisposalFigures {
    pub notices_issued: u64,
    pub acknowledged_in_time: u64,
    pub results_in_time: u64,
    pub verified_effective: u64,
    /// Targets whose result was due and never reported (Art. 12's MISSING_RESULT).
    pub non_compliance_records: u64,
}

/// Art. 10: appeals filed and answered in the month.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AppealFigures {
    pub filed: u64,
    pub upheld: u64,
    pub revoked: u64,
    pub modified: u64,
    pub answered_late: u64,
}

fn points(counts: &[Count]) -> Vec<(String, f64)> {
    counts.iter().map(|(l, v)| (l.clone(), *v as f64)).collect()
}

fn total(counts: &[Count]) -> u64 {
    counts.iter().map(|(_, v)| v).sum()
}

/// An Art. 2 category by its contract number; any other label as it is.
fn category_name(key: &str, lang: Language) -> String {
    let names = match key {
        "1" => ("恶意网络资源", "malicious network resources"),
        "2" => ("恶意程序", "malicious programs"),
        "3" => ("安全隐患", "security hazards"),
        "4" => ("安全事件", "security incidents"),
        "5" => ("其他威胁", "other threats"),
        other => return other.to_owned(),
    };
    lang.pick(names.0, names.1).to_owned()
}

/// The bulletin of `f` in `lang`.
pub fn assemble(f: &MonthFigures, lang: Language) -> Document {
    let t = |zh: &str, en: &str| lang.pick(zh, en).to_owned();
    let month_name = match lang {
        Language::Chinese => f.month.format("%Y年%-m月").to_string(),
        Language::English => f.month.format("%B %Y").to_string(),
    };
    let chart = |kind, zh: &str, en: &str, unit: (&str, &str), counts: &[Count]| Chart {
        kind,
        caption: format!("{} {}", month_name, lang.pick(zh, en)),
        unit: lang.pick(unit.0, unit.1).to_owned(),
        points: points(counts),
    };
    let events = ("起", "events");
    let received = total(&f.received_by_category);
    let change = if f.received_previous_month == 0 {
        t("上月无可比数据", "no figure for the month before")
    } else {
        let pct = (received as f64 - f.received_previous_month as f64) * 100.0
            / f.received_previous_month as f64;
        match lang {
            Language::Chinese => format!(
                "较上月{}{:.1}%",
                if pct >= 0.0 { "增长" } else { "下降" },
                pct.abs()
            ),
            Language::English => format!(
                "{} {:.1}% on the month before",
                if pct >= 0.0 { "up" } else { "down" },
                pct.abs()
            ),
        }
    };

    // Statistics key the Art. 2 categories by their contract number.
    let categories: Vec<Count> = f
        .received_by_category
        .iter()
        .map(|(k, v)| (category_name(k, lang), *v))
        .collect();
    let by_category = chart(
        ChartKind::Bar,
        "接收威胁按类别分布",
        "threats received by category",
        events,
        &categories,
    );
    let by_day = chart(
        ChartKind::Line,
        "每日接收报告数",
        "reports received per day",
        events,
        &f.received_by_day,
    );
    let provinces = chart(
        ChartKind::Bar,
        "各省报告数",
        "reports by province",
        events,
        &f.reports_by_province,
    );
    let trojans = chart(
        ChartKind::Bar,
        "木马受控主机按省份分布",
        "trojan-controlled hosts by province",
        ("台", "hosts"),
        &f.trojan_hosts_by_province,
    );
    let abroad = chart(
        ChartKind::Share,
        "境外控制服务器按国家和地区分布",
        "control servers outside the mainland by country or region",
        ("台", "servers"),
        &f.control_servers_abroad,
    );
    let ports = chart(
        ChartKind::Bar,
        "僵尸网络控制服务器端口",
        "botnet control-server ports",
        ("个", "servers"),
        &f.botnet_control_ports,
    );
    let sizes = chart(
        ChartKind::Share,
        "僵尸网络规模分布",
        "botnets by size",
        ("个", "botnets"),
        &f.botnet_sizes,
    );
    let defaced = chart(
        ChartKind::Line,
        "网站被篡改数量（按月）",
        "defaced websites by month",
        ("个", "sites"),
        &f.defacements_by_month,
    );
    let top_ports = chart(
        ChartKind::Bar,
        "报告最多的端口",
        "ports reported most",
        ("次", "reports"),
        &f.top_ports,
    );
    let families = chart(
        ChartKind::Bar,
        "恶意程序家族",
        "malware families",
        ("次", "reports"),
        &f.malware_families,
    );
    let defaced_this_month = f.defacements_by_month.last().map_or(0, |(_, v)| *v);

    let d = &f.disposal;
    let disposal_table = Table {
        caption: t(
            "处置通知执行情况（第十二条）",
            "Disposal notices and their execution (Art. 12)",
        ),
        header: vec![
            t("项目", "item"),
            t("数量", "count"),
            t("占下发通知", "of notices issued"),
        ],
        rows: [
            (t("下发处置通知", "notices issued"), d.notices_issued),
            (
                t("按时确认接收", "acknowledged in time"),
                d.acknowledged_in_time,
            ),
            (
                t("按时反馈结果", "results reported in time"),
                d.results_in_time,
            ),
            (
                t("核查确认有效", "verified effective"),
                d.verified_effective,
            ),
            (
                t("未履行记录", "non-compliance records"),
                d.non_compliance_records,
            ),
        ]
        .into_iter()
        .map(|(l, v)| {
            vec![
                l,
                number(v as f64),
                percent(v as f64, d.notices_issued as f64),
            ]
        })
        .collect(),
    };
    let a = &f.appeals;
    let appeals_table = Table {
        caption: t("申诉及答复情况（第十条）", "Appeals and answers (Art. 10)"),
        header: vec![t("项目", "item"), t("数量", "count")],
        rows: [
            (t("收到申诉", "appeals filed"), a.filed),
            (t("维持原措施", "measure upheld"), a.upheld),
            (t("撤销措施", "measure revoked"), a.revoked),
            (t("变更措施", "measure modified"), a.modified),
            (t("逾期答复", "answered late"), a.answered_late),
        ]
        .into_iter()
        .map(|(l, v)| vec![l, number(v as f64)])
        .collect(),
    };

    let sections = vec![
        Section {
            title: t("一、网络安全威胁接收情况", "1. Threats received"),
            paragraphs: vec![match lang {
                Language::Chinese => format!(
                    "{month_name}，平台共接收各单位报送的网络安全威胁{}起，{change}。",
                    number(received as f64)
                ),
                Language::English => format!(
                    "In {month_name} the platform received {} threats from its units, {change}.",
                    number(received as f64)
                ),
            }],
            tables: vec![Table::of(
                &by_category,
                &t("类别", "category"),
                &t("数量", "count"),
                Some(&t("占比", "share")),
            )],
            charts: vec![by_category, by_day],
        },
        Section {
            title: t("二、威胁处置情况", "2. Disposal"),
            paragraphs: vec![t(
                "电信主管部门依据第八条下发处置通知，相关单位按要求确认接收、实施处置并反馈结果，专业机构对处置效果进行核查。",
                "Regulators order measures under Art. 8; the units acknowledge, carry them out and report results; the institution verifies them.",
            )],
            tables: vec![disposal_table],
            charts: Vec::new(),
        },
        Section {
            title: t("三、各省报送情况", "3. Reports by province"),
            paragraphs: Vec::new(),
            tables: vec![Table::of(
                &provinces,
                &t("省份", "province"),
                &t("报告数", "reports"),
                Some(&t("占比", "share")),
            )],
            charts: vec![provinces],
        },
        Section {
            title: t("四、木马与僵尸网络监测分析", "4. Trojans and botnets"),
            paragraphs: vec![match lang {
                Language::Chinese => {
                    format!("境外控制服务器的国家和地区依据：{}。", f.country_source)
                }
                Language::English => {
                    format!("Countries of control servers from: {}.", f.country_source)
                }
            }],
            tables: vec![
                Table::of(
                    &abroad,
                    &t("国家和地区", "country or region"),
                    &t("数量", "servers"),
                    Some(&t("占比", "share")),
                ),
                Table::of(
                    &sizes,
                    &t("规模（受控主机）", "size (hosts)"),
                    &t("僵尸网络数", "botnets"),
                    None,
                ),
            ],
            charts: vec![trojans, abroad, ports, sizes],
        },
        Section {
            title: t("五、网站篡改监测分析", "5. Website defacement"),
            paragraphs: vec![match lang {
                Language::Chinese => format!(
                    "本月监测到被篡改网站{}个，其中政府网站（.gov.cn）{}个，占{}。",
                    number(defaced_this_month as f64),
                    number(f.defacements_gov_cn as f64),
                    percent(f.defacements_gov_cn as f64, defaced_this_month as f64)
                ),
                Language::English => format!(
                    "{} defaced websites were reported this month, {} of them under .gov.cn ({}).",
                    number(defaced_this_month as f64),
                    number(f.defacements_gov_cn as f64),
                    percent(f.defacements_gov_cn as f64, defaced_this_month as f64)
                ),
            }],
            tables: Vec::new(),
            charts: vec![defaced],
        },
        Section {
            title: t("六、端口与恶意程序", "6. Ports and malware"),
            paragraphs: Vec::new(),
            tables: vec![Table::of(
                &families,
                &t("家族", "family"),
                &t("报告数", "reports"),
                None,
            )],
            charts: vec![top_ports, families],
        },
        Section {
            title: t("七、申诉情况", "7. Appeals"),
            paragraphs: vec![t(
                "受影响的单位和个人可在措施实施后十个工作日内提出申诉，电信主管部门在三十个工作日内答复（第十条）。",
                "Affected parties may appeal within 10 working days of a measure; the regulator answers within 30 working days (Art. 10).",
            )],
            tables: vec![appeals_table],
            charts: Vec::new(),
        },
    ];
    Document {
        language: lang,
        title: match lang {
            Language::Chinese => format!("公共互联网网络安全威胁月报（{month_name}）"),
            Language::English => {
                format!("Public Internet Cybersecurity Threat Bulletin, {month_name}")
            }
        },
        subtitle: match lang {
            Language::Chinese => format!(
                "{} · {}发布",
                f.publisher,
                f.published_on.format("%Y年%-m月%-d日")
            ),
            Language::English => format!("{} · published {}", f.publisher, f.published_on),
        },
        footer: t(
            "本月报由烽火平台生成并以Ed25519签名，可离线验证。",
            "Generated and signed (Ed25519) by the fenghuo platform; verifiable offline.",
        ),
        sections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_reach_the_page_in_both_languages() {
        let f = super::super::sample::figures();
        let zh = assemble(&f, Language::Chinese);
        let page = super::super::html::render(&zh).unwrap();
        for needle in [
            "2026年11月",
            "2,610起",
            "较上月增长30.5%",
            "政府网站（.gov.cn）25个，占25.0%",
            "95.0%",
        ] {
            assert!(page.contains(needle), "{needle} missing");
        }
        let en = assemble(&f, Language::English);
        let page = super::super::html::render(&en).unwrap();
        for needle in [
            "November 2026",
            "received 2,610 threats",
            "up 30.5%",
            "25 of them under .gov.cn (25.0%)",
        ] {
            assert!(page.contains(needle), "{needle} missing");
        }
    }

    #[test]
    fn an_empty_month_still_makes_a_bulletin() {
        let f = MonthFigures {
            month: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            published_on: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            ..Default::default()
        };
        let page = super::super::html::render(&assemble(&f, Language::Chinese)).unwrap();
        assert!(page.contains("上月无可比数据"));
    }
}
