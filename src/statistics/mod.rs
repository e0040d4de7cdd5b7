//! Statistics (issue #15): a period's figures for a scope, computed from the counters the
//! intake keeps and from indexed reads of notices and appeals. Callable without gRPC (the
//! monthly bulletin builds on [`threat_statistics`], [`disposal_statistics`] and
//! [`appeal_statistics`]); `api/statistics.rs` only authorizes and converts.

pub mod facts;
pub mod geo;
pub mod period;
pub mod rollup;

use std::collections::{BTreeMap, HashMap};

use prost::Message;

use crate::api::calendar::date_to_pb;
use crate::domain::calendar::start_of_day;
use crate::domain::clock::to_micros;
use crate::pb;
use crate::store::Store;
use crate::store::statistics::{self as st, Filter, day_key, day_of_key};
use facts::dim;
pub use period::{Period, PeriodError};

/// How often a replica folds the intake's pending batches into the counters
/// ([`st::fold`]). Reads add what is still pending, so this bounds only how many pending
/// rows a read decodes (about one interval of intake batches), not what a figure shows.
pub const FOLD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Folds the pending batches every [`FOLD_INTERVAL`] until `shutdown` turns true (every
/// replica runs one; they take turns on the roll-up mark's lock).
pub fn spawn_folder(
    store: Store,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(FOLD_INTERVAL) => {}
            }
            loop {
                match st::fold(&store).await {
                    Ok(n) if n as i64 == st::FOLD_BATCHES => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "folding the statistics counters failed");
                        break;
                    }
                }
            }
        }
    })
}

/// Whose figures: everything, a province's (what its regulator sees, Art. 6) or one unit's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    National,
    Province(String),
    Organisation(String),
}

impl Scope {
    fn counter_scope(&self) -> String {
        match self {
            Scope::National => st::NATIONAL.to_owned(),
            Scope::Province(p) => st::province_scope(p),
            Scope::Organisation(o) => st::organisation_scope(o),
        }
    }

    fn filter(&self) -> Filter {
        match self {
            Scope::National => Filter::All,
            Scope::Province(p) => Filter::Province(p.clone()),
            Scope::Organisation(o) => Filter::Organisation(o.clone()),
        }
    }

    fn to_pb(&self) -> pb::StatisticsScope {
        let (kind, id) = match self {
            Scope::National => ("national", String::new()),
            Scope::Province(p) => ("province", p.clone()),
            Scope::Organisation(o) => ("organisation", o.clone()),
        };
        pb::StatisticsScope {
            kind: kind.into(),
            id,
        }
    }
}

/// `[start of from, start of the day after to)` in microseconds.
fn bounds(period: &Period) -> (i64, i64) {
    let after = period.to().succ_opt().unwrap_or(period.to());
    (
        to_micros(start_of_day(period.from())),
        to_micros(start_of_day(after)),
    )
}

fn label_of(d: &str, key: &str) -> String {
    let n = |k: &str| k.parse::<i32>().unwrap_or(-1);
    let name = match d {
        dim::CATEGORY => pb::ThreatCategory::try_from(n(key)).map(|c| c.as_str_name().to_owned()),
        dim::GRADE => pb::EventGrade::try_from(n(key)).map(|c| c.as_str_name().to_owned()),
        dim::COLOUR => pb::WarningColour::try_from(n(key)).map(|c| c.as_str_name().to_owned()),
        dim::KIND => {
            let (c, k) = key.split_once('.').unwrap_or((key, "0"));
            let k = n(k);
            let kind = match n(c) {
                1 => pb::MaliciousResourceKind::try_from(k).map(|x| x.as_str_name().to_owned()),
                2 => pb::MalwareKind::try_from(k).map(|x| x.as_str_name().to_owned()),
                3 => pb::HazardKind::try_from(k).map(|x| x.as_str_name().to_owned()),
                4 => pb::IncidentKind::try_from(k).map(|x| x.as_str_name().to_owned()),
                _ => Ok(String::new()),
            }
            .unwrap_or_default();
            let cat = pb::ThreatCategory::try_from(n(c))
                .map(|x| {
                    x.as_str_name()
                        .trim_start_matches("THREAT_CATEGORY_")
                        .to_owned()
                })
                .unwrap_or_default();
            let kind = kind
                .rsplit_once("_KIND_")
                .map(|(_, k)| k.to_owned())
                .unwrap_or(kind);
            return if kind.is_empty() {
                cat
            } else {
                format!("{cat}/{kind}")
            };
        }
        _ => return key.to_owned(),
    };
    name.unwrap_or_else(|_| "unknown".into())
}

