//! AppealService (Art. 10): appeals against Art. 8(1) measures within 10
//! working days, answered by the deciding regulator within 30.

mod resources;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use super::calendar::date_from_pb;
use super::disposal::issue::{self, parse_id};
use super::disposal::progress::{calendar_gap, no_signing_key};
use super::disposal::{DisposalApi, view as notice_view};
use super::streams::{BoxStream, OpenStreams};
use super::{internal, invalid, next_page_token, page, precondition};
use crate::appeals::answer::{self, AnswerAppeal, AnswerError, AppealDecision};
use crate::appeals::filing::{self, Appellant, FileAppeal, FileAppealError};
use crate::appeals::{
    self as workflow, APPEAL_EVENTS, AppealClosed, WithdrawError, may_see, shown,
};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::delivery::FALLBACK_POLL;
use crate::domain::calendar::CalendarError;
use crate::domain::clock::to_micros;
use crate::pb;
use crate::pb::appeal_service_server::AppealService;
use crate::store::Store;
use crate::store::appeals::{self, AppealFilter, AppealRow};

/// The stored appeal as the contract's message.
fn decode(row: &AppealRow) -> Result<pb::Appeal, Status> {
    workflow::decode(row).map_err(internal)
}

impl From<AppealClosed> for Status {
    fn from(e: AppealClosed) -> Status {
        precondition(
            "APPEAL_CLOSED",
            &format!("appeal:{}", e.appeal_id),
            e.to_string(),
        )
    }
}

impl From<FileAppealError> for Status {
    fn from(e: FileAppealError) -> Status {
        use FileAppealError as E;
        match e {
            E::NoticeNotFound { .. } => Status::not_found(e.to_string()),
            E::NotAppealable { ref notice_id } => precondition(
                "NOT_APPEALABLE",
                &format!("notice:{notice_id}"),
                e.to_string(),
            ),
            E::NotATarget { .. } => invalid("target_id", e.to_string()),
            E::NotAHolder { .. }
            | E::NotTheAddressee { .. }
            | E::NotTheDecidingRegulator { .. } => Status::permission_denied(e.to_string()),
            E::ReceivedInFuture { .. } | E::ReceivedBeforeIssue { .. } => {
                invalid("recorded.received_on", e.to_string())
            }
            E::AlreadyRevoked { ref target_id, .. } => precondition(
                "ALREADY_REVOKED",
                &format!("target:{target_id}"),
                e.to_string(),
            ),
            E::Calendar { ref subject, .. } => precondition("CALENDAR", subject, e.to_string()),
            E::WindowClosed { ref target_id, .. } => precondition(
                "APPEAL_WINDOW_CLOSED",
                &format!("target:{target_id}"),
                e.to_string(),
            ),
            E::AlreadyOpen { .. } => Status::already_exists(e.to_string()),
            E::Storage(_) | E::Inconsistent(_) => internal(e),
        }
    }
}

impl From<WithdrawError> for Status {
    fn from(e: WithdrawError) -> Status {
        match e {
            WithdrawError::NotFound { .. } => Status::not_found(e.to_string()),
            WithdrawError::Closed(closed) => closed.into(),
            WithdrawError::Corrupt(_) | WithdrawError::Storage(_) => internal(e),
        }
    }
}

pub struct AppealApi {
    pub disposal: Arc<DisposalApi>,
    /// Open appeal watches per organisation on this replica, against the cap of `[streams]`.
    pub watches: OpenStreams,
}

fn calendar_refusal(subject: &str, e: CalendarError) -> Status {
    precondition(
        "CALENDAR",
        subject,
        format!("{e} (CalendarService.LoadYear)"),
    )
}

/// The customer's mandate an addressee attaches when it appeals for a customer (Art. 10: the
/// appeal is the customer's, so the addressee shows it was asked to file it).
fn mandate(m: Option<&pb::CustomerMandate>) -> Result<pb::CustomerMandate, Status> {
    let why = "Art. 10: an addressee appealing for its customer attaches the customer's mandate";
    let m = m.ok_or_else(|| invalid("mandate", format!("{why}: required")))?;
    let digest = m.document_sha256.trim().to_ascii_lowercase();
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            "mandate.document_sha256",
            format!("{why}: the SHA-256 of the signed mandate, 64 hex digits"),
        ));
    }
    let contact = m.customer_contact.trim();
    if contact.is_empty() || contact.chars().count() > 200 {
        return Err(invalid(
            "mandate.customer_contact",
            format!("{why}: how to reach the customer, 1 to 200 characters"),
        ));
    }
    Ok(pb::CustomerMandate {
        document_sha256: digest,
        customer_contact: contact.to_owned(),
    })
}

