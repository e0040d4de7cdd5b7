//! The gRPC edge of [`crate::disposal`]: receipt, results, verification, revocation,
//! lifting and offline notification (Art. 8–10). Each request becomes the workflow's
//! command; each workflow error becomes its status here, in one exhaustive match.

use std::collections::HashSet;

use tonic::Status;

use super::issue::{parse_id, parse_ids, time_limit};
use super::{DisposalApi, view};
use crate::api::{from_timestamp, internal, invalid, precondition};
use crate::auth::Caller;
use crate::disposal::offline::{Channel, OfflineError, RecordOfflineNotification};
use crate::disposal::receipt::{AcknowledgeError, AcknowledgeReceipt};
use crate::disposal::results::{Outcome, ReportError, ReportResults, TargetResult};
use crate::disposal::revocation::{LiftError, ReportLifted, RevokeError, RevokeNotice};
use crate::disposal::verification::{Finding, TargetCheck, VerifyError, VerifyResults};
use crate::disposal::{CalendarGap, Fault, NoSigningKey, NoticeProgress, Refused};
use crate::domain::notice::lifecycle::TransitionError;
use crate::pb;

/// A refusal by the notice's lifecycle; `item` names the request's field of the item at
/// `index`.
fn refused(r: Refused, item: impl Fn(usize) -> String) -> Status {
    let notice = format!("notice:{}", r.notice_id);
    let message = r.by.to_string();
    let field = || item(r.index.unwrap_or_default());
    match r.by {
        TransitionError::ResultsOnDisposalOnly | TransitionError::RevokeDisposalOnly => {
            precondition("NOT_A_DISPOSAL_NOTICE", &notice, message)
        }
        TransitionError::ReceiptFirst => precondition("RECEIPT_FIRST", &notice, message),
        TransitionError::NotATarget { .. } => invalid(&field(), message),
        TransitionError::TargetRevoked { target_id, .. } => {
            precondition("TARGET_REVOKED", &format!("target:{target_id}"), message)
        }
        TransitionError::NoResult { target_id } => {
            precondition("NO_RESULT", &format!("target:{target_id}"), message)
        }
        TransitionError::AlreadyRevoked { target_id, .. } => {
            precondition("ALREADY_REVOKED", &format!("target:{target_id}"), message)
        }
        TransitionError::NothingToLift => precondition("NOTHING_TO_LIFT", &notice, message),
        TransitionError::NotRevoked { target_id } => {
            precondition("NOT_REVOKED", &format!("target:{target_id}"), message)
        }
        TransitionError::NotOffline => precondition("NOT_OFFLINE", &notice, message),
        TransitionError::AlreadyNotifiedOffline => {
            precondition("ALREADY_NOTIFIED", &notice, message)
        }
    }
}

fn fault(f: Fault) -> Status {
    internal(f)
}

pub(crate) fn calendar_gap(g: &CalendarGap) -> Status {
    precondition("CALENDAR", &g.field, g.to_string())
}

pub(crate) fn no_signing_key(e: &NoSigningKey) -> Status {
    precondition(
        "SIGNING_KEY",
        &format!("organisation:{}", e.regulator),
        e.to_string(),
    )
}

impl From<AcknowledgeError> for Status {
    fn from(e: AcknowledgeError) -> Status {
        match e {
            AcknowledgeError::NoticeNotFound { .. } => Status::not_found(e.to_string()),
            AcknowledgeError::BodyMismatch { .. } => invalid("body_sha256", e.to_string()),
            AcknowledgeError::Fault(f) => fault(f),
        }
    }
}

impl From<ReportError> for Status {
    fn from(e: ReportError) -> Status {
        match e {
            ReportError::NoticeNotFound { .. } => Status::not_found(e.to_string()),
            ReportError::DisposedInFuture { index } => {
                invalid(&format!("results[{index}].disposed_at"), e.to_string())
            }
            ReportError::Refused(r) => refused(r, |i| format!("results[{i}].target_id")),
            ReportError::Fault(f) => fault(f),
        }
    }
}

impl From<VerifyError> for Status {
    fn from(e: VerifyError) -> Status {
        match e {
            VerifyError::NoticeNotFound { .. } => Status::not_found(e.to_string()),
            VerifyError::NotTheIdentifier { .. } => Status::permission_denied(e.to_string()),
            VerifyError::CheckedInFuture { index } => {
                invalid(&format!("verifications[{index}].checked_at"), e.to_string())
            }
            VerifyError::Refused(r) => refused(r, |i| format!("verifications[{i}].target_id")),
            VerifyError::Fault(f) => fault(f),
        }
    }
}

