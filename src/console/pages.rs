//! The console's pages: each calls the RPCs it names (in-process, as the caller the auth
//! layer admits for that RPC) and renders the answer.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::labels::Lang;
use super::view::{self, Choice};
use super::{Console, Ctx, PageError, render, rpc};
use crate::auth::Caller;
use crate::bulletin::ChartKind;
use crate::pb;
use crate::pb::appeal_service_server::AppealService as _;
use crate::pb::calendar_service_server::CalendarService as _;
use crate::pb::disposal_service_server::DisposalService as _;
use crate::pb::identification_service_server::IdentificationService as _;
use crate::pb::statistics_service_server::StatisticsService as _;
use crate::pb::threat_service_server::ThreatService as _;

type Page = Result<Response, PageError>;
type Params = Query<HashMap<String, String>>;

const PAGE_SIZE: u32 = 50;

fn page_request(q: &HashMap<String, String>) -> Option<pb::PageRequest> {
    Some(pb::PageRequest {
        page_size: PAGE_SIZE,
        page_token: q.get("page_token").cloned().unwrap_or_default(),
    })
}

/// The query string of the next page: the same filters, the next token.
fn next_page(q: &HashMap<String, String>, token: &str) -> String {
    if token.is_empty() {
        return String::new();
    }
    let mut q = q.clone();
    q.insert("page_token".into(), token.to_owned());
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    let mut keys: Vec<_> = q.iter().filter(|(_, v)| !v.is_empty()).collect();
    keys.sort();
    for (k, v) in keys {
        url.append_pair(k, v);
    }
    format!("?{}", url.finish())
}

/// An enum filter from the query: its wire name, or 0 (any).
fn enum_filter(q: &HashMap<String, String>, key: &str, parse: fn(&str) -> Option<i32>) -> i32 {
    q.get(key).and_then(|v| parse(v)).unwrap_or(0)
}

/// The banner an action's redirect asks for (a key of the word table, nothing else).
fn done(q: &HashMap<String, String>) -> &'static str {
    match q.get("done").map(String::as_str) {
        Some("identified") => "identified",
        Some("decision_issued") => "decision_issued",
        Some("answered") => "answered",
        Some("acknowledged") => "acknowledged",
        Some("reported") => "reported",
        Some("verified") => "verified",
        _ => "",
    }
}

fn param(q: &HashMap<String, String>, key: &str) -> String {
    q.get(key).map(|v| v.trim().to_owned()).unwrap_or_default()
}

// ---------------------------------------------------------------- dashboard

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

// ---------------------------------------------------------------- threats

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

// ---------------------------------------------------------------- notices

struct NoticeRow {
    id: String,
    kind: String,
    addressee: String,
    threat_id: String,
    measure: String,
    issued_at: String,
    deadline: String,
    state: String,
    overdue: bool,
}

fn notice_row(l: Lang, n: &pb::Notice, now: chrono::DateTime<chrono::Utc>) -> NoticeRow {
    let body = view::notice_body(n);
    let status = n.status.clone().unwrap_or_default();
    let state = pb::NoticeState::try_from(status.state).unwrap_or(pb::NoticeState::Unspecified);
    let due = status.result_deadline.as_ref().or(body.deadline.as_ref());
    let open = matches!(
        state,
        pb::NoticeState::Issued
            | pb::NoticeState::AwaitingOfflineNotification
            | pb::NoticeState::NotifiedOffline
            | pb::NoticeState::Received
    );
    NoticeRow {
        id: n.notice_id.clone(),
        kind: view::notice_kind(l, body.kind),
        addressee: if body.addressee_organisation_id.is_empty() {
            body.addressee_name.clone()
        } else {
            body.addressee_organisation_id.clone()
        },
        threat_id: body.threat_id.clone(),
        measure: view::measure_type(l, body.measure_type),
        issued_at: view::when(body.issued_at.as_ref()),
        deadline: view::when(due),
        state: view::notice_state(l, status.state),
        overdue: open
            && body.kind == pb::NoticeKind::Disposal as i32
            && due.is_some_and(|d| d.seconds < now.timestamp()),
    }
}

#[derive(askama::Template)]
#[template(path = "notices.html")]
struct Notices {
    l: Lang,
    me: String,
    active: &'static str,
    states: Vec<Choice>,
    addressee: String,
    threat_id: String,
    decision_id: String,
    rows: Vec<NoticeRow>,
    next: String,
    done: &'static str,
}