/// A mandate belongs only to a filing for a customer.
fn no_mandate(req: &pb::FileAppealRequest) -> Result<(), Status> {
    match req.mandate {
        Some(_) => Err(invalid(
            "mandate",
            "only an addressee appealing for its customer attaches a mandate",
        )),
        None => Ok(()),
    }
}

fn identity(
    field: &str,
    a: Option<&pb::AppellantIdentity>,
    need_number: bool,
) -> Result<pb::AppellantIdentity, Status> {
    let a = a.ok_or_else(|| invalid(field, "required"))?;
    let check = |f: &str, v: &str, required: bool| -> Result<String, Status> {
        let v = v.trim();
        if required && v.is_empty() {
            return Err(invalid(&format!("{field}.{f}"), "required"));
        }
        if v.chars().count() > 200 {
            return Err(invalid(&format!("{field}.{f}"), "at most 200 characters"));
        }
        Ok(v.to_owned())
    };
    Ok(pb::AppellantIdentity {
        name: check("name", &a.name, true)?,
        identity_number: check("identity_number", &a.identity_number, need_number)?,
        contact: check("contact", &a.contact, true)?,
    })
}

/// A FileAppeal request as the workflow's command: everything wrong in itself is refused
/// here, naming the field.
fn file_command(req: pb::FileAppealRequest) -> Result<FileAppeal, Status> {
    use pb::file_appeal_request::Appellant as A;
    let notice_id = parse_id("notice_id", &req.notice_id)?;
    let target_id = parse_id("target_id", &req.target_id)?;
    let grounds = req.grounds.trim().to_owned();
    if grounds.is_empty() || grounds.chars().count() > 8000 {
        return Err(invalid(
            "grounds",
            "why the measure is wrong: 1 to 8000 characters",
        ));
    }
    if req.evidence.len() > 20 {
        return Err(invalid("evidence", "at most 20 items"));
    }
    for (i, e) in req.evidence.iter().enumerate() {
        if e.description.trim().is_empty() {
            return Err(invalid(&format!("evidence[{i}].description"), "required"));
        }
        if let Some(pb::evidence_item::Content::Data(d)) = &e.content
            && d.len() > 1024 * 1024
        {
            return Err(invalid(
                &format!("evidence[{i}].data"),
                "at most 1 MiB inline",
            ));
        }
    }
    let appellant = match &req.appellant {
        None => {
            return Err(invalid(
                "appellant",
                "an affected party, a customer named by the addressee, or a recorded paper or phone appeal",
            ));
        }
        Some(A::AffectedParty(f)) => {
            let contact = f.contact.trim();
            if contact.is_empty() || contact.chars().count() > 200 {
                return Err(invalid(
                    "affected_party.contact",
                    "who receives the answer: 1 to 200 characters",
                ));
            }
            no_mandate(&req)?;
            Appellant::AffectedParty {
                contact: contact.to_owned(),
            }
        }
        Some(A::Customer(c)) => Appellant::Customer {
            person: identity("customer", Some(c), true)?,
            mandate: mandate(req.mandate.as_ref())?,
        },
        Some(A::Recorded(r)) => {
            let person = identity("recorded.appellant", r.appellant.as_ref(), false)?;
            let channel = match pb::AppealChannel::try_from(r.channel) {
                Ok(c) if c != pb::AppealChannel::Unspecified => c,
                _ => return Err(invalid("recorded.channel", "paper or phone")),
            };
            let received_on = date_from_pb("recorded.received_on", r.received_on.as_ref())?;
            no_mandate(&req)?;
            Appellant::Recorded {
                person,
                channel,
                received_on,
            }
        }
    };
    Ok(FileAppeal {
        notice_id,
        target_id,
        grounds,
        evidence: req.evidence,
        appellant,
    })
}

impl AppealApi {
    fn store(&self) -> &Store {
        &self.disposal.workflow.store
    }

    fn now(&self) -> DateTime<Utc> {
        self.disposal.workflow.clock.now()
    }

    async fn answer(
        &self,
        caller: &Caller,
        req: pb::AnswerAppealRequest,
    ) -> Result<pb::AnswerAppealResponse, Status> {
        let answered =
            answer::answer(&self.disposal.workflow, caller, answer_command(&req)?).await?;
        Ok(pb::AnswerAppealResponse {
            appeal: Some(answered.appeal),
            revocation: answered.revocation.map(|r| notice_view::notice(&r, &[])),
            replacement_notices: notice_view::notices(
                &answered.replacements,
                &answered.replacement_targets,
            ),
        })
    }
}

