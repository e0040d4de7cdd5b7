//! The threat pages: the identification queue (Art. 7), the threat search and one threat.

use std::sync::Arc;

use axum::extract::{Path, Query, State};

use super::{Page, Params, done, enum_filter, next_page, page_request, param};
use crate::console::labels::Lang;
use crate::console::view::{self, Choice};
use crate::console::{Console, Ctx, render, rpc};
use crate::pb;
use crate::pb::identification_service_server::IdentificationService as _;
use crate::pb::threat_service_server::ThreatService as _;

/// A threat as a row of a list.
struct ThreatRow {
    id: String,
    category: String,
    indicator: String,
    status: String,
    grade: String,
    sightings: u64,
    first_seen: String,
    last_seen: String,
}

fn threat_row(l: Lang, t: &pb::Threat) -> ThreatRow {
    ThreatRow {
        id: t.id.clone(),
        category: view::category(l, t.category),
        indicator: t.indicator.clone(),
        status: view::threat_status(l, t.status),
        grade: view::grade(l, t.grade),
        sightings: t.sighting_count,
        first_seen: view::when(t.first_seen.as_ref()),
        last_seen: view::when(t.last_seen.as_ref()),
    }
}

#[derive(askama::Template)]
#[template(path = "threats.html")]
struct Threats {
    l: Lang,
    me: String,
    active: &'static str,
    title: &'static str,
    /// The search form (the threats page) or none (the identification queue).
    search: bool,
    indicator: String,
    categories: Vec<Choice>,
    statuses: Vec<Choice>,
    rows: Vec<ThreatRow>,
    next: String,
}

/// The Art. 7 queue: threats no institution has identified yet.
pub async fn identification_queue(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Query(q): Params,
) -> Page {
    let l = ctx.lang;
    let me = c.me(&ctx, rpc::LIST_UNIDENTIFIED).await?;
    let category = enum_filter(&q, "category", |v| {
        pb::ThreatCategory::from_str_name(v).map(|c| c as i32)
    });
    let answer = c
        .call(
            &ctx,
            rpc::LIST_UNIDENTIFIED,
            None,
            pb::ListUnidentifiedRequest {
                page: page_request(&q),
                category,
            },
            |r| c.identification.list_unidentified(r),
        )
        .await?;
    Ok(render(&Threats {
        l,
        me,
        active: "identification",
        title: "nav.identification",
        search: false,
        indicator: String::new(),
        categories: view::choices(l, view::CATEGORIES, &param(&q, "category")),
        statuses: Vec::new(),
        rows: answer.threats.iter().map(|t| threat_row(l, t)).collect(),
        next: next_page(&q, &answer.next_page_token),
    }))
}

/// Search: by indicator (exact or prefix, as SearchThreats), category and status.
pub async fn threats(State(c): State<Arc<Console>>, ctx: Ctx, Query(q): Params) -> Page {
    let l = ctx.lang;
    let me = c.me(&ctx, rpc::SEARCH_THREATS).await?;
    let category = enum_filter(&q, "category", |v| {
        pb::ThreatCategory::from_str_name(v).map(|c| c as i32)
    });
    let status = enum_filter(&q, "status", |v| {
        pb::ThreatStatus::from_str_name(v).map(|c| c as i32)
    });
    let answer = c
        .call(
            &ctx,
            rpc::SEARCH_THREATS,
            None,
            pb::SearchThreatsRequest {
                page: page_request(&q),
                indicator: param(&q, "indicator"),
                category,
                statuses: if status == 0 { vec![] } else { vec![status] },
                ..Default::default()
            },
            |r| c.threat.search_threats(r),
        )
        .await?;
    Ok(render(&Threats {
        l,
        me,
        active: "threats",
        title: "nav.threats",
        search: true,
        indicator: param(&q, "indicator"),
        categories: view::choices(l, view::CATEGORIES, &param(&q, "category")),
        statuses: view::choices(l, view::THREAT_STATUSES, &param(&q, "status")),
        rows: answer.threats.iter().map(|t| threat_row(l, t)).collect(),
        next: next_page(&q, &answer.next_page_token),
    }))
}

struct SightingRow {
    id: String,
    reporter: String,
    received_at: String,
    tlp: String,
    late: bool,
}

#[derive(askama::Template)]
#[template(path = "threat.html")]
struct ThreatPage {
    l: Lang,
    me: String,
    active: &'static str,
    t: ThreatRow,
    identification: String,
    sightings: Vec<SightingRow>,
    can_identify: bool,
    can_decide: bool,
    outcomes: Vec<Choice>,
    grades: Vec<Choice>,
    measure_types: Vec<Choice>,
    target_kinds: Vec<Choice>,
    target_value: String,
    request_id: String,
    done: &'static str,
}

/// A threat with its sightings (as the TLP rule lets this caller see them), and the forms
/// of the next step: identify it (Art. 7) or issue a decision about it (Art. 8).
pub async fn threat(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Params,
) -> Page {
    let l = ctx.lang;
    let me = c.me(&ctx, rpc::GET_THREAT).await?;
    let answer = c
        .call(
            &ctx,
            rpc::GET_THREAT,
            None,
            pb::GetThreatRequest {
                threat_id: id,
                sightings_page: Some(pb::PageRequest {
                    page_size: 100,
                    page_token: String::new(),
                }),
            },
            |r| c.threat.get_threat(r),
        )
        .await?;
    let t = answer.threat.unwrap_or_default();
    let identification = t
        .identification
        .as_ref()
        .map(|i| {
            format!(
                "{} · {} · {} · {}",
                view::grade(l, i.grade),
                i.institution_organisation_id,
                view::when(i.identified_at.as_ref()),
                i.reason
            )
        })
        .unwrap_or_default();
    let sightings = t
        .sightings
        .iter()
        .map(|s| SightingRow {
            id: s.id.clone(),
            reporter: s.reporter_organisation_id.clone(),
            received_at: view::when(s.received_at.as_ref()),
            tlp: view::tlp(l, s.report.as_ref().map(|r| r.tlp).unwrap_or(0)),
            late: s.reported_late,
        })
        .collect();
    let status = pb::ThreatStatus::try_from(t.status).unwrap_or(pb::ThreatStatus::Unspecified);
    let target_kind = match t.category() {
        pb::ThreatCategory::MaliciousResource
            if t.indicator.parse::<std::net::IpAddr>().is_ok() =>
        {
            "MEASURE_TARGET_KIND_IP"
        }
        _ => "",
    };
    Ok(render(&ThreatPage {
        l,
        me,
        active: "threats",
        identification,
        sightings,
        can_identify: status == pb::ThreatStatus::Unidentified,
        can_decide: status == pb::ThreatStatus::Confirmed,
        outcomes: view::choices(l, view::OUTCOMES, ""),
        grades: view::choices(l, view::GRADES, "EVENT_GRADE_MAJOR"),
        measure_types: view::choices(l, view::MEASURE_TYPES, ""),
        target_kinds: view::choices(l, view::TARGET_KINDS, target_kind),
        target_value: if target_kind.is_empty() {
            String::new()
        } else {
            t.indicator.clone()
        },
        // The decision's idempotency key: a form sent twice issues one decision.
        request_id: uuid::Uuid::new_v4().to_string(),
        done: done(&q),
        t: threat_row(l, &t),
    }))
}