impl From<RevokeError> for Status {
    fn from(e: RevokeError) -> Status {
        match e {
            RevokeError::NoSigningKey(k) => no_signing_key(&k),
            RevokeError::NoticeNotFound { .. } => Status::not_found(e.to_string()),
            RevokeError::OutsideScope(o) => o.into(),
            RevokeError::AllRevoked { ref notice_id } => precondition(
                "ALREADY_REVOKED",
                &format!("notice:{notice_id}"),
                e.to_string(),
            ),
            RevokeError::Refused(r) => refused(r, |i| format!("target_ids[{i}]")),
            RevokeError::Calendar(g) => calendar_gap(&g),
            RevokeError::Fault(f) => fault(f),
        }
    }
}

impl From<LiftError> for Status {
    fn from(e: LiftError) -> Status {
        match e {
            LiftError::LiftedInFuture => invalid("lifted_at", e.to_string()),
            LiftError::NoticeNotFound { .. } => Status::not_found(e.to_string()),
            LiftError::NothingWaiting { ref notice_id } => precondition(
                "NOTHING_TO_LIFT",
                &format!("notice:{notice_id}"),
                e.to_string(),
            ),
            LiftError::Refused(r) => refused(r, |i| format!("target_ids[{i}]")),
            LiftError::Fault(f) => fault(f),
        }
    }
}

impl From<OfflineError> for Status {
    fn from(e: OfflineError) -> Status {
        match e {
            OfflineError::NotifiedInFuture => invalid("notification.notified_at", e.to_string()),
            OfflineError::NoticeNotFound { .. } => Status::not_found(e.to_string()),
            OfflineError::OutsideScope(o) => o.into(),
            OfflineError::AlreadyNotified { ref notice_id, .. } => precondition(
                "ALREADY_NOTIFIED",
                &format!("notice:{notice_id}"),
                e.to_string(),
            ),
            OfflineError::Refused(r) => refused(r, |_| "notice_id".into()),
            OfflineError::Fault(f) => fault(f),
        }
    }
}

fn status(p: &NoticeProgress) -> pb::NoticeStatus {
    view::status(&p.row, &p.targets)
}

/// Whether `id` was seen before in this request.
fn repeated(seen: &mut HashSet<String>, id: &str) -> bool {
    !seen.insert(id.to_owned())
}

impl DisposalApi {
    pub(super) async fn acknowledge(
        &self,
        caller: &Caller,
        req: pb::AcknowledgeReceiptRequest,
    ) -> Result<pb::NoticeStatus, Status> {
        let notice_id = parse_id("notice_id", &req.notice_id)?;
        let body_sha256 = <[u8; 32]>::try_from(req.body_sha256.as_slice()).map_err(|_| {
            invalid(
                "body_sha256",
                "the 32-byte SHA-256 of SignedNotice.body as received",
            )
        })?;
        let command = AcknowledgeReceipt {
            notice_id,
            body_sha256,
        };
        Ok(status(&self.workflow.acknowledge(caller, command).await?))
    }

