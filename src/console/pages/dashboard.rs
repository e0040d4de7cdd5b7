//! The dashboard page: today's and this month's figures from StatisticsService.

use std::sync::Arc;

use axum::extract::State;

use super::Page;
use crate::bulletin::ChartKind;
use crate::console::labels::Lang;
use crate::console::view;
use crate::console::{Console, Ctx, render, rpc};
use crate::pb;
use crate::pb::statistics_service_server::StatisticsService as _;

#[derive(askama::Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    l: Lang,
    me: String,
    active: &'static str,
    today: String,
    month: String,
    today_threats: u64,
    today_sightings: u64,
    month_threats: u64,
    month_sightings: u64,
    notices_issued: u64,
    receipts_on_time: String,
    results_on_time: String,
    verified_effective: u64,
    appeals_filed: u64,
    appeals_open: u64,
    appeals_overdue: u64,
    by_day_chart: String,
    by_category_chart: String,
    by_category: Vec<(String, u64, u64)>,
    by_province: Vec<(String, u64, u64)>,
}

fn rate(d: Option<&pb::DutyCounts>) -> String {
    match d {
        Some(d) if d.due > 0 => format!("{:.1}% ({}/{})", d.on_time_rate * 100.0, d.on_time, d.due),
        _ => "—".into(),
    }
}

/// Today's and this month's figures (Asia/Shanghai), as StatisticsService answers them for
/// this certificate: national, the province, or the unit's own.
pub async fn dashboard(State(c): State<Arc<Console>>, ctx: Ctx) -> Page {
    let l = ctx.lang;
    let me = c.me(&ctx, rpc::THREAT_STATISTICS).await?;
    let today = crate::domain::calendar::local_date(c.clock.now());
    let month = today.format("%Y-%m").to_string();
    let period = |span| pb::StatisticsRequest {
        period: Some(pb::StatisticsPeriod { span: Some(span) }),
        ..Default::default()
    };
    use pb::statistics_period::Span;
    let day = c
        .call(
            &ctx,
            rpc::THREAT_STATISTICS,
            None,
            period(Span::Day(view::pb_date(today))),
            |r| c.statistics.get_threat_statistics(r),
        )
        .await?;
    let threats = c
        .call(
            &ctx,
            rpc::THREAT_STATISTICS,
            None,
            period(Span::Month(month.clone())),
            |r| c.statistics.get_threat_statistics(r),
        )
        .await?;
    let disposal = c
        .call(
            &ctx,
            rpc::DISPOSAL_STATISTICS,
            None,
            period(Span::Month(month.clone())),
            |r| c.statistics.get_disposal_statistics(r),
        )
        .await?;
    let appeals = c
        .call(
            &ctx,
            rpc::APPEAL_STATISTICS,
            None,
            period(Span::Month(month.clone())),
            |r| c.statistics.get_appeal_statistics(r),
        )
        .await?;
    let total = disposal.total.unwrap_or_default();
    let rows = |rows: &[pb::CountRow], words: fn(&pb::CountRow, Lang) -> String| {
        rows.iter()
            .map(|r| (words(r, l), r.threats, r.sightings))
            .collect::<Vec<_>>()
    };
    // The statistics' label of a category row is its enum name.
    let category_words = |r: &pb::CountRow, l: Lang| l.e(&r.label);
    let province_words =
        |r: &pb::CountRow, l: Lang| match (crate::domain::organisation::province_name(&r.key), l) {
            (Some((zh, _)), Lang::Zh) => format!("{zh} ({})", r.key),
            (Some((_, en)), Lang::En) => format!("{en} ({})", r.key),
            (None, _) if r.label.is_empty() => r.key.clone(),
            (None, _) => r.label.clone(),
        };
    let by_category = rows(&threats.by_category, category_words);
    let by_day_chart = view::chart(
        ChartKind::Line,
        l.t("by_day"),
        l.t("sightings"),
        threats
            .by_day
            .iter()
            .map(|d| {
                (
                    format!("{}", d.day.as_ref().map(|d| d.day).unwrap_or(0)),
                    d.sightings as f64,
                )
            })
            .collect(),
    );
    let by_category_chart = view::chart(
        ChartKind::Bar,
        l.t("by_category"),
        l.t("sightings"),
        by_category
            .iter()
            .map(|(k, _, s)| (k.clone(), *s as f64))
            .collect(),
    );
    Ok(render(&Dashboard {
        l,
        me,
        active: "dashboard",
        today: today.to_string(),
        month,
        today_threats: day.threats,
        today_sightings: day.sightings,
        month_threats: threats.threats,
        month_sightings: threats.sightings,
        notices_issued: total.notices_issued,
        receipts_on_time: rate(total.receipts.as_ref()),
        results_on_time: rate(total.results.as_ref()),
        verified_effective: total.verified_effective,
        appeals_filed: appeals.filed,
        appeals_open: appeals.open,
        appeals_overdue: appeals.overdue_open,
        by_day_chart,
        by_category_chart,
        by_category,
        by_province: rows(&threats.by_responsible_province, province_words),
    }))
}
