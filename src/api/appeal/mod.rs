//! AppealService (Art. 10): appeals against Art. 8(1) measures within 10
//! working days, answered by the deciding regulator within 30.

mod resources;
pub mod timers;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use super::calendar::{date_from_pb, date_to_pb};
use super::disposal::issue::{self, DecisionContext, parse_id};
use super::disposal::{DisposalApi, view as notice_view};
use super::streams::{BoxStream, OpenStreams};
use super::{internal, invalid, next_page_token, page, precondition, timestamp};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::delivery::FALLBACK_POLL;
use crate::domain::appeal::{self, AppealEvent, AppealState};
use crate::domain::calendar::{CalendarError, WorkingCalendar, local_date, start_of_day};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::policy::TimeLimit;
use crate::pb;
use crate::pb::appeal_service_server::AppealService;
use crate::store::appeals::{self, AppealFilter, AppealRow};
use crate::store::notices::{self, NoticeRow, TargetRow};
use crate::store::{Store, Tx, audit, threats};

pub const REMINDER_TIMER: &str = "appeal.answer_reminder";
/// The wake-up key of appeal watchers (not an organisation id: those have no '#').
const APPEAL_EVENTS: &str = "#appeal-events";
pub const OVERDUE_TIMER: &str = "appeal.answer_due";

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

pub fn decode(row: &AppealRow) -> Result<pb::Appeal, Status> {
    pb::Appeal::decode(row.body.as_slice()).map_err(internal)
}

/// The appeal as this caller may see it: identity numbers only for the filer and regulators.
fn shown(caller: &Caller, mut appeal: pb::Appeal) -> pb::Appeal {
    let regulator = caller.roles.iter().any(|r| r.is_regulator());
    if !regulator
        && caller.organisation_id != appeal.filer_organisation_id
        && let Some(a) = appeal.appellant.as_mut()
    {
        a.identity_number.clear();
    }
    appeal
}

/// Whether the caller may see this appeal: its filer, the deciding regulator, the
/// national regulator, and the regulator of the notice's province.
fn may_see(caller: &Caller, row: &AppealRow) -> bool {
    row.filer == caller.organisation_id
        || row.regulator == caller.organisation_id
        || caller.scope == Scope::Allow
        || (caller.scope == Scope::OwnProvince && row.province == caller.province)
}

/// Appends an event carrying the appeal as it now stands, and an audit record.
pub async fn record_event(
    store: &Store,
    tx: &mut Tx,
    actor: &audit::Actor,
    appeal: &pb::Appeal,
    kind: pb::AppealEventKind,
    now: DateTime<Utc>,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let event = pb::AppealEvent {
        cursor: String::new(),
        appeal_id: appeal.id.clone(),
        kind: kind as i32,
        occurred_at: Some(timestamp(to_micros(now))),
        appeal: Some(appeal.clone()),
    };
    appeals::append_event(
        store,
        tx,
        &appeal.id,
        kind as i64,
        to_micros(now),
        &event.encode_to_vec(),
    )
    .await?;
    // Watchers on every replica wake at commit.
    crate::delivery::NoticeSignal::announce(tx, store.dialect(), &[APPEAL_EVENTS]).await?;
    audit::append(
        tx,
        store.dialect(),
        now,
        actor,
        &format!(
            "appeal.{}",
            kind.as_str_name()
                .trim_start_matches("APPEAL_EVENT_KIND_")
                .to_lowercase()
        ),
        &format!("appeal:{}", appeal.id),
        details,
    )
    .await?;
    Ok(())
}

/// The addressee reported a revoked target lifted: appeals answered by that revocation learn it.
pub async fn on_lifted(
    store: &Store,
    tx: &mut Tx,
    actor: &audit::Actor,
    notice_id: &str,
    target_id: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for row in appeals::revoked_on_target(tx, notice_id, target_id).await? {
        let Ok(appeal) = pb::Appeal::decode(row.body.as_slice()) else {
            continue;
        };
        let revoked = appeal
            .answer
            .as_ref()
            .is_some_and(|a| !a.revocation_notice_id.is_empty());
        if revoked {
            record_event(
                store,
                tx,
                actor,
                &appeal,
                pb::AppealEventKind::MeasureLifted,
                now,
                serde_json::json!({ "notice_id": notice_id, "target_id": target_id }),
            )
            .await?;
        }
    }
    Ok(())
}