/// Decisions' notices and where each stands (delivered, acknowledged, result, verified,
/// overdue), as ListNotices lets this caller see them.
pub async fn notices(State(c): State<Arc<Console>>, ctx: Ctx, Query(q): Params) -> Page {
    let l = ctx.lang;
    let me = c.me(&ctx, rpc::LIST_NOTICES).await?;
    let state = enum_filter(&q, "state", |v| {
        pb::NoticeState::from_str_name(v).map(|c| c as i32)
    });
    let answer = c
        .call(
            &ctx,
            rpc::LIST_NOTICES,
            None,
            pb::ListNoticesRequest {
                page: page_request(&q),
                addressee_organisation_id: param(&q, "addressee"),
                threat_id: param(&q, "threat_id"),
                decision_id: param(&q, "decision_id"),
                states: if state == 0 { vec![] } else { vec![state] },
                ..Default::default()
            },
            |r| c.disposal.list_notices(r),
        )
        .await?;
    let now = c.clock.now();
    Ok(render(&Notices {
        l,
        me,
        active: "notices",
        states: view::choices(l, view::NOTICE_STATES, &param(&q, "state")),
        addressee: param(&q, "addressee"),
        threat_id: param(&q, "threat_id"),
        decision_id: param(&q, "decision_id"),
        rows: answer
            .notices
            .iter()
            .map(|n| notice_row(l, n, now))
            .collect(),
        next: next_page(&q, &answer.next_page_token),
        done: done(&q),
    }))
}

struct TargetRow {
    id: String,
    kind: String,
    value: String,
    province: String,
    result: String,
    verification: String,
}

#[derive(askama::Template)]
#[template(path = "notice.html")]
struct NoticePage {
    l: Lang,
    me: String,
    active: &'static str,
    n: NoticeRow,
    decision_id: String,
    issuer: String,
    officer: String,
    legal_basis: String,
    instructions: String,
    grade: String,
    receipt_due: String,
    received_at: String,
    appeal_window: String,
    key_id: String,
    targets: Vec<TargetRow>,
    open_appeals: Vec<String>,
    /// SHA-256 (hex) of the signed body shown: what an acknowledgement records as received.
    body_sha256: String,
    can_acknowledge: bool,
    can_report: bool,
    can_verify: bool,
    outcomes: Vec<Choice>,
    verifications: Vec<Choice>,
    done: &'static str,
}

