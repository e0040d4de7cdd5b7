//! What happens to a notice after issue: receipt, results, verification,
//! revocation, lifting and offline notification (Art. 8–10).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Status;

use super::issue::{self, LIFT_TIMER, NewNotice, parse_id, parse_ids};
use super::{DisposalApi, view};
use crate::api::{from_timestamp, internal, invalid, precondition, timestamp};
use crate::auth::Caller;
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::notice::{self, DisposalLimits, NoticeKind};
use crate::pb;
use crate::store::notices::{self, NoticeRow, ReviewRow, TargetRow};
use crate::store::{Tx, audit, identifications, timers};

use crate::compliance::timers::{
    MISSING_LIFT, MISSING_OFFLINE_NOTIFICATION, MISSING_RECEIPT, MISSING_RESULT,
    MISSING_VERIFICATION, VERIFICATION_TIMER,
};

fn not_found(id: &str) -> Status {
    Status::not_found(format!("no notice {id} addressed to the caller"))
}

impl DisposalApi {
    /// The notice locked for a change by its addressee (others: NOT_FOUND, as if absent).
    async fn lock_own(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        id: &str,
    ) -> Result<(NoticeRow, Vec<TargetRow>), Status> {
        let row = notices::lock_notice(&self.store, tx, id)
            .await
            .map_err(internal)?
            .filter(|n| n.addressee.as_deref() == Some(caller.organisation_id.as_str()))
            .ok_or_else(|| not_found(id))?;
        let targets = notices::targets_in_tx(tx, id).await.map_err(internal)?;
        Ok((row, targets))
    }