fn row(d: &str, key: &str, (threats, sightings): (i64, i64)) -> pb::CountRow {
    pb::CountRow {
        key: key.to_owned(),
        label: label_of(d, key),
        threats: threats.max(0) as u64,
        sightings: sightings.max(0) as u64,
    }
}

/// Most sightings first, then by key; at most `limit`.
fn ranked(mut rows: Vec<pb::CountRow>, limit: usize) -> Vec<pb::CountRow> {
    rows.sort_by(|a, b| {
        b.sightings
            .cmp(&a.sightings)
            .then_with(|| a.key.cmp(&b.key))
    });
    rows.truncate(limit);
    rows
}

/// Threats and sightings received in `period`, as `scope` sees them
/// (`ThreatStatistics` in proto/fenghuo/v1/statistics.proto says what each figure counts).
///
/// # Errors
/// Storage failures only.
pub async fn threat_statistics(
    store: &Store,
    period: &Period,
    scope: &Scope,
) -> Result<pb::ThreatStatistics, sqlx::Error> {
    let counter = scope.counter_scope();
    let (from, to) = (day_key(period.from()), day_key(period.to()));
    // One snapshot for every counter read: a fold or roll-up committing between two reads
    // would otherwise count a batch twice or not at all.
    let mut snapshot = store.read_snapshot().await?;
    let rolled = st::rolled_through(&mut snapshot).await?;
    let cover = rollup::cover(period.from(), period.to(), rolled);
    let pending = st::pending(&mut snapshot, &counter, from, to).await?;
    let sums = st::sums(&mut snapshot, store.dialect(), &counter, &cover, &pending).await?;
    let mut by: HashMap<&str, BTreeMap<String, (i64, i64)>> = HashMap::new();
    for r in &sums {
        by.entry(r.dim.as_str())
            .or_default()
            .insert(r.item.clone(), (r.threats, r.sightings));
    }
    let table = |d: &str| -> Vec<pb::CountRow> {
        by.get(d)
            .map(|m| m.iter().map(|(k, v)| row(d, k, *v)).collect())
            .unwrap_or_default()
    };
    let (threats, sightings) = by
        .get(dim::TOTAL)
        .and_then(|m| m.get(""))
        .copied()
        .unwrap_or((0, 0));

    // Responsible units summed by their registered province.
    let units = table(dim::RESPONSIBLE_UNIT);
    let ids: Vec<String> = units.iter().map(|u| u.key.clone()).collect();
    let provinces = st::provinces_of(store, &ids).await?;
    let mut by_province: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for u in &units {
        let p = provinces
            .get(&u.key)
            .cloned()
            .unwrap_or_else(|| facts::NONE.to_owned());
        let e = by_province.entry(p).or_default();
        e.0 += u.threats as i64;
        e.1 += u.sightings as i64;
    }

    // Control servers outside the mainland, by country and source.
    let mut countries: BTreeMap<(String, String), pb::CountryRow> = BTreeMap::new();
    for (key, (t, s)) in by.get(dim::CONTROL_COUNTRY).into_iter().flatten() {
        let mut parts = key.splitn(3, '|');
        let (kind, source, country) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        if country == "CN" {
            continue;
        }
        let e = countries
            .entry((country.to_owned(), source.to_owned()))
            .or_insert_with(|| pb::CountryRow {
                country: country.to_owned(),
                source: source.to_owned(),
                ..Default::default()
            });
        if kind == "b" {
            e.botnet_threats += *t as u64;
        } else {
            e.trojan_threats += *t as u64;
        }
        e.sightings += *s as u64;
    }
    let mut countries: Vec<pb::CountryRow> = countries.into_values().collect();
    countries.sort_by(|a, b| {
        (b.botnet_threats + b.trojan_threats)
            .cmp(&(a.botnet_threats + a.trojan_threats))
            .then_with(|| a.country.cmp(&b.country))
    });

    // Ports: the botnet ones, and the top ten per transport over every control server.
    let mut botnet_ports = Vec::new();
    let mut ports: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (key, (t, s)) in by.get(dim::CONTROL_PORT).into_iter().flatten() {
        let (kind, port) = key.split_once('|').unwrap_or(("", key));
        if kind == "b" {
            botnet_ports.push(row(dim::CONTROL_PORT, port, (*t, *s)));
        }
        let e = ports.entry(port.to_owned()).or_default();
        e.0 += t;
        e.1 += s;
    }
    let mut top_ports = Vec::new();
    for transport in ["TCP/", "UDP/", "ANY/"] {
        top_ports.extend(ranked(
            ports
                .iter()
                .filter(|(k, _)| k.starts_with(transport))
                .map(|(k, v)| row(dim::CONTROL_PORT, k, *v))
                .collect(),
            10,
        ));
    }

    let sizes = by.get(dim::BOTNET_SIZE);
    let botnet_sizes = facts::SIZE_BANDS
        .iter()
        .map(|b| {
            row(
                dim::BOTNET_SIZE,
                b,
                sizes.and_then(|m| m.get(*b)).copied().unwrap_or((0, 0)),
            )
        })
        .collect();

    // Series: every day, and defacements per month.
    let daily = st::daily(
        &mut snapshot,
        &counter,
        &[dim::TOTAL, dim::DEFACEMENT],
        (from, to),
        &pending,
    )
    .await?;
    snapshot.rollback().await?;
    let mut days: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut months: HashMap<String, (u64, u64)> = HashMap::new();
    for r in daily {
        if r.dim == dim::TOTAL {
            days.insert(r.day, (r.threats, r.sightings));
        } else if let Some(d) = day_of_key(r.day) {
            let e = months.entry(d.format("%Y-%m").to_string()).or_default();
            e.0 += r.threats.max(0) as u64;
            if r.item == "gov" {
                e.1 += r.threats.max(0) as u64;
            }
        }
    }
    let by_day = period
        .days()
        .map(|d| {
            let (t, s) = days.get(&day_key(d)).copied().unwrap_or((0, 0));
            pb::DayCounts {
                day: Some(date_to_pb(d)),
                threats: t.max(0) as u64,
                sightings: s.max(0) as u64,
            }
        })
        .collect();
    let defacements_by_month = period
        .months()
        .into_iter()
        .map(|m| {
            let (t, g) = months.get(&m).copied().unwrap_or((0, 0));
            pb::DefacementMonth {
                month: m,
                threats: t,
                gov_cn_threats: g,
                gov_cn_share: if t == 0 { 0.0 } else { g as f64 / t as f64 },
            }
        })
        .collect();

    Ok(pb::ThreatStatistics {
        from: Some(date_to_pb(period.from())),
        to: Some(date_to_pb(period.to())),
        scope: Some(scope.to_pb()),
        threats: threats.max(0) as u64,
        sightings: sightings.max(0) as u64,
        by_day,
        by_category: table(dim::CATEGORY),
        by_kind: table(dim::KIND),
        by_event_grade: table(dim::GRADE),
        by_warning_colour: table(dim::COLOUR),
        by_resource_province: table(dim::RESOURCE_PROVINCE),
        by_responsible_unit: units,
        by_responsible_province: by_province
            .iter()
            .map(|(k, v)| row(dim::RESOURCE_PROVINCE, k, *v))
            .collect(),
        controlled_hosts_by_province: table(dim::CONTROLLED_HOSTS),
        control_servers_outside_mainland: countries,
        botnet_control_ports: ranked(botnet_ports, 20),
        botnet_sizes,
        defacements_by_month,
        top_ports,
        malware_families: ranked(table(dim::FAMILY), 20),
    })
}