    pub(super) async fn report(
        &self,
        caller: &Caller,
        req: pb::ReportResultRequest,
    ) -> Result<pb::NoticeStatus, Status> {
        let notice_id = parse_id("notice_id", &req.notice_id)?;
        if req.results.is_empty() {
            return Err(invalid("results", "report at least one target (Art. 9)"));
        }
        let mut results = Vec::with_capacity(req.results.len());
        let mut seen = HashSet::new();
        for (i, r) in req.results.iter().enumerate() {
            let f = |x: &str| format!("results[{i}].{x}");
            let target_id = parse_id(&f("target_id"), &r.target_id)?;
            if repeated(&mut seen, &target_id) {
                return Err(invalid(&f("target_id"), "reported twice in one request"));
            }
            let outcome = match pb::DisposalOutcome::try_from(r.outcome) {
                Ok(pb::DisposalOutcome::Disposed) => Outcome::Disposed,
                Ok(pb::DisposalOutcome::NotDisposed) => Outcome::NotDisposed,
                _ => return Err(invalid(&f("outcome"), "DISPOSED or NOT_DISPOSED")),
            };
            let reason = r.reason.trim();
            if outcome == Outcome::NotDisposed && reason.is_empty() {
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
            let disposed_at = r
                .disposed_at
                .as_ref()
                .map(|t| from_timestamp(&f("disposed_at"), t))
                .transpose()?;
            results.push(TargetResult {
                target_id,
                outcome,
                reason: reason.to_owned(),
                disposed_at,
                details: r.details.trim().to_owned(),
            });
        }
        let command = ReportResults {
            notice_id,
            results,
            contact_person: req.contact_person.trim().to_owned(),
        };
        Ok(status(&self.workflow.report(caller, command).await?))
    }

    pub(super) async fn verify(
        &self,
        caller: &Caller,
        req: pb::VerifyResultRequest,
    ) -> Result<pb::VerifyResultResponse, Status> {
        let notice_id = parse_id("notice_id", &req.notice_id)?;
        if req.verifications.is_empty() {
            return Err(invalid(
                "verifications",
                "verify at least one target (Art. 9)",
            ));
        }
        let mut checks = Vec::with_capacity(req.verifications.len());
        let mut seen = HashSet::new();
        for (i, v) in req.verifications.iter().enumerate() {
            let f = |x: &str| format!("verifications[{i}].{x}");
            let target_id = parse_id(&f("target_id"), &v.target_id)?;
            if repeated(&mut seen, &target_id) {
                return Err(invalid(&f("target_id"), "verified twice in one request"));
            }
            let finding = match pb::VerificationOutcome::try_from(v.outcome) {
                Ok(pb::VerificationOutcome::Effective) => Finding::Effective,
                Ok(pb::VerificationOutcome::NotEffective) => Finding::NotEffective,
                _ => return Err(invalid(&f("outcome"), "EFFECTIVE or NOT_EFFECTIVE")),
            };
            let details = v.details.trim();
            if finding == Finding::NotEffective && details.is_empty() {
                return Err(invalid(
                    &f("details"),
                    "say what was checked and seen: the regulator decides on it",
                ));
            }
            if details.chars().count() > 4000 {
                return Err(invalid(&f("details"), "at most 4000 characters"));
            }
            let checked_at = v
                .checked_at
                .as_ref()
                .map(|t| from_timestamp(&f("checked_at"), t))
                .transpose()?;
            checks.push(TargetCheck {
                target_id,
                finding,
                details: details.to_owned(),
                checked_at,
            });
        }
        let command = VerifyResults { notice_id, checks };
        let verified = self.workflow.verify(caller, command).await?;
        Ok(pb::VerifyResultResponse {
            status: Some(status(&verified.progress)),
            review_item_ids: verified.review_item_ids,
        })
    }

    pub(super) async fn revoke(
        &self,
        caller: &Caller,
        req: pb::RevokeNoticeRequest,
    ) -> Result<pb::Notice, Status> {
        let notice_id = parse_id("notice_id", &req.notice_id)?;
        let reason = req.reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return Err(invalid(
                "reason",
                "required, at most 2000 characters: the addressee reads it",
            ));
        }
        let command = RevokeNotice {
            notice_id,
            target_ids: parse_ids("target_ids", &req.target_ids)?,
            reason,
            lift_limit: time_limit("lift_time_limit", req.lift_time_limit.as_ref())?,
        };
        let revocation = self.workflow.revoke(caller, command).await?;
        Ok(view::notice(&revocation, &[]))
    }

    pub(super) async fn lifted(
        &self,
        caller: &Caller,
        req: pb::ReportLiftedRequest,
    ) -> Result<pb::NoticeStatus, Status> {
        let notice_id = parse_id("notice_id", &req.notice_id)?;
        let target_ids = parse_ids("target_ids", &req.target_ids)?;
        let lifted_at = req
            .lifted_at
            .as_ref()
            .map(|t| from_timestamp("lifted_at", t))
            .transpose()?;
        let details = req.details.trim();
        if details.chars().count() > 4000 {
            return Err(invalid("details", "at most 4000 characters"));
        }
        let command = ReportLifted {
            notice_id,
            target_ids,
            lifted_at,
            details: details.to_owned(),
        };
        Ok(status(&self.workflow.lift(caller, command).await?))
    }

    pub(super) async fn offline(
        &self,
        caller: &Caller,
        req: pb::RecordOfflineNotificationRequest,
    ) -> Result<pb::NoticeStatus, Status> {
        let notice_id = parse_id("notice_id", &req.notice_id)?;
        let n = req
            .notification
            .ok_or_else(|| invalid("notification", "required"))?;
        let notified_at = from_timestamp(
            "notification.notified_at",
            n.notified_at
                .as_ref()
                .ok_or_else(|| invalid("notification.notified_at", "required"))?,
        )?;
        let officer = n.notifying_officer.trim();
        if officer.is_empty() || officer.chars().count() > 200 {
            return Err(invalid(
                "notification.notifying_officer",
                "who told them: 1 to 200 characters",
            ));
        }
        let channel = match pb::OfflineNotificationChannel::try_from(n.channel) {
            Ok(pb::OfflineNotificationChannel::Phone) => Channel::Phone,
            Ok(pb::OfflineNotificationChannel::Letter) => Channel::Letter,
            Ok(pb::OfflineNotificationChannel::Fax) => Channel::Fax,
            Ok(pb::OfflineNotificationChannel::InPerson) => Channel::InPerson,
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
        let command = RecordOfflineNotification {
            notice_id,
            notified_at,
            notifying_officer: officer.to_owned(),
            channel,
            recipient_person: n.recipient_person.trim().to_owned(),
            note: n.note.trim().to_owned(),
        };
        Ok(status(
            &self.workflow.record_offline(caller, command).await?,
        ))
    }
}