/// Where an 8(1) target's appeal window stands (Art. 10).
pub fn window(
    calendar: &WorkingCalendar,
    notice: &NoticeRow,
    target: &TargetRow,
) -> Result<appeal::Window, CalendarError> {
    let disposed = target.first_disposed_at.map(from_micros);
    appeal::window(
        calendar,
        disposed,
        from_micros(notice.deadline.unwrap_or(target.deadline)),
    )
}

/// The state `event` takes an appeal to, or APPEAL_CLOSED naming why not.
fn transition(row: &AppealRow, event: AppealEvent) -> Result<AppealState, Status> {
    row.state.transition(event).map_err(|e| {
        precondition(
            "APPEAL_CLOSED",
            &format!("appeal:{}", row.id),
            format!("Art. 10: {e}; an appeal is answered or withdrawn once"),
        )
    })
}

/// Stores the appeal's final state and stops its answer clock.
async fn close(
    tx: &mut Tx,
    row: AppealRow,
    appeal: &pb::Appeal,
    state: AppealState,
    now: DateTime<Utc>,
) -> Result<(), Status> {
    let id = row.id.clone();
    appeals::update(
        tx,
        &AppealRow {
            state,
            body: appeal.encode_to_vec(),
            ..row
        },
    )
    .await
    .map_err(internal)?;
    for kind in [OVERDUE_TIMER, REMINDER_TIMER] {
        crate::store::timers::cancel_for(tx, kind, &id, now)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

struct Filing {
    mandate: Option<pb::CustomerMandate>,
    kind: pb::AppellantKind,
    key: String,
    appellant: Option<pb::AppellantIdentity>,
    channel: i32,
    filed_on: NaiveDate,
    contact: String,
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

impl AppealApi {
    fn store(&self) -> &Store {
        &self.disposal.store
    }

    fn now(&self) -> DateTime<Utc> {
        self.disposal.clock.now()
    }

    /// Who appeals, and whether the caller may file for them (Art. 10).
    async fn filing(
        &self,
        caller: &Caller,
        notice: &NoticeRow,
        target: &TargetRow,
        req: &pb::FileAppealRequest,
        today: NaiveDate,
    ) -> Result<Filing, Status> {
        use pb::file_appeal_request::Appellant;
        let refuse = |why: String| Status::permission_denied(format!("Art. 10: {why}"));
        match &req.appellant {
            None => Err(invalid(
                "appellant",
                "an affected party, a customer named by the addressee, or a recorded paper or phone appeal",
            )),
            // Art. 10 "相关组织或个人": whoever holds the resource, whatever its role.
            Some(Appellant::AffectedParty(f)) => {
                if !resources::registered_to(
                    self.store(),
                    &caller.organisation_id,
                    target.kind,
                    &target.value,
                )
                .await
                .map_err(internal)?
                {
                    return Err(refuse(format!(
                        "{} is not among the resources {} holds (RegistryService.ImportOwnershipEntries, relation HOLDER)",
                        target.value, caller.organisation_id
                    )));
                }
                let contact = f.contact.trim();
                if contact.is_empty() || contact.chars().count() > 200 {
                    return Err(invalid(
                        "affected_party.contact",
                        "who receives the answer: 1 to 200 characters",
                    ));
                }
                no_mandate(req)?;
                Ok(Filing {
                    mandate: None,
                    kind: pb::AppellantKind::AffectedParty,
                    key: format!("org:{}", caller.organisation_id),
                    appellant: None,
                    channel: 0,
                    filed_on: today,
                    contact: contact.to_owned(),
                })
            }
            Some(Appellant::Customer(c)) => {
                if notice.addressee.as_deref() != Some(caller.organisation_id.as_str()) {
                    return Err(refuse(format!(
                        "only the addressee of notice {} appeals on behalf of its customer",
                        notice.id
                    )));
                }
                let person = identity("customer", Some(c), true)?;
                let mandate = mandate(req.mandate.as_ref())?;
                Ok(Filing {
                    mandate: Some(mandate),
                    kind: pb::AppellantKind::AddresseeForCustomer,
                    key: format!(
                        "customer:{}:{}",
                        caller.organisation_id, person.identity_number
                    ),
                    contact: person.contact.clone(),
                    appellant: Some(person),
                    channel: 0,
                    filed_on: today,
                })
            }
            Some(Appellant::Recorded(r)) => {
                if notice.issuer != caller.organisation_id {
                    return Err(refuse(format!(
                        "only the deciding regulator {} records paper or phone appeals against its notice",
                        notice.issuer
                    )));
                }
                let person = identity("recorded.appellant", r.appellant.as_ref(), false)?;
                let channel = match pb::AppealChannel::try_from(r.channel) {
                    Ok(c) if c != pb::AppealChannel::Unspecified => c,
                    _ => return Err(invalid("recorded.channel", "paper or phone")),
                };
                let received = date_from_pb("recorded.received_on", r.received_on.as_ref())?;
                if received > today {
                    return Err(invalid("recorded.received_on", "lies in the future"));
                }
                if received < local_date(from_micros(notice.issued_at)) {
                    return Err(invalid(
                        "recorded.received_on",
                        "before the notice was issued",
                    ));
                }
                let who = if person.identity_number.is_empty() {
                    &person.contact
                } else {
                    &person.identity_number
                };
                no_mandate(req)?;
                Ok(Filing {
                    mandate: None,
                    kind: pb::AppellantKind::RecordedByRegulator,
                    key: format!("person:{}:{who}", person.name),
                    contact: person.contact.clone(),
                    appellant: Some(person),
                    channel: channel as i32,
                    filed_on: received,
                })
            }
        }
    }

    async fn file(
        &self,
        caller: &Caller,
        req: pb::FileAppealRequest,
    ) -> Result<pb::Appeal, Status> {
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
        let now = self.now();
        let today = local_date(now);
        let notice = notices::get_notice(self.store(), &notice_id)
            .await
            .map_err(internal)?
            .filter(|n| n.kind == 1)
            .ok_or_else(|| Status::not_found(format!("no disposal notice {notice_id}")))?;
        if notice.measure_type != pb::MeasureType::StopServiceOrBlock as i64 {
            return Err(precondition(
                "NOT_APPEALABLE",
                &format!("notice:{notice_id}"),
                "Art. 10: only Art. 8(1) measures (stop service or block) may be appealed",
            ));
        }
        let targets = notices::targets_of(self.store(), std::slice::from_ref(&notice_id))
            .await
            .map_err(internal)?;
        let target = targets
            .iter()
            .find(|t| t.target_id == target_id)
            .ok_or_else(|| invalid("target_id", "not a target of this notice"))?;
        let filing = self.filing(caller, &notice, target, &req, today).await?;
        if let Some(r) = &target.revocation_notice_id {
            return Err(precondition(
                "ALREADY_REVOKED",
                &format!("target:{target_id}"),
                format!("the measure on this target was revoked by notice {r}"),
            ));
        }
        let mut tx = self.store().begin().await.map_err(internal)?;
        // Decide on the target as it stands under the notice's lock: a revocation or a result
        // committed since the read above (they lock the notice too) is seen here, not missed.
        notices::lock_notice(self.store(), &mut tx, &notice_id)
            .await
            .map_err(internal)?;
        let fresh = notices::targets_in_tx(&mut tx, &notice_id)
            .await
            .map_err(internal)?;
        let target = fresh
            .iter()
            .find(|t| t.target_id == target_id)
            .ok_or_else(|| internal("a notice's target vanished"))?;
        if let Some(r) = &target.revocation_notice_id {
            return Err(precondition(
                "ALREADY_REVOKED",
                &format!("target:{target_id}"),
                format!("the measure on this target was revoked by notice {r}"),
            ));
        }
        let calendar = crate::store::calendar::effective(&mut tx)
            .await
            .map_err(internal)?;
        let window = window(&calendar, &notice, target)
            .map_err(|e| calendar_refusal(&format!("target:{target_id}"), e))?;
        if filing.filed_on > window.closes_on {
            return Err(precondition(
                "APPEAL_WINDOW_CLOSED",
                &format!("target:{target_id}"),
                format!(
                    "Art. 10: the appeal window closed on {} (10 working days after {}); filed on {}",
                    window.closes_on,
                    if window.provisional {
                        "the notice's deadline"
                    } else {
                        "the day the addressee reported the target disposed"
                    },
                    filing.filed_on
                ),
            ));
        }
        if let Some(open) = appeals::open_for(&mut tx, &notice_id, &target_id, &filing.key)
            .await
            .map_err(internal)?
        {
            return Err(Status::already_exists(format!(
                "appeal {open} by the same appellant on this target is still open (one open appeal per appellant and target)"
            )));
        }
        // Due 30 working days after filing; unknown while the calendar of that year is not loaded.
        let due = appeal::answer_due(&calendar, filing.filed_on).ok();
        let body = notice_view::body(&notice)?;
        let appeal = pb::Appeal {
            id: uuid::Uuid::now_v7().to_string(),
            notice_id: notice_id.clone(),
            target: body
                .targets
                .iter()
                .find(|t| t.target_id == target_id)
                .cloned(),
            deciding_regulator_organisation_id: notice.issuer.clone(),
            appellant_kind: filing.kind as i32,
            filer_organisation_id: caller.organisation_id.clone(),
            appellant: filing.appellant.clone(),
            channel: filing.channel,
            grounds,
            evidence: req.evidence.clone(),
            state: AppealState::Open as i32,
            filed_on: Some(date_to_pb(filing.filed_on)),
            filed_at: Some(timestamp(to_micros(now))),
            window_closes_on: Some(date_to_pb(window.closes_on)),
            answer_due_on: due.map(|d| date_to_pb(d.0)),
            mandate: filing.mandate.clone(),
            ..Default::default()
        };
        let row = AppealRow {
            id: appeal.id.clone(),
            notice_id: notice_id.clone(),
            target_id: target_id.clone(),
            regulator: notice.issuer.clone(),
            province: notice.province.clone(),
            appellant_kind: filing.kind as i64,
            filer: caller.organisation_id.clone(),
            appellant_key: filing.key.clone(),
            state: AppealState::Open,
            filed_at: to_micros(now),
            answer_due_at: due.map(|d| to_micros(d.1)),
            overdue: 0,
            body: appeal.encode_to_vec(),
        };
        appeals::insert(&mut tx, &row).await.map_err(|e| {
            if crate::store::registry::is_unique_violation(&e) {
                Status::already_exists(
                    "an appeal by the same appellant on this target is still open",
                )
            } else {
                internal(e)
            }
        })?;
        // The answer clock: the overdue timer (pending if the year is not loaded yet) and reminders.
        crate::store::timers::schedule_after(
            &mut tx,
            now,
            start_of_day(filing.filed_on) + chrono::Duration::hours(12),
            TimeLimit::WorkingDays(appeal::ANSWER_WORKING_DAYS),
            OVERDUE_TIMER,
            &appeal.id,
            serde_json::Value::Null,
        )
        .await
        .map_err(|e| match e {
            crate::store::timers::ScheduleError::Calendar(c) => {
                calendar_refusal(&format!("appeal:{}", appeal.id), c)
            }
            other => internal(other),
        })?;
        if let Some((due_on, _)) = due {
            timers::schedule_reminders(&mut tx, &calendar, &appeal.id, due_on, now)
                .await
                .map_err(internal)?;
        }
        record_event(
            self.store(),
            &mut tx,
            &caller.actor(),
            &appeal,
            pb::AppealEventKind::Filed,
            now,
            serde_json::json!({
                "notice_id": notice_id,
                "target_id": target_id,
                "appellant_kind": appeal.appellant_kind,
                "filed_on": filing.filed_on.to_string(),
                "window_closes_on": window.closes_on.to_string(),
                "answer_due_on": due.map(|d| d.0.to_string()),
                "contact": filing.contact,
                "mandate_sha256": filing.mandate.as_ref().map(|m| m.document_sha256.clone()),
            }),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.disposal.signal.wake([APPEAL_EVENTS]);
        Ok(appeal)
    }

    async fn answer(
        &self,
        caller: &Caller,
        req: pb::AnswerAppealRequest,
    ) -> Result<pb::AnswerAppealResponse, Status> {
        let id = parse_id("appeal_id", &req.appeal_id)?;
        let decision = match pb::AppealDecision::try_from(req.decision) {
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
        let modified = decision == pb::AppealDecision::Modified;
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
        let lift_limit = issue::time_limit("lift_time_limit", req.lift_time_limit.as_ref())?;
        let now = self.now();
        let row = appeals::get(self.store(), &id)
            .await
            .map_err(internal)?
            .filter(|r| may_see(caller, r))
            .ok_or_else(|| Status::not_found(format!("no appeal {id} visible to the caller")))?;
        if row.regulator != caller.organisation_id {
            return Err(Status::permission_denied(format!(
                "Art. 10: the deciding regulator {} answers this appeal",
                row.regulator
            )));
        }
        let notice = notices::get_notice(self.store(), &row.notice_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("an appeal without its notice"))?;
        let measures = if modified {
            self.disposal
                .prepare_measures(
                    caller,
                    "replacement_measures",
                    &req.replacement_measures,
                    now,
                )
                .await?
        } else {
            Vec::new()
        };
        let names = self.disposal.addressee_names(&measures).await?;
        let signer = issue::signer(&self.disposal, &caller.organisation_id, now).await?;
        let threat = threats::get_threat(self.store(), &notice.threat_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("a notice without its threat"))?;

        let mut tx = self.store().begin().await.map_err(internal)?;
        let row = appeals::lock(self.store(), &mut tx, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("appeal vanished"))?;
        let mut appeal = decode(&row)?;
        let answered = transition(&row, AppealEvent::Answer)?;
        let notice = notices::lock_notice(self.store(), &mut tx, &row.notice_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("notice vanished"))?;
        let mut revocation = None;
        if decision != pb::AppealDecision::Upheld {
            let targets = notices::targets_in_tx(&mut tx, &notice.id)
                .await
                .map_err(internal)?;
            let in_force = targets
                .iter()
                .any(|t| t.target_id == row.target_id && t.revocation_notice_id.is_none());
            if in_force {
                revocation = Some(
                    self.disposal
                        .revoke_in_tx(
                            &mut tx,
                            caller,
                            &notice,
                            std::slice::from_ref(&row.target_id),
                            &format!("Art. 10 appeal {id}: {reasons}"),
                            lift_limit,
                            &signer,
                            Some(&id),
                            now,
                        )
                        .await?,
                );
            }
        }
        let mut replacements = Vec::new();
        let mut replacement_decision_id = String::new();
        if modified {
            replacement_decision_id = uuid::Uuid::now_v7().to_string();
            let request_id = format!("appeal:{id}");
            let sha = hex::encode(Sha256::digest(req.encode_to_vec()));
            replacements = self
                .disposal
                .record_decision(
                    &mut tx,
                    caller,
                    &DecisionContext {
                        decision_id: &replacement_decision_id,
                        request_id: &request_id,
                        request_sha256: &sha,
                        threat: &threat,
                        replaces: Some((&notice.id, &id)),
                        names: &names,
                        referral: None,
                    },
                    &measures,
                    &signer,
                    now,
                )
                .await?
                // The appeal row is locked and answered once: its request id is free.
                .ok_or_else(|| internal("the replacement decision's request id is taken"))?;
        }
        appeal.state = answered as i32;
        appeal.answer = Some(pb::AppealAnswer {
            decision: decision as i32,
            reasons: reasons.clone(),
            officer_name: caller.officer.clone().unwrap_or_default(),
            answered_at: Some(timestamp(to_micros(now))),
            revocation_notice_id: revocation
                .as_ref()
                .map(|r| r.id.clone())
                .unwrap_or_default(),
            replacement_decision_id: replacement_decision_id.clone(),
            replacement_notice_ids: replacements.iter().map(|r| r.id.clone()).collect(),
        });
        close(&mut tx, row, &appeal, answered, now).await?;
        record_event(
            self.store(),
            &mut tx,
            &caller.actor(),
            &appeal,
            pb::AppealEventKind::Answered,
            now,
            serde_json::json!({
                "decision": decision.as_str_name(),
                "revocation_notice_id": appeal.answer.as_ref().map(|a| a.revocation_notice_id.clone()),
                "replacement_decision_id": replacement_decision_id,
                "late": appeal.overdue,
            }),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        let woken: Vec<&str> = revocation
            .iter()
            .chain(replacements.iter())
            .filter_map(|n| n.addressee.as_deref())
            .chain([APPEAL_EVENTS])
            .collect();
        self.disposal.signal.wake(woken);
        let ids: Vec<String> = replacements.iter().map(|r| r.id.clone()).collect();
        let targets = notices::targets_of(self.store(), &ids)
            .await
            .map_err(internal)?;
        let replacement_notices = notice_view::notices(&replacements, &targets);
        Ok(pb::AnswerAppealResponse {
            appeal: Some(appeal),
            revocation: revocation.map(|r| notice_view::notice(&r, &[])),
            replacement_notices,
        })
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
        let appeal = self.file(&caller, request.into_inner()).await?;
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
        let now = self.now();
        let mut tx = self.store().begin().await.map_err(internal)?;
        let row = appeals::lock(self.store(), &mut tx, &id)
            .await
            .map_err(internal)?
            .filter(|r| r.filer == caller.organisation_id)
            .ok_or_else(|| Status::not_found(format!("no appeal {id} filed by the caller")))?;
        let withdrawn = transition(&row, AppealEvent::Withdraw)?;
        let mut appeal = decode(&row)?;
        appeal.state = withdrawn as i32;
        appeal.withdrawn_at = Some(timestamp(to_micros(now)));
        appeal.withdrawal_reason = reason.clone();
        close(&mut tx, row, &appeal, withdrawn, now).await?;
        record_event(
            self.store(),
            &mut tx,
            &caller.actor(),
            &appeal,
            pb::AppealEventKind::Withdrawn,
            now,
            serde_json::json!({ "reason": reason }),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.disposal.signal.wake([APPEAL_EVENTS]);
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
        let signal = self.disposal.signal.clone();
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
