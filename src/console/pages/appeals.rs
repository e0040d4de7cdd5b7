//! The appeal pages (Art. 10): the list with working days left, and one appeal.

use std::sync::Arc;

use axum::extract::{Path, Query, State};

use super::{Page, Params, done, enum_filter, next_page, page_request, param};
use crate::auth::Caller;
use crate::console::labels::Lang;
use crate::console::view::{self, Choice};
use crate::console::{Console, Ctx, render, rpc};
use crate::pb;
use crate::pb::appeal_service_server::AppealService as _;
use crate::pb::calendar_service_server::CalendarService as _;

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