/// A notice, its targets' results and verifications, and the form of the caller's next duty:
/// the addressee acknowledges receipt and reports results (Art. 9), the institution verifies.
pub async fn notice(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Params,
) -> Page {
    let l = ctx.lang;
    let caller = c.caller(&ctx, rpc::GET_NOTICE).await?;
    let me = caller.organisation_id.clone();
    let answer = c
        .call(
            &ctx,
            rpc::GET_NOTICE,
            None,
            pb::GetNoticeRequest { notice_id: id },
            |r| c.disposal.get_notice(r),
        )
        .await?;
    let n = answer.notice.unwrap_or_default();
    let body = view::notice_body(&n);
    let status = n.status.clone().unwrap_or_default();
    let progress: HashMap<&str, &pb::TargetProgress> = status
        .targets
        .iter()
        .map(|p| (p.target_id.as_str(), p))
        .collect();
    let targets = body
        .targets
        .iter()
        .map(|t| {
            let p = progress.get(t.target_id.as_str());
            let target = t.target.clone().unwrap_or_default();
            TargetRow {
                id: t.target_id.clone(),
                kind: view::target_kind(l, target.kind),
                value: target.value,
                province: t.province.clone(),
                result: p
                    .and_then(|p| p.result.as_ref())
                    .map(|r| {
                        format!(
                            "{} {}",
                            view::disposal_outcome(l, r.outcome),
                            view::when(p.and_then(|p| p.result_reported_at.as_ref()))
                        )
                    })
                    .unwrap_or_default(),
                verification: p
                    .and_then(|p| p.verification.as_ref())
                    .map(|v| {
                        format!(
                            "{} {}",
                            view::verification_outcome(l, v.outcome),
                            view::when(v.checked_at.as_ref())
                        )
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    let window = match (
        view::date(body.appeal_window_opens_on.as_ref()),
        view::date(body.appeal_window_closes_on.as_ref()),
    ) {
        (from, to) if !to.is_empty() => format!("{from} – {to}"),
        _ => String::new(),
    };
    let state = pb::NoticeState::try_from(status.state).unwrap_or(pb::NoticeState::Unspecified);
    let addressed =
        body.addressee_organisation_id == me && body.kind == pb::NoticeKind::Disposal as i32;
    let revocation = body.kind == pb::NoticeKind::Revocation as i32;
    let body_sha256 = n
        .signed
        .as_ref()
        .map(|s| {
            use sha2::Digest as _;
            hex::encode(sha2::Sha256::digest(&s.body))
        })
        .unwrap_or_default();
    Ok(render(&NoticePage {
        l,
        active: "notices",
        body_sha256,
        can_acknowledge: (addressed || (revocation && body.addressee_organisation_id == me))
            && matches!(
                state,
                pb::NoticeState::Issued
                    | pb::NoticeState::AwaitingOfflineNotification
                    | pb::NoticeState::NotifiedOffline
            ),
        can_report: addressed && state == pb::NoticeState::Received,
        can_verify: caller
            .roles
            .contains(&crate::domain::organisation::Role::Institution)
            && state == pb::NoticeState::ResultsReported,
        outcomes: view::choices(
            l,
            &["DISPOSAL_OUTCOME_DISPOSED", "DISPOSAL_OUTCOME_NOT_DISPOSED"],
            "",
        ),
        verifications: view::choices(
            l,
            &[
                "VERIFICATION_OUTCOME_EFFECTIVE",
                "VERIFICATION_OUTCOME_NOT_EFFECTIVE",
            ],
            "",
        ),
        done: done(&q),
        me,
        decision_id: body.decision_id.clone(),
        issuer: body.issuer_organisation_id.clone(),
        officer: body.issuing_officer_name.clone(),
        legal_basis: body.legal_basis.clone(),
        instructions: body.instructions.clone(),
        grade: view::grade(l, body.grade),
        receipt_due: view::when(body.receipt_due.as_ref()),
        received_at: view::when(status.received_at.as_ref()),
        appeal_window: window,
        key_id: n
            .signed
            .as_ref()
            .map(|s| s.key_id.clone())
            .unwrap_or_default(),
        targets,
        open_appeals: status.open_appeal_ids.clone(),
        n: notice_row(l, &n, c.clock.now()),
    }))
}

// ---------------------------------------------------------------- non-compliance

struct NonComplianceRow {
    id: String,
    kind: String,
    organisation: String,
    notice_id: String,
    due: String,
    recorded_at: String,
    fulfilled_at: String,
    enforcements: String,
    art12_breach: bool,
}

#[derive(askama::Template)]
#[template(path = "compliance.html")]
struct NonCompliance {
    l: Lang,
    me: String,
    active: &'static str,
    organisation: String,
    rows: Vec<NonComplianceRow>,
    next: String,
}

/// Art. 12: duties missed, and the enforcement recorded against them.
pub async fn non_compliance(State(c): State<Arc<Console>>, ctx: Ctx, Query(q): Params) -> Page {
    let l = ctx.lang;
    let me = c.me(&ctx, rpc::LIST_NON_COMPLIANCE).await?;
    let answer = c
        .call(
            &ctx,
            rpc::LIST_NON_COMPLIANCE,
            None,
            pb::ListNonComplianceRequest {
                page: page_request(&q),
                organisation_id: param(&q, "organisation"),
                ..Default::default()
            },
            |r| c.disposal.list_non_compliance(r),
        )
        .await?;
    Ok(render(&NonCompliance {
        l,
        me,
        active: "compliance",
        organisation: param(&q, "organisation"),
        rows: answer
            .records
            .iter()
            .map(|r| NonComplianceRow {
                id: r.id.clone(),
                kind: view::non_compliance_kind(l, r.kind),
                organisation: r.organisation_id.clone(),
                notice_id: r.notice_id.clone(),
                due: view::when(r.due_at.as_ref()),
                recorded_at: view::when(r.recorded_at.as_ref()),
                fulfilled_at: view::when(r.fulfilled_at.as_ref()),
                enforcements: r.enforcement_ids.join(", "),
                art12_breach: r.art12_breach,
            })
            .collect(),
        next: next_page(&q, &answer.next_page_token),
    }))
}

// ---------------------------------------------------------------- appeals

struct AppealRow {
    id: String,
    notice_id: String,
    target: String,
    appellant: String,
    state: String,
    filed_on: String,
    answer_due_on: String,
    /// Working days from today (excluded) to the answer's due day (included), on the
    /// official calendar; empty while the due day's year is not loaded.
    days_left: String,
    overdue: bool,
    decision: String,
}

impl Console {
    /// Working days left to `due`: CalendarService.WorkingDaysBetween(today, due), negative
    /// once the day has passed; "—" when the calendar cannot answer (a year not loaded).
    /// `calendar` is the caller admitted for that RPC, once per page rather than per row.
    async fn days_left(&self, ctx: &Ctx, calendar: &Caller, due: Option<&pb::Date>) -> String {
        let Some(due) = due.filter(|d| d.year != 0) else {
            return String::new();
        };
        let Some(due_day) = view::naive(due) else {
            return String::new();
        };
        let today = crate::domain::calendar::local_date(self.clock.now());
        let (from, to, sign) = if due_day >= today {
            (today, due_day, 1)
        } else {
            (due_day, today, -1)
        };
        let mut request = tonic::Request::new(pb::WorkingDaysBetweenRequest {
            from: Some(view::pb_date(from)),
            to: Some(view::pb_date(to)),
        });
        request.extensions_mut().insert(calendar.clone());
        match self.calendar.working_days_between(request).await {
            Ok(a) => (sign * i64::from(a.into_inner().working_days)).to_string(),
            Err(_) => format!("— ({})", ctx.lang.t("calendar_unknown")),
        }
    }

    async fn appeal_row(&self, ctx: &Ctx, calendar: &Caller, a: &pb::Appeal) -> AppealRow {
        let l = ctx.lang;
        let target = a
            .target
            .as_ref()
            .and_then(|t| t.target.as_ref())
            .map(|t| format!("{} {}", view::target_kind(l, t.kind), t.value))
            .unwrap_or_default();
        let open = a.state == pb::AppealState::Open as i32;
        AppealRow {
            id: a.id.clone(),
            notice_id: a.notice_id.clone(),
            target,
            appellant: view::appellant_kind(l, a.appellant_kind),
            state: view::appeal_state(l, a.state),
            filed_on: view::date(a.filed_on.as_ref()),
            answer_due_on: view::date(a.answer_due_on.as_ref()),
            days_left: if open {
                self.days_left(ctx, calendar, a.answer_due_on.as_ref())
                    .await
            } else {
                String::new()
            },
            overdue: a.overdue,
            decision: a
                .answer
                .as_ref()
                .map(|x| view::appeal_decision(l, x.decision))
                .unwrap_or_default(),
        }
    }
}

#[derive(askama::Template)]
#[template(path = "appeals.html")]
struct Appeals {
    l: Lang,
    me: String,
    active: &'static str,
    states: Vec<Choice>,
    rows: Vec<AppealRow>,
    next: String,
}

/// Art. 10 appeals with the working days left to answer them.
pub async fn appeals(State(c): State<Arc<Console>>, ctx: Ctx, Query(q): Params) -> Page {
    let l = ctx.lang;
    let me = c.me(&ctx, rpc::LIST_APPEALS).await?;
    let state = enum_filter(&q, "state", |v| {
        pb::AppealState::from_str_name(v).map(|c| c as i32)
    });
    let answer = c
        .call(
            &ctx,
            rpc::LIST_APPEALS,
            None,
            pb::ListAppealsRequest {
                page: page_request(&q),
                states: if state == 0 { vec![] } else { vec![state] },
                ..Default::default()
            },
            |r| c.appeal.list_appeals(r),
        )
        .await?;
    let calendar = c.caller(&ctx, rpc::WORKING_DAYS_BETWEEN).await?;
    let mut rows = Vec::with_capacity(answer.appeals.len());
    for a in &answer.appeals {
        rows.push(c.appeal_row(&ctx, &calendar, a).await);
    }
    Ok(render(&Appeals {
        l,
        me,
        active: "appeals",
        states: view::choices(l, view::APPEAL_STATES, &param(&q, "state")),
        rows,
        next: next_page(&q, &answer.next_page_token),
    }))
}

#[derive(askama::Template)]
#[template(path = "appeal.html")]
struct AppealPage {
    l: Lang,
    me: String,
    active: &'static str,
    a: AppealRow,
    grounds: String,
    window_closes_on: String,
    reasons: String,
    can_answer: bool,
    answers: Vec<Choice>,
    done: &'static str,
}

pub async fn appeal(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Params,
) -> Page {
    let l = ctx.lang;
    let me = c.me(&ctx, rpc::GET_APPEAL).await?;
    let answer = c
        .call(
            &ctx,
            rpc::GET_APPEAL,
            None,
            pb::GetAppealRequest { appeal_id: id },
            |r| c.appeal.get_appeal(r),
        )
        .await?;
    let a = answer.appeal.unwrap_or_default();
    let calendar = c.caller(&ctx, rpc::WORKING_DAYS_BETWEEN).await?;
    Ok(render(&AppealPage {
        l,
        me,
        active: "appeals",
        grounds: a.grounds.clone(),
        window_closes_on: view::date(a.window_closes_on.as_ref()),
        reasons: a
            .answer
            .as_ref()
            .map(|x| x.reasons.clone())
            .unwrap_or_default(),
        can_answer: a.state == pb::AppealState::Open as i32,
        answers: view::choices(l, view::ANSWERS, ""),
        done: done(&q),
        a: c.appeal_row(&ctx, &calendar, &a).await,
    }))
}

// ---------------------------------------------------------------- bulletins

struct BulletinRow {
    month: String,
    language: String,
    publisher: String,
    published_at: String,
    key_id: String,
    pdf_kib: u64,
}

#[derive(askama::Template)]
#[template(path = "bulletins.html")]
struct Bulletins {
    l: Lang,
    me: String,
    active: &'static str,
    rows: Vec<BulletinRow>,
    next: String,
}

/// The monthly bulletins published on the platform (2009 reporting measures Art. 19).
pub async fn bulletins(State(c): State<Arc<Console>>, ctx: Ctx, Query(q): Params) -> Page {
    let l = ctx.lang;
    let me = c.me(&ctx, rpc::LIST_BULLETINS).await?;
    let answer = c
        .call(
            &ctx,
            rpc::LIST_BULLETINS,
            None,
            pb::ListBulletinsRequest {
                page: page_request(&q),
                ..Default::default()
            },
            |r| c.statistics.list_bulletins(r),
        )
        .await?;
    Ok(render(&Bulletins {
        l,
        me,
        active: "bulletins",
        rows: answer
            .bulletins
            .iter()
            .map(|b| BulletinRow {
                month: b.month.clone(),
                language: b.language.clone(),
                publisher: b.publisher.clone(),
                published_at: view::when(b.published_at.as_ref()),
                key_id: b.key_id.chars().take(16).collect(),
                pdf_kib: b.pdf_bytes.div_ceil(1024),
            })
            .collect(),
        next: next_page(&q, &answer.next_page_token),
    }))
}

/// A bulletin's signed HTML page or PDF, as GetBulletin answers it: `{lang}.html` shown in
/// the browser (its own inline styles and charts only), `{lang}.pdf` downloaded.
pub async fn bulletin_document(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Path((month, file)): Path<(String, String)>,
) -> Page {
    let l = ctx.lang;
    let (language, pdf) = match file.rsplit_once('.') {
        Some((lang, "pdf")) => (lang.to_owned(), true),
        Some((lang, "html")) => (lang.to_owned(), false),
        _ => {
            return Err(PageError::new(
                l,
                tonic::Status::not_found(format!(
                    "{file}: a bulletin is fetched as <language>.html or <language>.pdf, e.g. zh-CN.pdf"
                )),
            ));
        }
    };
    let answer = c
        .call(
            &ctx,
            rpc::GET_BULLETIN,
            None,
            pb::GetBulletinRequest {
                month: month.clone(),
                language: language.clone(),
            },
            |r| c.statistics.get_bulletin(r),
        )
        .await?;
    let response = if pdf {
        (
            [
                (header::CONTENT_TYPE, "application/pdf".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"fenghuo-bulletin-{month}-{language}.pdf\""),
                ),
            ],
            answer.pdf,
        )
            .into_response()
    } else {
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                // The bulletin's page carries its own styles and inline SVG; nothing else.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'".to_owned(),
                ),
            ],
            answer.html,
        )
            .into_response()
    };
    Ok(response)
}

// ---------------------------------------------------------------- language

/// Sets the language cookie and goes back to the page it was chosen on.
pub async fn set_language(Path(code): Path<String>, Query(q): Params) -> Response {
    let lang = if code == "en" { "en" } else { "zh" };
    // Only a path of this site: never an open redirect.
    let back = q
        .get("back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .cloned()
        .unwrap_or_else(|| "/".into());
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&back) {
        headers.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "lang={lang}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=31536000"
    )) {
        headers.insert(header::SET_COOKIE, v);
    }
    response
}
