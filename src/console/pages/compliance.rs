//! The non-compliance page (Art. 12): duties missed and the enforcement against them.

use std::sync::Arc;

use axum::extract::{Query, State};

use super::{Page, Params, next_page, page_request, param};
use crate::console::labels::Lang;
use crate::console::view;
use crate::console::{Console, Ctx, render, rpc};
use crate::pb;
use crate::pb::disposal_service_server::DisposalService as _;

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