fn duty_counts(rows: &[&st::DutyRow], now: i64) -> pb::DutyCounts {
    let rows: Vec<crate::store::notices::DutyRow> = rows
        .iter()
        .map(|r| crate::store::notices::DutyRow {
            org_id: r.org_id.clone(),
            due_at: r.due_at,
            met_at: r.met_at,
            not_disposed: r.not_disposed,
        })
        .collect();
    crate::api::disposal::compliance::counts(&rows.iter().collect::<Vec<_>>(), now)
}

/// Notices issued in `period` and the duties due in it (Art. 8, 9, 12), per addressee and
/// province, as `scope` sees them; duties count as of `now` (microseconds).
///
/// # Errors
/// Storage failures only.
pub async fn disposal_statistics(
    store: &Store,
    period: &Period,
    scope: &Scope,
    now: i64,
) -> Result<pb::DisposalStatistics, sqlx::Error> {
    let (from, before) = bounds(period);
    let filter = scope.filter();
    let issued = st::notices_issued(store, &filter, from, before).await?;
    let receipts = st::receipt_duties(store, &filter, from, before).await?;
    let results = st::result_duties(store, &filter, from, before).await?;
    let verified = st::verified_targets(store, &filter, from, before).await?;

    let mut units: BTreeMap<String, String> = BTreeMap::new();
    for (o, p) in issued
        .iter()
        .map(|r| (&r.org_id, &r.province))
        .chain(receipts.iter().map(|r| (&r.org_id, &r.province)))
        .chain(results.iter().map(|r| (&r.org_id, &r.province)))
        .chain(verified.iter().map(|r| (&r.org_id, &r.province)))
    {
        units.insert(o.clone(), p.clone());
    }
    let figures = |keep: &dyn Fn(&str, &str) -> bool| -> pb::DisposalFigures {
        let rec: Vec<_> = receipts
            .iter()
            .filter(|r| keep(&r.org_id, &r.province))
            .collect();
        let res: Vec<_> = results
            .iter()
            .filter(|r| keep(&r.org_id, &r.province))
            .collect();
        let ver: Vec<_> = verified
            .iter()
            .filter(|r| keep(&r.org_id, &r.province))
            .collect();
        let effective = ver
            .iter()
            .filter(|v| {
                v.verification
                    .as_deref()
                    .and_then(|b| pb::TargetVerification::decode(b).ok())
                    .is_some_and(|t| t.outcome == pb::VerificationOutcome::Effective as i32)
            })
            .count();
        pb::DisposalFigures {
            notices_issued: issued
                .iter()
                .filter(|r| keep(&r.org_id, &r.province))
                .map(|r| r.issued.max(0) as u64)
                .sum(),
            receipts: Some(duty_counts(&rec, now)),
            results: Some(duty_counts(&res, now)),
            verified: ver.len() as u64,
            verified_effective: effective as u64,
        }
    };
    let mut provinces: Vec<String> = units.values().cloned().collect();
    provinces.sort();
    provinces.dedup();
    Ok(pb::DisposalStatistics {
        from: Some(date_to_pb(period.from())),
        to: Some(date_to_pb(period.to())),
        scope: Some(scope.to_pb()),
        total: Some(figures(&|_, _| true)),
        units: units
            .iter()
            .map(|(o, p)| pb::UnitDisposal {
                organisation_id: o.clone(),
                province: p.clone(),
                figures: Some(figures(&|org, _| org == o)),
            })
            .collect(),
        provinces: provinces
            .iter()
            .map(|p| pb::ProvinceDisposal {
                province: p.clone(),
                figures: Some(figures(&|_, prov| prov == p)),
            })
            .collect(),
    })
}

