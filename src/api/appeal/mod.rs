//! AppealService (Art. 10): appeals against Art. 8(1) measures within 10
//! working days, answered by the deciding regulator within 30.

mod commands;
mod resources;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use prost::Message;
use tonic::{Request, Response, Status};

use self::commands::{answer_command, file_command};
use super::disposal::issue::parse_id;
use super::disposal::progress::{calendar_gap, no_signing_key};
use super::disposal::{DisposalApi, view as notice_view};
use super::streams::{BoxStream, OpenStreams};
use super::{internal, invalid, next_page_token, page, precondition};
use crate::appeals::answer::{self, AnswerError};
use crate::appeals::filing::{self, FileAppealError};
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
