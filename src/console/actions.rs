//! The console's actions: forms that an officer signs with their token, each one gRPC call
//! on the same service object gRPC serves (no rule implemented here), then a redirect to the
//! page that shows the outcome.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::BTreeMap;

use super::{Console, Ctx, PageError, rpc};
use crate::pb;
use crate::pb::appeal_service_server::AppealService as _;
use crate::pb::disposal_service_server::DisposalService as _;
use crate::pb::identification_service_server::IdentificationService as _;

type Action = Result<Response, PageError>;

/// Where the browser goes once an action is done (303: the form is not sent again).
fn see(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}

fn invalid(ctx: &Ctx, field: &str, rule: &str) -> PageError {
    PageError::new(
        ctx.lang,
        tonic::Status::invalid_argument(format!("{field}: {rule}")),
    )
}

/// Forms come only from the console's own pages (`Sec-Fetch-Site`, `Origin`).
fn same_origin(ctx: &Ctx) -> Result<(), PageError> {
    if ctx.cross_site {
        return Err(PageError::new(
            ctx.lang,
            tonic::Status::permission_denied(
                "this form was sent from another site; the console accepts its own forms only",
            ),
        ));
    }
    Ok(())
}

fn enum_value(
    ctx: &Ctx,
    field: &str,
    value: &str,
    parse: fn(&str) -> Option<i32>,
) -> Result<i32, PageError> {
    parse(value).ok_or_else(|| invalid(ctx, field, &format!("{value:?} is not one of the choices")))
}

#[derive(Deserialize)]
pub struct IdentifyForm {
    outcome: String,
    grade: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    grade_reason: String,
    #[serde(default)]
    potential_harm: String,
    #[serde(default)]
    officer_token: String,
}

/// Art. 7: the institution's officer confirms or rejects a threat (IdentificationService.Identify).
pub async fn identify(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<IdentifyForm>,
) -> Action {
    same_origin(&ctx)?;
    let outcome = enum_value(&ctx, "outcome", &form.outcome, |v| {
        pb::IdentificationOutcome::from_str_name(v).map(|o| o as i32)
    })?;
    let grade = enum_value(&ctx, "grade", &form.grade, |v| {
        pb::EventGrade::from_str_name(v).map(|o| o as i32)
    })?;
    c.call(
        &ctx,
        rpc::IDENTIFY,
        Some(&form.officer_token),
        pb::IdentifyRequest {
            threat_id: id.clone(),
            outcome,
            grade,
            reason: form.reason,
            grade_reason: form.grade_reason,
            potential_harm: form.potential_harm,
            ..Default::default()
        },
        |r| c.identification.identify(r),
    )
    .await?;
    Ok(see(&format!("/threats/{id}?done=identified")))
}

#[derive(Deserialize)]
pub struct DecisionForm {
    request_id: String,
    measure_type: String,
    target_kind: String,
    target_value: String,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    instructions: String,
    #[serde(default)]
    time_limit: String,
    #[serde(default)]
    time_unit: String,
    #[serde(default)]
    addressee: String,
    #[serde(default)]
    officer_token: String,
}