/// Appeals filed in `period` (Art. 10) and what became of them, as of `now` (microseconds).
///
/// # Errors
/// Storage failures only.
pub async fn appeal_statistics(
    store: &Store,
    period: &Period,
    scope: &Scope,
    now: i64,
) -> Result<pb::AppealStatistics, sqlx::Error> {
    let (from, before) = bounds(period);
    let bodies = st::appeals_filed(store, &scope.filter(), from, before).await?;
    let mut a = pb::AppealStatistics {
        from: Some(date_to_pb(period.from())),
        to: Some(date_to_pb(period.to())),
        scope: Some(scope.to_pb()),
        ..Default::default()
    };
    for body in bodies {
        let Ok(appeal) = pb::Appeal::decode(body.as_slice()) else {
            continue;
        };
        a.filed += 1;
        // The end of answer_due_on (Asia/Shanghai), when known.
        let due_end = appeal
            .answer_due_on
            .as_ref()
            .and_then(|d| crate::api::calendar::date_from_pb("answer_due_on", Some(d)).ok())
            .and_then(|d| d.succ_opt())
            .map(|d| to_micros(start_of_day(d)));
        match pb::AppealState::try_from(appeal.state) {
            Ok(pb::AppealState::Open) => {
                a.open += 1;
                if appeal.overdue || due_end.is_some_and(|e| now >= e) {
                    a.overdue_open += 1;
                }
            }
            Ok(pb::AppealState::Withdrawn) => a.withdrawn += 1,
            Ok(pb::AppealState::Answered) => {
                let answer = appeal.answer.unwrap_or_default();
                match pb::AppealDecision::try_from(answer.decision) {
                    Ok(pb::AppealDecision::Upheld) => a.upheld += 1,
                    Ok(pb::AppealDecision::Revoked) => a.revoked += 1,
                    Ok(pb::AppealDecision::Modified) => a.modified += 1,
                    _ => {}
                }
                let answered = answer
                    .answered_at
                    .map(|t| t.seconds.saturating_mul(1_000_000) + i64::from(t.nanos / 1000));
                if appeal.overdue || matches!((answered, due_end), (Some(at), Some(e)) if at >= e) {
                    a.answered_late += 1;
                }
            }
            _ => {}
        }
    }
    Ok(a)
}