/// An AnswerAppeal request as the workflow's command.
fn answer_command(req: &pb::AnswerAppealRequest) -> Result<AnswerAppeal, Status> {
    let appeal_id = parse_id("appeal_id", &req.appeal_id)?;
    let kind = match pb::AppealDecision::try_from(req.decision) {
        Ok(d) if d != pb::AppealDecision::Unspecified => d,
        _ => return Err(invalid("decision", "upheld, revoked or modified (Art. 10)")),
    };
    let reasons = req.reasons.trim().to_owned();
    if reasons.is_empty() || reasons.chars().count() > 8000 {
        return Err(invalid(
            "reasons",
            "the answer gives its reasons: 1 to 8000 characters",
        ));
    }
    let modified = kind == pb::AppealDecision::Modified;
    if modified && req.replacement_measures.is_empty() {
        return Err(invalid(
            "replacement_measures",
            "a modified measure names its replacement",
        ));
    }
    if !modified && !req.replacement_measures.is_empty() {
        return Err(invalid(
            "replacement_measures",
            "only a MODIFIED answer carries replacement measures",
        ));
    }
    let decision = match kind {
        pb::AppealDecision::Modified => AppealDecision::Modified {
            replacements: issue::ordered_measures(
                "replacement_measures",
                &req.replacement_measures,
            )?,
        },
        pb::AppealDecision::Revoked => AppealDecision::Revoked,
        _ => AppealDecision::Upheld,
    };
    Ok(AnswerAppeal {
        appeal_id,
        decision,
        reasons,
        lift_limit: issue::time_limit("lift_time_limit", req.lift_time_limit.as_ref())?,
        request_sha256: Sha256::digest(req.encode_to_vec()).into(),
    })
}

impl From<AnswerError> for Status {
    fn from(e: AnswerError) -> Status {
        match e {
            AnswerError::NotFound { .. } => Status::not_found(e.to_string()),
            AnswerError::NotTheDecidingRegulator { .. } => Status::permission_denied(e.to_string()),
            AnswerError::Closed(closed) => closed.into(),
            AnswerError::Order(o) => o.into(),
            AnswerError::NoSigningKey(k) => no_signing_key(&k),
            AnswerError::Calendar(g) => calendar_gap(&g),
            AnswerError::Revoke(r) => r.into(),
            AnswerError::Fault(f) => internal(f),
        }
    }
}