    /// Stores the derived state and returns the status as it now stands.
    async fn refresh(&self, tx: &mut Tx, id: &str) -> Result<pb::NoticeStatus, Status> {
        let row = notices::lock_notice(&self.store, tx, id)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("notice vanished"))?;
        let targets = notices::targets_in_tx(tx, id).await.map_err(internal)?;
        notices::set_state(tx, id, view::state(&row, &targets))
            .await
            .map_err(internal)?;
        Ok(view::status(&row, &targets))
    }

    async fn audit(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        now: DateTime<Utc>,
        action: &str,
        subject: &str,
        details: serde_json::Value,
    ) -> Result<(), Status> {
        audit::append(
            tx,
            self.store.dialect(),
            now,
            &caller.actor(),
            action,
            subject,
            details,
        )
        .await
        .map_err(internal)?;
        Ok(())
    }

    pub(super) async fn acknowledge(
        &self,
        caller: &Caller,
        req: pb::AcknowledgeReceiptRequest,
    ) -> Result<pb::NoticeStatus, Status> {
        let id = parse_id("notice_id", &req.notice_id)?;
        if req.body_sha256.len() != 32 {
            return Err(invalid(
                "body_sha256",
                "the 32-byte SHA-256 of SignedNotice.body as received",
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await.map_err(internal)?;
        let (row, _) = self.lock_own(&mut tx, caller, &id).await?;
        let actual = Sha256::digest(&row.body);
        if actual[..] != req.body_sha256[..] {
            return Err(invalid(
                "body_sha256",
                format!(
                    "does not match the notice as signed (SHA-256 {}): verify the signature of what you received",
                    hex::encode(actual)
                ),
            ));
        }
        if row.received_at.is_none() {
            let at = to_micros(now);
            notices::set_received(&mut tx, &id, at, &hex::encode(actual))
                .await
                .map_err(internal)?;
            let deadline = self.deadline_from_receipt(&mut tx, &row, now).await?;
            notices::fulfil_non_compliance(&mut tx, MISSING_RECEIPT, &id, "", at)
                .await
                .map_err(internal)?;
            self.audit(
                &mut tx,
                caller,
                now,
                "disposal.acknowledge_receipt",
                &format!("notice:{id}"),
                serde_json::json!({
                    "body_sha256": hex::encode(actual),
                    "receipt_due": row.receipt_due,
                    "late": row.receipt_due.is_some_and(|d| at >= d),
                    "result_deadline": deadline.map(to_micros),
                }),
            )
            .await?;
        }
        let status = self.refresh(&mut tx, &id).await?;
        tx.commit().await.map_err(internal)?;
        Ok(status)
    }

    /// 2009 mechanism Art. 9(2): feedback is due `time_limit` after the unit receives the
    /// notice. The signed deadline runs from the receipt deadline; a receipt before it brings
    /// the deadline (and its Art. 12 timer) forward. Returns the deadline if it moved.
    async fn deadline_from_receipt(
        &self,
        tx: &mut Tx,
        row: &NoticeRow,
        received: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, Status> {
        if view::kind(row) != NoticeKind::Disposal {
            return Ok(None);
        }
        let body = view::body(row)?;
        let (Some(receipt_due), Some(current)) = (row.receipt_due, row.deadline) else {
            return Ok(None);
        };
        let limit = issue::time_limit("time_limit", body.time_limit.as_ref())?;
        let (true, Some(limit)) = (body.deadline_runs_from_receipt, limit) else {
            return Ok(None);
        };
        if to_micros(received) >= receipt_due {
            return Ok(None);
        }
        // A calendar year not loaded: the signed (latest) deadline stands.
        let Ok(deadline) = issue::due(tx, "time_limit", received, limit).await else {
            return Ok(None);
        };
        let at = to_micros(deadline);
        if at >= current {
            return Ok(None);
        }
        notices::set_deadline(tx, &row.id, at)
            .await
            .map_err(internal)?;
        timers::cancel_for(tx, issue::RESULT_TIMER, &row.id, received)
            .await
            .map_err(internal)?;
        timers::schedule(
            tx,
            deadline,
            issue::RESULT_TIMER,
            &row.id,
            serde_json::Value::Null,
        )
        .await
        .map_err(internal)?;
        Ok(Some(deadline))
    }

    pub(super) async fn report(
        &self,
        caller: &Caller,
        req: pb::ReportResultRequest,
    ) -> Result<pb::NoticeStatus, Status> {
        let id = parse_id("notice_id", &req.notice_id)?;
        if req.results.is_empty() {
            return Err(invalid("results", "report at least one target (Art. 9)"));
        }
        let now = self.clock.now();
        let mut results = Vec::with_capacity(req.results.len());
        let mut seen = HashSet::new();
        for (i, r) in req.results.iter().enumerate() {
            let f = |x: &str| format!("results[{i}].{x}");
            let target_id = parse_id(&f("target_id"), &r.target_id)?;
            if !seen.insert(target_id.clone()) {
                return Err(invalid(&f("target_id"), "reported twice in one request"));
            }
            let outcome = match pb::DisposalOutcome::try_from(r.outcome) {
                Ok(o) if o != pb::DisposalOutcome::Unspecified => o,
                _ => return Err(invalid(&f("outcome"), "DISPOSED or NOT_DISPOSED")),
            };
            let reason = r.reason.trim();
            if outcome == pb::DisposalOutcome::NotDisposed && reason.is_empty() {
                return Err(invalid(
                    &f("reason"),
                    "a target not disposed needs the reason (2009 mechanism Art. 9(2); Art. 12)",
                ));
            }
            if reason.chars().count() > 2000 || r.details.chars().count() > 4000 {
                return Err(invalid(
                    &f("reason"),
                    "reason at most 2000, details at most 4000 characters",
                ));
            }
            let disposed_at = match &r.disposed_at {
                Some(t) => {
                    let at = from_timestamp(&f("disposed_at"), t)?;
                    if at > now {
                        return Err(invalid(&f("disposed_at"), "lies in the future"));
                    }
                    Some(*t)
                }
                None if outcome == pb::DisposalOutcome::Disposed => Some(timestamp(to_micros(now))),
                None => None,
            };
            results.push(pb::TargetResult {
                target_id,
                outcome: outcome as i32,
                reason: reason.to_owned(),
                disposed_at,
                details: r.details.trim().to_owned(),
            });
        }
        let mut tx = self.store.begin().await.map_err(internal)?;
        let (row, targets) = self.lock_own(&mut tx, caller, &id).await?;
        if view::kind(&row) != NoticeKind::Disposal {
            return Err(precondition(
                "NOT_A_DISPOSAL_NOTICE",
                &format!("notice:{id}"),
                "results are reported on disposal notices only",
            ));
        }
        if row.received_at.is_none() {
            return Err(precondition(
                "RECEIPT_FIRST",
                &format!("notice:{id}"),
                "acknowledge receipt (送达) before reporting results (AcknowledgeReceipt)",
            ));
        }
        let body = view::body(&row)?;
        let limits = DisposalLimits::from_policy(
            &self.policy,
            &row.province,
            i64::from(body.grade),
            body.emergency,
        );
        let verification_at = issue::due(&mut tx, "verification", now, limits.verification)
            .await
            .ok();
        let verification_due = verification_at.map(to_micros);
        let at = to_micros(now);
        let mut review_ids = Vec::new();
        for (i, r) in results.iter().enumerate() {
            let t = targets
                .iter()
                .find(|t| t.target_id == r.target_id)
                .ok_or_else(|| {
                    invalid(
                        &format!("results[{i}].target_id"),
                        "not a target of this notice",
                    )
                })?;
            if t.revocation_notice_id.is_some() {
                return Err(precondition(
                    "TARGET_REVOKED",
                    &format!("target:{}", t.target_id),
                    format!(
                        "revoked by notice {}: report it lifted instead (ReportLifted)",
                        t.revocation_notice_id.clone().unwrap_or_default()
                    ),
                ));
            }
            notices::set_result(
                &mut tx,
                &id,
                &t.target_id,
                &r.encode_to_vec(),
                i64::from(r.outcome),
                at,
                // A measure not taken has nothing to verify.
                verification_due.filter(|_| r.outcome == pb::DisposalOutcome::Disposed as i32),
            )
            .await
            .map_err(internal)?;
            notices::fulfil_non_compliance(&mut tx, MISSING_RESULT, &id, &t.target_id, at)
                .await
                .map_err(internal)?;
            if let Some(review) = self
                .review_not_disposed(&mut tx, &row, &body, r, now)
                .await?
            {
                review_ids.push(review);
            }
        }
        // 2009 mechanism Art. 9(3): the institution verifies by verification_due; a timer
        // records it if not (the institution's KPI).
        if let Some(due) = verification_at {
            timers::schedule(
                &mut tx,
                due,
                VERIFICATION_TIMER,
                &id,
                serde_json::Value::Null,
            )
            .await
            .map_err(internal)?;
        }
        self.audit(
            &mut tx,
            caller,
            now,
            "disposal.report_result",
            &format!("notice:{id}"),
            serde_json::json!({
                "results": results.iter().map(|r| serde_json::json!({
                    "target_id": r.target_id, "outcome": r.outcome, "reason": r.reason,
                })).collect::<Vec<_>>(),
                "contact_person": req.contact_person.trim(),
                "deadline": row.deadline,
                "late": row.deadline.is_some_and(|d| at >= d),
                "review_items": review_ids,
            }),
        )
        .await?;
        let status = self.refresh(&mut tx, &id).await?;
        tx.commit().await.map_err(internal)?;
        Ok(status)
    }

    /// Art. 9, 12: a target reported NOT_DISPOSED waits in the review queue for the
    /// regulator (one open item per target, showing the latest such report); a later
    /// DISPOSED report settles it. Returns the id of an item opened.
    async fn review_not_disposed(
        &self,
        tx: &mut Tx,
        row: &NoticeRow,
        body: &pb::NoticeBody,
        result: &pb::TargetResult,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, Status> {
        let open = notices::open_review_of_target(
            tx,
            &row.id,
            &result.target_id,
            notices::REVIEW_NOT_DISPOSED,
        )
        .await
        .map_err(internal)?;
        if result.outcome != pb::DisposalOutcome::NotDisposed as i32 {
            if let Some(open) = open {
                notices::settle_review(tx, &open.id, to_micros(now), "result:disposed")
                    .await
                    .map_err(internal)?;
            }
            return Ok(None);
        }
        let item = pb::ReviewQueueItem {
            id: open
                .as_ref()
                .map_or_else(|| uuid::Uuid::now_v7().to_string(), |o| o.id.clone()),
            notice_id: row.id.clone(),
            threat_id: row.threat_id.clone(),
            addressee_organisation_id: row.addressee.clone().unwrap_or_default(),
            target: body
                .targets
                .iter()
                .find(|x| x.target_id == result.target_id)
                .cloned(),
            queued_at: Some(timestamp(
                open.as_ref().map_or(to_micros(now), |o| o.queued_at),
            )),
            reason: pb::ReviewReason::NotDisposed as i32,
            result: Some(result.clone()),
            ..Default::default()
        };
        if let Some(open) = open {
            notices::set_review_body(tx, &open.id, &item.encode_to_vec())
                .await
                .map_err(internal)?;
            return Ok(None);
        }
        notices::insert_review(
            tx,
            &ReviewRow {
                id: item.id.clone(),
                notice_id: row.id.clone(),
                target_id: result.target_id.clone(),
                threat_id: row.threat_id.clone(),
                addressee: item.addressee_organisation_id.clone(),
                province: row.province.clone(),
                verifier: String::new(),
                body: item.encode_to_vec(),
                queued_at: to_micros(now),
                settled_at: None,
                settled_by: None,
                reason: notices::REVIEW_NOT_DISPOSED,
            },
        )
        .await
        .map_err(internal)?;
        Ok(Some(item.id))
    }

    pub(super) async fn verify(
        &self,
        caller: &Caller,
        req: pb::VerifyResultRequest,
    ) -> Result<pb::VerifyResultResponse, Status> {
        let id = parse_id("notice_id", &req.notice_id)?;
        if req.verifications.is_empty() {
            return Err(invalid(
                "verifications",
                "verify at least one target (Art. 9)",
            ));
        }
        let now = self.clock.now();
        let row = notices::get_notice(&self.store, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("notice {id} does not exist")))?;
        let identification = identifications::by_threat(&self.store, &row.threat_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("a notice without an identification"))?;
        if identification.institution != caller.organisation_id {
            return Err(Status::permission_denied(format!(
                "Art. 9: the institution that identified threat {} ({}) verifies its disposal, not {}",
                row.threat_id, identification.institution, caller.organisation_id
            )));
        }
        let mut verifications = Vec::with_capacity(req.verifications.len());
        let mut seen = HashSet::new();
        for (i, v) in req.verifications.iter().enumerate() {
            let f = |x: &str| format!("verifications[{i}].{x}");
            let target_id = parse_id(&f("target_id"), &v.target_id)?;
            if !seen.insert(target_id.clone()) {
                return Err(invalid(&f("target_id"), "verified twice in one request"));
            }
            let outcome = match pb::VerificationOutcome::try_from(v.outcome) {
                Ok(o) if o != pb::VerificationOutcome::Unspecified => o,
                _ => return Err(invalid(&f("outcome"), "EFFECTIVE or NOT_EFFECTIVE")),
            };
            let details = v.details.trim();
            if outcome == pb::VerificationOutcome::NotEffective && details.is_empty() {
                return Err(invalid(
                    &f("details"),
                    "say what was checked and seen: the regulator decides on it",
                ));
            }
            if details.chars().count() > 4000 {
                return Err(invalid(&f("details"), "at most 4000 characters"));
            }
            let checked_at = match &v.checked_at {
                Some(t) if from_timestamp(&f("checked_at"), t)? > now => {
                    return Err(invalid(&f("checked_at"), "lies in the future"));
                }
                Some(t) => *t,
                None => timestamp(to_micros(now)),
            };
            verifications.push(pb::TargetVerification {
                target_id,
                outcome: outcome as i32,
                details: details.to_owned(),
                checked_at: Some(checked_at),
            });
        }
        let mut tx = self.store.begin().await.map_err(internal)?;
        notices::lock_notice(&self.store, &mut tx, &id)
            .await
            .map_err(internal)?;
        let targets = notices::targets_in_tx(&mut tx, &id)
            .await
            .map_err(internal)?;
        let mut review_ids = Vec::new();
        for (i, v) in verifications.iter().enumerate() {
            let t = targets
                .iter()
                .find(|t| t.target_id == v.target_id)
                .ok_or_else(|| {
                    invalid(
                        &format!("verifications[{i}].target_id"),
                        "not a target of this notice",
                    )
                })?;
            if t.result.is_none() {
                return Err(precondition(
                    "NO_RESULT",
                    &format!("target:{}", t.target_id),
                    "the addressee has not reported a result to verify yet",
                ));
            }
            notices::set_verification(
                &mut tx,
                &id,
                &t.target_id,
                &v.encode_to_vec(),
                to_micros(now),
            )
            .await
            .map_err(internal)?;
            notices::fulfil_non_compliance(
                &mut tx,
                MISSING_VERIFICATION,
                &id,
                &t.target_id,
                to_micros(now),
            )
            .await
            .map_err(internal)?;
            if v.outcome == pb::VerificationOutcome::NotEffective as i32 {
                let item = pb::ReviewQueueItem {
                    id: uuid::Uuid::now_v7().to_string(),
                    notice_id: id.clone(),
                    threat_id: row.threat_id.clone(),
                    addressee_organisation_id: row.addressee.clone().unwrap_or_default(),
                    target: view::body(&row)?
                        .targets
                        .into_iter()
                        .find(|x| x.target_id == t.target_id),
                    verification: Some(v.clone()),
                    verifier_organisation_id: caller.organisation_id.clone(),
                    queued_at: Some(timestamp(to_micros(now))),
                    reason: pb::ReviewReason::VerificationNotEffective as i32,
                    result: None,
                };
                notices::insert_review(
                    &mut tx,
                    &ReviewRow {
                        id: item.id.clone(),
                        notice_id: id.clone(),
                        target_id: t.target_id.clone(),
                        threat_id: row.threat_id.clone(),
                        addressee: item.addressee_organisation_id.clone(),
                        province: row.province.clone(),
                        verifier: caller.organisation_id.clone(),
                        body: item.encode_to_vec(),
                        queued_at: to_micros(now),
                        settled_at: None,
                        settled_by: None,
                        reason: notices::REVIEW_NOT_EFFECTIVE,
                    },
                )
                .await
                .map_err(internal)?;
                review_ids.push(item.id);
            }
        }
        self.audit(
            &mut tx,
            caller,
            now,
            "disposal.verify_result",
            &format!("notice:{id}"),
            serde_json::json!({
                "verifications": verifications.iter().map(|v| serde_json::json!({
                    "target_id": v.target_id, "outcome": v.outcome, "details": v.details,
                })).collect::<Vec<_>>(),
                "review_items": review_ids,
            }),
        )
        .await?;
        let status = self.refresh(&mut tx, &id).await?;
        tx.commit().await.map_err(internal)?;
        Ok(pb::VerifyResultResponse {
            status: Some(status),
            review_item_ids: review_ids,
        })
    }

    pub(super) async fn revoke(
        &self,
        caller: &Caller,
        req: pb::RevokeNoticeRequest,
    ) -> Result<pb::Notice, Status> {
        let id = parse_id("notice_id", &req.notice_id)?;
        let reason = req.reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return Err(invalid(
                "reason",
                "required, at most 2000 characters: the addressee reads it",
            ));
        }
        let wanted = parse_ids("target_ids", &req.target_ids)?;
        let lift_limit = issue::time_limit("lift_time_limit", req.lift_time_limit.as_ref())?;
        let now = self.clock.now();
        let signer = issue::signer(self, &caller.organisation_id, now).await?;
        let mut tx = self.store.begin().await.map_err(internal)?;
        let row = notices::lock_notice(&self.store, &mut tx, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("notice {id} does not exist")))?;
        caller.check_scope(
            row.issuer == caller.organisation_id,
            &row.province,
            &format!("notice {id}"),
        )?;
        if view::kind(&row) != NoticeKind::Disposal {
            return Err(precondition(
                "NOT_A_DISPOSAL_NOTICE",
                &format!("notice:{id}"),
                "only a disposal notice can be revoked",
            ));
        }
        let targets = notices::targets_in_tx(&mut tx, &id)
            .await
            .map_err(internal)?;
        let chosen: Vec<&TargetRow> = if wanted.is_empty() {
            targets
                .iter()
                .filter(|t| t.revocation_notice_id.is_none())
                .collect()
        } else {
            let mut out = Vec::new();
            for (i, w) in wanted.iter().enumerate() {
                let t = targets.iter().find(|t| &t.target_id == w).ok_or_else(|| {
                    invalid(&format!("target_ids[{i}]"), "not a target of this notice")
                })?;
                if let Some(r) = &t.revocation_notice_id {
                    return Err(precondition(
                        "ALREADY_REVOKED",
                        &format!("target:{w}"),
                        format!("already revoked by notice {r}"),
                    ));
                }
                out.push(t);
            }
            out
        };
        if chosen.is_empty() {
            return Err(precondition(
                "ALREADY_REVOKED",
                &format!("notice:{id}"),
                "every target of this notice is already revoked",
            ));
        }
        let chosen_ids: Vec<String> = chosen.iter().map(|t| t.target_id.clone()).collect();
        let revocation = self
            .revoke_in_tx(
                &mut tx,
                caller,
                &row,
                &chosen_ids,
                &reason,
                lift_limit,
                &signer,
                None,
                now,
            )
            .await?;
        tx.commit().await.map_err(internal)?;
        self.signal.wake(revocation.addressee.as_deref());
        Ok(view::notice(&revocation, &[]))
    }

    /// Sends the addressee a signed revocation of `chosen` targets of the locked notice
    /// `row`, inside `tx`; for 8(1) and 8(4) a lifting deadline and its timer (Art. 10).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn revoke_in_tx(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        row: &NoticeRow,
        chosen: &[String],
        reason: &str,
        lift_limit: Option<crate::domain::policy::TimeLimit>,
        signer: &crate::pki::signing::NoticeSigner,
        appeal_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<NoticeRow, Status> {
        let body = view::body(row)?;
        let limits =
            DisposalLimits::from_policy(&self.policy, &row.province, i64::from(body.grade), false);
        let lifting = notice::must_report_lifting(row.measure_type as i32);
        let limit = lift_limit.unwrap_or(limits.disposal);
        let lift_due = if lifting {
            Some(issue::due(tx, "lift_time_limit", now, limit).await?)
        } else {
            None
        };
        let receipt = issue::due(tx, "receipt", now, limits.receipt).await?;
        let receipt = lift_due.map_or(receipt, |d| notice::receipt_due(receipt, d));
        let revocation_id = uuid::Uuid::now_v7().to_string();
        let chosen_ids: HashSet<&str> = chosen.iter().map(String::as_str).collect();
        let revocation = pb::NoticeBody {
            notice_id: revocation_id.clone(),
            kind: NoticeKind::Revocation as i32,
            decision_id: row.decision_id.clone(),
            threat_id: row.threat_id.clone(),
            issuer_organisation_id: caller.organisation_id.clone(),
            issuing_officer_name: caller.officer.clone().unwrap_or_default(),
            issued_at: Some(timestamp(to_micros(now))),
            addressee_organisation_id: body.addressee_organisation_id.clone(),
            addressee_name: body.addressee_name.clone(),
            measure_type: body.measure_type,
            targets: body
                .targets
                .iter()
                .filter(|t| chosen_ids.contains(t.target_id.as_str()))
                .cloned()
                .collect(),
            legal_basis: body.legal_basis.clone(),
            instructions: if lifting {
                "lift the measure on these targets and report it lifted (ReportLifted)".into()
            } else {
                "stop the measure on these targets".into()
            },
            threat_summary: body.threat_summary.clone(),
            particulars: body.particulars.clone(),
            grade: body.grade,
            time_limit: lifting.then(|| issue::time_limit_pb(limit)),
            deadline: lift_due.map(|d| timestamp(to_micros(d))),
            receipt_due: Some(timestamp(to_micros(receipt))),
            revokes_notice_id: row.id.clone(),
            reason: reason.to_owned(),
            appeal_id: appeal_id.unwrap_or_default().to_owned(),
            ..Default::default()
        };
        let mut rows = issue::store_notices(
            self,
            tx,
            signer,
            vec![NewNotice {
                body: revocation,
                province: row.province.clone(),
                targets: Vec::new(),
            }],
        )
        .await?;
        for t in chosen {
            notices::set_revoked(tx, &row.id, t, &revocation_id, lift_due.map(to_micros))
                .await
                .map_err(internal)?;
        }
        if let Some(d) = lift_due {
            timers::schedule(
                tx,
                d,
                LIFT_TIMER,
                &revocation_id,
                serde_json::json!({ "notice_id": row.id }),
            )
            .await
            .map_err(internal)?;
        }
        self.audit(
            tx,
            caller,
            now,
            "disposal.revoke_notice",
            &format!("notice:{}", row.id),
            serde_json::json!({
                "revocation_notice_id": revocation_id,
                "target_ids": chosen_ids.iter().collect::<Vec<_>>(),
                "reason": reason,
                "appeal_id": appeal_id,
                "lift_due": lift_due.map(to_micros),
            }),
        )
        .await?;
        self.refresh(tx, &row.id).await?;
        Ok(rows.remove(0))
    }

    pub(super) async fn lifted(
        &self,
        caller: &Caller,
        req: pb::ReportLiftedRequest,
    ) -> Result<pb::NoticeStatus, Status> {
        let id = parse_id("notice_id", &req.notice_id)?;
        let wanted = parse_ids("target_ids", &req.target_ids)?;
        let now = self.clock.now();
        let lifted_at = match &req.lifted_at {
            Some(t) => {
                let at = from_timestamp("lifted_at", t)?;
                if at > now {
                    return Err(invalid("lifted_at", "lies in the future"));
                }
                at
            }
            None => now,
        };
        let details = req.details.trim();
        if details.chars().count() > 4000 {
            return Err(invalid("details", "at most 4000 characters"));
        }
        let mut tx = self.store.begin().await.map_err(internal)?;
        let (row, targets) = self.lock_own(&mut tx, caller, &id).await?;
        if !notice::must_report_lifting(row.measure_type as i32) {
            return Err(precondition(
                "NOTHING_TO_LIFT",
                &format!("notice:{id}"),
                "only revoked Art. 8(1) and 8(4) measures are reported lifted",
            ));
        }
        let chosen: Vec<&TargetRow> = if wanted.is_empty() {
            targets
                .iter()
                .filter(|t| t.revocation_notice_id.is_some() && t.lifted_at.is_none())
                .collect()
        } else {
            let mut out = Vec::new();
            for (i, w) in wanted.iter().enumerate() {
                let t = targets.iter().find(|t| &t.target_id == w).ok_or_else(|| {
                    invalid(&format!("target_ids[{i}]"), "not a target of this notice")
                })?;
                if t.revocation_notice_id.is_none() {
                    return Err(precondition(
                        "NOT_REVOKED",
                        &format!("target:{w}"),
                        "this target is still in force: only a revoked measure is lifted",
                    ));
                }
                if t.lifted_at.is_none() {
                    out.push(t);
                }
            }
            out
        };
        if chosen.is_empty() && wanted.is_empty() {
            return Err(precondition(
                "NOTHING_TO_LIFT",
                &format!("notice:{id}"),
                "no revoked target of this notice is waiting to be lifted",
            ));
        }
        let at = to_micros(lifted_at);
        for t in &chosen {
            notices::set_lifted(&mut tx, &id, &t.target_id, at, details)
                .await
                .map_err(internal)?;
            notices::fulfil_non_compliance(
                &mut tx,
                MISSING_LIFT,
                &id,
                &t.target_id,
                to_micros(now),
            )
            .await
            .map_err(internal)?;
            crate::appeals::on_lifted(
                &self.store,
                &mut tx,
                &caller.actor(),
                &id,
                &t.target_id,
                now,
            )
            .await
            .map_err(internal)?;
        }
        if !chosen.is_empty() {
            self.audit(
                &mut tx,
                caller,
                now,
                "disposal.report_lifted",
                &format!("notice:{id}"),
                serde_json::json!({
                    "target_ids": chosen.iter().map(|t| &t.target_id).collect::<Vec<_>>(),
                    "lifted_at": at,
                }),
            )
            .await?;
        }
        let status = self.refresh(&mut tx, &id).await?;
        tx.commit().await.map_err(internal)?;
        Ok(status)
    }

    pub(super) async fn offline(
        &self,
        caller: &Caller,
        req: pb::RecordOfflineNotificationRequest,
    ) -> Result<pb::NoticeStatus, Status> {
        let id = parse_id("notice_id", &req.notice_id)?;
        let n = req
            .notification
            .ok_or_else(|| invalid("notification", "required"))?;
        let now = self.clock.now();
        let notified_at = from_timestamp(
            "notification.notified_at",
            n.notified_at
                .as_ref()
                .ok_or_else(|| invalid("notification.notified_at", "required"))?,
        )?;
        if notified_at > now {
            return Err(invalid("notification.notified_at", "lies in the future"));
        }
        let officer = n.notifying_officer.trim();
        if officer.is_empty() || officer.chars().count() > 200 {
            return Err(invalid(
                "notification.notifying_officer",
                "who told them: 1 to 200 characters",
            ));
        }
        let channel = match pb::OfflineNotificationChannel::try_from(n.channel) {
            Ok(c) if c != pb::OfflineNotificationChannel::Unspecified => c,
            _ => {
                return Err(invalid(
                    "notification.channel",
                    "phone, letter, fax or in person",
                ));
            }
        };
        if n.recipient_person.chars().count() > 200 || n.note.chars().count() > 2000 {
            return Err(invalid(
                "notification.note",
                "recipient at most 200, note at most 2000 characters",
            ));
        }
        let record = pb::OfflineNotification {
            notified_at: Some(timestamp(to_micros(notified_at))),
            notifying_officer: officer.to_owned(),
            channel: channel as i32,
            recipient_person: n.recipient_person.trim().to_owned(),
            note: n.note.trim().to_owned(),
            recorded_by_officer_name: caller.officer.clone().unwrap_or_default(),
        };
        let mut tx = self.store.begin().await.map_err(internal)?;
        let row = notices::lock_notice(&self.store, &mut tx, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("notice {id} does not exist")))?;
        caller.check_scope(
            row.issuer == caller.organisation_id,
            &row.province,
            &format!("notice {id}"),
        )?;
        if view::kind(&row) != NoticeKind::Informational || row.addressee.is_some() {
            return Err(precondition(
                "NOT_OFFLINE",
                &format!("notice:{id}"),
                "only an informational notice (Art. 8(3), public security) to an addressee off the platform is notified offline",
            ));
        }
        if let Some(existing) = &row.offline {
            let existing =
                pb::OfflineNotification::decode(existing.as_slice()).map_err(internal)?;
            return Err(precondition(
                "ALREADY_NOTIFIED",
                &format!("notice:{id}"),
                format!(
                    "notified offline at {} by {}",
                    existing
                        .notified_at
                        .map(|t| from_micros(t.seconds * 1_000_000).to_rfc3339())
                        .unwrap_or_default(),
                    existing.notifying_officer
                ),
            ));
        }
        notices::set_offline(&mut tx, &id, &record.encode_to_vec())
            .await
            .map_err(internal)?;
        notices::fulfil_non_compliance(
            &mut tx,
            MISSING_OFFLINE_NOTIFICATION,
            &id,
            "",
            to_micros(now),
        )
        .await
        .map_err(internal)?;
        self.audit(
            &mut tx,
            caller,
            now,
            "disposal.record_offline_notification",
            &format!("notice:{id}"),
            serde_json::json!({
                "notified_at": to_micros(notified_at),
                "notifying_officer": record.notifying_officer,
                "channel": record.channel,
                "recipient_person": record.recipient_person,
            }),
        )
        .await?;
        let status = self.refresh(&mut tx, &id).await?;
        tx.commit().await.map_err(internal)?;
        Ok(status)
    }
}
