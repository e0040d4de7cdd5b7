//! A month's bulletin figures, read from the statistics (the same functions
//! StatisticsService answers with), national scope: the bulletin's numbers are the
//! statistics' numbers.

use chrono::NaiveDate;

use super::figures::{AppealFigures, Count, DisposalFigures, MonthFigures};
use crate::domain::calendar::start_of_day;
use crate::domain::clock::to_micros;
use crate::pb;
use crate::statistics::{Period, Scope, appeal_statistics, disposal_statistics, threat_statistics};
use crate::store::Store;

/// Who publishes: the organisation whose key signs, and its name as printed.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub id: String,
    pub name: String,
}

fn counts(rows: &[pb::CountRow], sightings: bool) -> Vec<Count> {
    rows.iter()
        .map(|r| {
            let label = if r.label.is_empty() {
                r.key.clone()
            } else {
                r.label.clone()
            };
            (label, if sightings { r.sightings } else { r.threats })
        })
        .collect()
}

/// Province codes as their Chinese names (the bulletin's default language).
fn provinces(rows: &[pb::CountRow], sightings: bool) -> Vec<Count> {
    rows.iter()
        .map(|r| {
            let name = crate::domain::organisation::province_name(&r.key)
                .map_or_else(|| r.key.clone(), |(zh, _)| zh.to_owned());
            (name, if sightings { r.sightings } else { r.threats })
        })
        .collect()
}

/// The figures of `month` (its first day) as the bulletin prints them.
///
/// # Errors
/// Storage failures.
pub async fn month_figures(
    store: &Store,
    month: NaiveDate,
    publisher: &Publisher,
    published_on: NaiveDate,
) -> Result<MonthFigures, sqlx::Error> {
    let key = month.format("%Y-%m").to_string();
    let period = Period::month(&key, "month")
        .map_err(|e| sqlx::Error::Protocol(format!("bulletin month {key}: {e}")))?;
    let before = crate::domain::bulletin::reported_month(month);
    let previous = Period::month(&before.format("%Y-%m").to_string(), "month")
        .map_err(|e| sqlx::Error::Protocol(format!("bulletin month {before}: {e}")))?;
    // Disposal and appeal duties are judged as they stood when the bulletin is built.
    let now = to_micros(start_of_day(published_on));
    let threats = threat_statistics(store, &period, &Scope::National).await?;
    let before = threat_statistics(store, &previous, &Scope::National).await?;
    let disposal = disposal_statistics(store, &period, &Scope::National, now).await?;
    let appeals = appeal_statistics(store, &period, &Scope::National, now).await?;
    let total = disposal.total.unwrap_or_default();
    let last_defacement = threats.defacements_by_month.last();
    Ok(MonthFigures {
        month,
        publisher_id: publisher.id.clone(),
        publisher: publisher.name.clone(),
        published_on,
        received_by_category: threats
            .by_category
            .iter()
            .map(|r| (r.key.clone(), r.threats))
            .collect(),
        received_previous_month: before.threats,
        received_by_day: threats
            .by_day
            .iter()
            .map(|d| {
                (
                    d.day.map(|d| d.day.to_string()).unwrap_or_default(),
                    d.sightings,
                )
            })
            .collect(),
        reports_by_province: provinces(&threats.by_resource_province, true),
        trojan_hosts_by_province: provinces(&threats.controlled_hosts_by_province, false),
        control_servers_abroad: threats
            .control_servers_outside_mainland
            .iter()
            .map(|c| {
                (
                    if c.country.is_empty() {
                        "?".into()
                    } else {
                        c.country.clone()
                    },
                    c.botnet_threats + c.trojan_threats,
                )
            })
            .collect(),
        country_source: {
            let mut sources: Vec<&str> = threats
                .control_servers_outside_mainland
                .iter()
                .map(|c| c.source.as_str())
                .collect();
            sources.sort_unstable();
            sources.dedup();
            if sources.is_empty() {
                "—".into()
            } else {
                sources.join(", ")
            }
        },
        botnet_control_ports: counts(&threats.botnet_control_ports, false),
        botnet_sizes: counts(&threats.botnet_sizes, false),
        defacements_by_month: threats
            .defacements_by_month
            .iter()
            .map(|m| (m.month.clone(), m.threats))
            .collect(),
        defacements_gov_cn: last_defacement.map_or(0, |m| m.gov_cn_threats),
        top_ports: counts(&threats.top_ports, true),
        malware_families: counts(&threats.malware_families, true),
        disposal: DisposalFigures {
            notices_issued: total.notices_issued,
            acknowledged_in_time: total.receipts.map_or(0, |d| u64::from(d.on_time)),
            results_in_time: total.results.map_or(0, |d| u64::from(d.on_time)),
            verified_effective: total.verified_effective,
            non_compliance_records: total.results.map_or(0, |d| u64::from(d.missing)),
        },
        appeals: AppealFigures {
            filed: appeals.filed,
            upheld: appeals.upheld,
            revoked: appeals.revoked,
            modified: appeals.modified,
            answered_late: appeals.answered_late,
        },
    })
}