#[tonic::async_trait]
impl AppealService for AppealApi {
    #[tracing::instrument(skip_all)]
    async fn list_measures_against(
        &self,
        request: Request<pb::ListMeasuresAgainstRequest>,
    ) -> Result<Response<pb::ListMeasuresAgainstResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            resources::measures_against(self, &caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn file_appeal(
        &self,
        request: Request<pb::FileAppealRequest>,
    ) -> Result<Response<pb::FileAppealResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let command = file_command(request.into_inner())?;
        let appeal = filing::file(
            self.store(),
            &self.disposal.workflow.signal,
            &caller,
            command,
            self.now(),
        )
        .await?;
        Ok(Response::new(pb::FileAppealResponse {
            appeal: Some(shown(&caller, appeal)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_appeal(
        &self,
        request: Request<pb::GetAppealRequest>,
    ) -> Result<Response<pb::GetAppealResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let id = parse_id("appeal_id", &request.get_ref().appeal_id)?;
        let row = appeals::get(self.store(), &id)
            .await
            .map_err(internal)?
            .filter(|r| may_see(&caller, r))
            .ok_or_else(|| Status::not_found(format!("no appeal {id} visible to the caller")))?;
        Ok(Response::new(pb::GetAppealResponse {
            appeal: Some(shown(&caller, decode(&row)?)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_appeals(
        &self,
        request: Request<pb::ListAppealsRequest>,
    ) -> Result<Response<pb::ListAppealsResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let (size, after) = page(req.page.as_ref())?;
        let mut states = Vec::new();
        for (i, s) in req.states.iter().enumerate() {
            if !(1..=3).contains(s) {
                return Err(invalid(&format!("states[{i}]"), "unknown appeal state"));
            }
            states.push(i64::from(*s));
        }
        let notice_id = match req.notice_id.trim() {
            "" => None,
            n => Some(parse_id("notice_id", n)?),
        };
        let answer_due_by = match req.answer_due_within_working_days {
            0 => None,
            n @ 1..=30 => {
                let calendar = crate::store::calendar::current(self.store())
                    .await
                    .map_err(internal)?;
                let by = calendar
                    .deadline_after(self.now(), n)
                    .map_err(|e| calendar_refusal("answer_due_within_working_days", e))?;
                Some(to_micros(by))
            }
            _ => {
                return Err(invalid(
                    "answer_due_within_working_days",
                    "at most 30: an answer is due 30 working days after filing (Art. 10)",
                ));
            }
        };
        let filter = AppealFilter {
            party: (caller.scope != Scope::Allow).then(|| caller.organisation_id.clone()),
            province: (caller.scope == Scope::OwnProvince).then(|| caller.province.clone()),
            notice_id,
            states,
            overdue_only: req.overdue_only,
            answer_due_by,
            before_id: (!after.is_empty()).then_some(after),
        };
        let rows = appeals::list(self.store(), &filter, size)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ListAppealsResponse {
            next_page_token: next_page_token(rows.len(), size, rows.last().map(|r| r.id.as_str())),
            appeals: rows
                .iter()
                .map(|r| decode(r).map(|a| shown(&caller, a)))
                .collect::<Result<_, _>>()?,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn withdraw_appeal(
        &self,
        request: Request<pb::WithdrawAppealRequest>,
    ) -> Result<Response<pb::WithdrawAppealResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let id = parse_id("appeal_id", &req.appeal_id)?;
        let reason = req.reason.trim().to_owned();
        if reason.chars().count() > 2000 {
            return Err(invalid("reason", "at most 2000 characters"));
        }
        let appeal = workflow::withdraw(
            self.store(),
            &self.disposal.workflow.signal,
            &caller,
            &id,
            &reason,
            self.now(),
        )
        .await?;
        Ok(Response::new(pb::WithdrawAppealResponse {
            appeal: Some(shown(&caller, appeal)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn answer_appeal(
        &self,
        request: Request<pb::AnswerAppealRequest>,
    ) -> Result<Response<pb::AnswerAppealResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        Ok(Response::new(
            self.answer(&caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn watch_appeal(
        &self,
        request: Request<pb::WatchAppealRequest>,
    ) -> Result<Response<BoxStream<pb::AppealEvent>>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let appeal_id = match req.appeal_id.trim() {
            "" => None,
            a => {
                let id = parse_id("appeal_id", a)?;
                appeals::get(self.store(), &id)
                    .await
                    .map_err(internal)?
                    .filter(|r| may_see(&caller, r))
                    .ok_or_else(|| {
                        Status::not_found(format!("no appeal {id} visible to the caller"))
                    })?;
                Some(id)
            }
        };
        let mut position = match (req.cursor.trim(), &appeal_id) {
            ("", Some(_)) => 0,
            ("", None) => appeals::event_head(self.store()).await.map_err(internal)?,
            (c, _) => crate::store::page::decode_position('a', c)
                .ok_or_else(|| invalid("cursor", "not a cursor this server issued"))?,
        };
        let slot = self.watches.open(&caller.organisation_id)?;
        let start = match req.cursor.trim() {
            "" => crate::store::page::encode_position('a', position),
            c => c.to_owned(),
        };
        let store = self.store().clone();
        let signal = self.disposal.workflow.signal.clone();
        let regulator = caller.roles.iter().any(|r| r.is_regulator());
        let stream = async_stream::try_stream! {
            let subscription = signal.subscribe(APPEAL_EVENTS);
            loop {
                let woken = subscription.notified();
                let rows = appeals::events_after(&store, appeal_id.as_deref(), position, 256)
                    .await
                    .map_err(internal)?;
                if rows.is_empty() {
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep(FALLBACK_POLL) => {}
                    }
                    continue;
                }
                let mut ids: Vec<String> = rows.iter().map(|r| r.appeal_id.clone()).collect();
                ids.sort();
                ids.dedup();
                let mut visible = std::collections::HashSet::new();
                for id in &ids {
                    // (No let chains inside the stream macro.)
                    let row = appeals::get(&store, id).await.map_err(internal)?;
                    if row.is_some_and(|row| may_see(&caller, &row)) {
                        visible.insert(id.clone());
                    }
                }
                for r in rows {
                    position = r.position;
                    // Reminders are for the regulator.
                    if !visible.contains(&r.appeal_id)
                        || (r.kind == pb::AppealEventKind::AnswerReminder as i64 && !regulator)
                    {
                        continue;
                    }
                    let mut event = pb::AppealEvent::decode(r.body.as_slice()).map_err(internal)?;
                    event.cursor = crate::store::page::encode_position('a', r.position);
                    event.appeal = event.appeal.map(|a| shown(&caller, a));
                    yield event;
                }
            }
        };
        Ok(Response::new(self.watches.paced(slot, start, stream)))
    }
}
