//! The notice pages: the list of decisions' notices and one notice with its next duty.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};

use super::{Page, Params, done, enum_filter, next_page, page_request, param};
use crate::console::labels::Lang;
use crate::console::view::{self, Choice};
use crate::console::{Console, Ctx, render, rpc};
use crate::pb;
use crate::pb::disposal_service_server::DisposalService as _;

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