/// Art. 8: a regulator's officer issues a decision of one measure on one target
/// (DisposalService.IssueDecision: routing, signing and delivery as over gRPC). Decisions of
/// several measures or targets are issued with the CLI or gRPC.
pub async fn issue_decision(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Action {
    same_origin(&ctx)?;
    let measure_type = enum_value(&ctx, "measure_type", &form.measure_type, |v| {
        pb::MeasureType::from_str_name(v).map(|o| o as i32)
    })?;
    let kind = enum_value(&ctx, "target_kind", &form.target_kind, |v| {
        pb::MeasureTargetKind::from_str_name(v).map(|o| o as i32)
    })?;
    let time_limit = match form.time_limit.trim() {
        "" => None,
        n => {
            let n: u32 = n.parse().map_err(|_| {
                invalid(
                    &ctx,
                    "time_limit",
                    "a whole number of hours or working days",
                )
            })?;
            Some(pb::TimeLimit {
                limit: Some(match form.time_unit.as_str() {
                    "working_days" => pb::time_limit::Limit::WorkingDays(n),
                    _ => pb::time_limit::Limit::Hours(n),
                }),
            })
        }
    };
    let issued = c
        .call(
            &ctx,
            rpc::ISSUE_DECISION,
            Some(&form.officer_token),
            pb::IssueDecisionRequest {
                request_id: form.request_id,
                threat_id: id,
                measures: vec![pb::DecisionMeasure {
                    measure_type,
                    targets: vec![pb::MeasureTarget {
                        kind,
                        value: form.target_value.trim().to_owned(),
                    }],
                    legal_basis: form.legal_basis,
                    instructions: form.instructions,
                    time_limit,
                    addressee_organisation_id: form.addressee.trim().to_owned(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            |r| c.disposal.issue_decision(r),
        )
        .await?;
    Ok(see(&format!(
        "/notices?decision_id={}&done=decision_issued",
        issued.decision_id
    )))
}

#[derive(Deserialize)]
pub struct AnswerForm {
    decision: String,
    #[serde(default)]
    reasons: String,
    #[serde(default)]
    lift_hours: String,
    #[serde(default)]
    officer_token: String,
}

/// Art. 10: the deciding regulator's officer upholds or revokes (AppealService.AnswerAppeal).
pub async fn answer_appeal(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<AnswerForm>,
) -> Action {
    same_origin(&ctx)?;
    let decision = enum_value(&ctx, "decision", &form.decision, |v| {
        pb::AppealDecision::from_str_name(v).map(|o| o as i32)
    })?;
    let lift_time_limit = match form.lift_hours.trim() {
        "" => None,
        n => Some(pb::TimeLimit {
            limit: Some(pb::time_limit::Limit::Hours(n.parse().map_err(|_| {
                invalid(&ctx, "lift_hours", "a whole number of hours")
            })?)),
        }),
    };
    c.call(
        &ctx,
        rpc::ANSWER_APPEAL,
        Some(&form.officer_token),
        pb::AnswerAppealRequest {
            appeal_id: id.clone(),
            decision,
            reasons: form.reasons,
            lift_time_limit,
            replacement_measures: Vec::new(),
        },
        |r| c.appeal.answer_appeal(r),
    )
    .await?;
    Ok(see(&format!("/appeals/{id}?done=answered")))
}

#[derive(Deserialize)]
pub struct AcknowledgeForm {
    body_sha256: String,
}

/// 送达: the addressee acknowledges the body the page showed (DisposalService.AcknowledgeReceipt).
pub async fn acknowledge(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<AcknowledgeForm>,
) -> Action {
    same_origin(&ctx)?;
    let body_sha256 = hex::decode(form.body_sha256.trim())
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| {
            invalid(
                &ctx,
                "body_sha256",
                "the SHA-256 of the notice body, 64 hex digits",
            )
        })?;
    c.call(
        &ctx,
        rpc::ACKNOWLEDGE_RECEIPT,
        None,
        pb::AcknowledgeReceiptRequest {
            notice_id: id.clone(),
            body_sha256,
        },
        |r| c.disposal.acknowledge_receipt(r),
    )
    .await?;
    Ok(see(&format!("/notices/{id}?done=acknowledged")))
}

/// Per-target fields of a form: `outcome:<target id>` and the like, by target.
fn per_target(fields: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, String> {
    fields
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(prefix)
                .and_then(|t| t.strip_prefix(':'))
                .map(|t| (t.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

fn field(fields: &BTreeMap<String, String>, name: &str) -> String {
    fields
        .get(name)
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

/// Art. 9: the addressee reports each target disposed or not, with the reason
/// (DisposalService.ReportResult).
pub async fn report_result(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Action {
    same_origin(&ctx)?;
    let reasons = per_target(&fields, "reason");
    let details = per_target(&fields, "details");
    let mut results = Vec::new();
    for (target, outcome) in per_target(&fields, "outcome") {
        let outcome = enum_value(&ctx, &format!("outcome:{target}"), &outcome, |v| {
            pb::DisposalOutcome::from_str_name(v).map(|o| o as i32)
        })?;
        results.push(pb::TargetResult {
            reason: reasons.get(&target).cloned().unwrap_or_default(),
            details: details.get(&target).cloned().unwrap_or_default(),
            target_id: target,
            outcome,
            disposed_at: None,
        });
    }
    c.call(
        &ctx,
        rpc::REPORT_RESULT,
        None,
        pb::ReportResultRequest {
            notice_id: id.clone(),
            results,
            contact_person: field(&fields, "contact_person"),
            contact_phone: field(&fields, "contact_phone"),
        },
        |r| c.disposal.report_result(r),
    )
    .await?;
    Ok(see(&format!("/notices/{id}?done=reported")))
}

/// Art. 9: the institution's officer records what it checked of each target
/// (DisposalService.VerifyResult).
pub async fn verify_result(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Action {
    same_origin(&ctx)?;
    let details = per_target(&fields, "details");
    let mut verifications = Vec::new();
    for (target, outcome) in per_target(&fields, "outcome") {
        let outcome = enum_value(&ctx, &format!("outcome:{target}"), &outcome, |v| {
            pb::VerificationOutcome::from_str_name(v).map(|o| o as i32)
        })?;
        verifications.push(pb::TargetVerification {
            details: details.get(&target).cloned().unwrap_or_default(),
            target_id: target,
            outcome,
            checked_at: None,
        });
    }
    let token = field(&fields, "officer_token");
    c.call(
        &ctx,
        rpc::VERIFY_RESULT,
        Some(&token),
        pb::VerifyResultRequest {
            notice_id: id.clone(),
            verifications,
        },
        |r| c.disposal.verify_result(r),
    )
    .await?;
    Ok(see(&format!("/notices/{id}?done=verified")))
}
