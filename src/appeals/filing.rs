//! Filing an appeal (Art. 10): who may appeal which measure, until when, and once at a time.

use chrono::{DateTime, NaiveDate, Utc};
use prost::Message;

use super::{APPEAL_EVENTS, OVERDUE_TIMER, record_event, standing, timers, window};
use crate::auth::Caller;
use crate::delivery::NoticeSignal;
use crate::domain::appeal::{self, AppealState};
use crate::domain::calendar::{CalendarError, local_date, start_of_day};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::measure::MeasureType;
use crate::domain::notice::NoticeKind;
use crate::domain::policy::TimeLimit;
use crate::pb;
use crate::store::Store;
use crate::store::appeals::{self, AppealRow};
use crate::store::notices;

/// Who appeals, each form already well-formed.
#[derive(Debug, Clone)]
pub enum Appellant {
    /// The organisation holding the resource (Art. 10 "相关组织或个人"); `contact` receives the
    /// answer.
    AffectedParty { contact: String },
    /// The notice's addressee files for its customer, with the customer's signed mandate.
    Customer {
        person: pb::AppellantIdentity,
        mandate: pb::CustomerMandate,
    },
    /// The deciding regulator records an appeal received on paper or by phone.
    Recorded {
        person: pb::AppellantIdentity,
        channel: pb::AppealChannel,
        received_on: NaiveDate,
    },
}

/// An appeal against one target of a disposal notice.
#[derive(Debug, Clone)]
pub struct FileAppeal {
    pub notice_id: String,
    pub target_id: String,
    /// Why the measure is wrong.
    pub grounds: String,
    pub evidence: Vec<pb::EvidenceItem>,
    pub appellant: Appellant,
}

/// Why an appeal is refused: one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum FileAppealError {
    #[error("no disposal notice {notice_id}")]
    NoticeNotFound { notice_id: String },
    #[error("Art. 10: only Art. 8(1) measures (stop service or block) may be appealed")]
    NotAppealable { notice_id: String },
    #[error("not a target of this notice")]
    NotATarget { target_id: String },
    #[error(
        "Art. 10: {value} is not among the resources {organisation} holds (RegistryService.ImportOwnershipEntries, relation HOLDER)"
    )]
    NotAHolder { value: String, organisation: String },
    #[error("Art. 10: only the addressee of notice {notice_id} appeals on behalf of its customer")]
    NotTheAddressee { notice_id: String },
    #[error(
        "Art. 10: only the deciding regulator {issuer} records paper or phone appeals against its notice"
    )]
    NotTheDecidingRegulator { issuer: String },
    #[error("lies in the future")]
    ReceivedInFuture { received_on: NaiveDate },
    #[error("before the notice was issued")]
    ReceivedBeforeIssue { received_on: NaiveDate },
    #[error("the measure on this target was revoked by notice {revocation}")]
    AlreadyRevoked {
        target_id: String,
        revocation: String,
    },
    /// The official calendar of a year the window or the answer needs is not loaded.
    #[error("{source} (CalendarService.LoadYear)")]
    Calendar {
        subject: String,
        source: CalendarError,
    },
    #[error(
        "Art. 10: the appeal window closed on {closes_on} (10 working days after {}); filed on {filed_on}",
        if *provisional { "the notice's deadline" } else { "the day the addressee reported the target disposed" }
    )]
    WindowClosed {
        target_id: String,
        closes_on: NaiveDate,
        /// The window runs from the notice's deadline because no disposal was reported yet.
        provisional: bool,
        filed_on: NaiveDate,
    },
    /// One open appeal per appellant and target; `open` is None when a concurrent filing won.
    #[error("{}", match open {
        Some(id) => format!("appeal {id} by the same appellant on this target is still open (one open appeal per appellant and target)"),
        None => "an appeal by the same appellant on this target is still open".to_owned(),
    })]
    AlreadyOpen { open: Option<String> },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("inconsistent storage: {0}")]
    Inconsistent(String),
}

/// Whose appeal it is, and the day it counts as filed.
struct Filing {
    kind: pb::AppellantKind,
    /// One open appeal per appellant and target.
    key: String,
    appellant: Option<pb::AppellantIdentity>,
    mandate: Option<pb::CustomerMandate>,
    channel: i32,
    filed_on: NaiveDate,
    contact: String,
}

/// Whether `caller` may file as `appellant` against this notice and target (Art. 10).
async fn filing(
    store: &Store,
    caller: &Caller,
    notice: &notices::NoticeRow,
    target: &notices::TargetRow,
    appellant: Appellant,
    today: NaiveDate,
) -> Result<Filing, FileAppealError> {
    match appellant {
        // Art. 10 "相关组织或个人": whoever holds the resource, whatever its role.
        Appellant::AffectedParty { contact } => {
            if !standing::registered_to(store, &caller.organisation_id, target.kind, &target.value)
                .await?
            {
                return Err(FileAppealError::NotAHolder {
                    value: target.value.clone(),
                    organisation: caller.organisation_id.clone(),
                });
            }
            Ok(Filing {
                kind: pb::AppellantKind::AffectedParty,
                key: format!("org:{}", caller.organisation_id),
                appellant: None,
                mandate: None,
                channel: 0,
                filed_on: today,
                contact,
            })
        }
        Appellant::Customer { person, mandate } => {
            if notice.addressee.as_deref() != Some(caller.organisation_id.as_str()) {
                return Err(FileAppealError::NotTheAddressee {
                    notice_id: notice.id.clone(),
                });
            }
            Ok(Filing {
                kind: pb::AppellantKind::AddresseeForCustomer,
                key: format!(
                    "customer:{}:{}",
                    caller.organisation_id, person.identity_number
                ),
                contact: person.contact.clone(),
                appellant: Some(person),
                mandate: Some(mandate),
                channel: 0,
                filed_on: today,
            })
        }
        Appellant::Recorded {
            person,
            channel,
            received_on,
        } => {
            if notice.issuer != caller.organisation_id {
                return Err(FileAppealError::NotTheDecidingRegulator {
                    issuer: notice.issuer.clone(),
                });
            }
            if received_on > today {
                return Err(FileAppealError::ReceivedInFuture { received_on });
            }
            if received_on < local_date(from_micros(notice.issued_at)) {
                return Err(FileAppealError::ReceivedBeforeIssue { received_on });
            }
            let who = if person.identity_number.is_empty() {
                &person.contact
            } else {
                &person.identity_number
            };
            Ok(Filing {
                kind: pb::AppellantKind::RecordedByRegulator,
                key: format!("person:{}:{who}", person.name),
                contact: person.contact.clone(),
                appellant: Some(person),
                mandate: None,
                channel: channel as i32,
                filed_on: received_on,
            })
        }
    }
}

/// Files `command` for `caller`: the appeal, its answer clock (the overdue timer and the
/// reminders) and its event commit together, and watchers wake.
///
/// The target is read before the transaction (to refuse early) and again under the notice's
/// lock, which revocations and results take too: one committed in between is seen there.
///
/// # Errors
/// [`FileAppealError`].
pub async fn file(
    store: &Store,
    signal: &NoticeSignal,
    caller: &Caller,
    command: FileAppeal,
    now: DateTime<Utc>,
) -> Result<pb::Appeal, FileAppealError> {
    let FileAppeal {
        notice_id,
        target_id,
        grounds,
        evidence,
        appellant,
    } = command;
    let today = local_date(now);
    let notice = notices::get_notice(store, &notice_id)
        .await?
        .filter(|n| n.kind == NoticeKind::Disposal)
        .ok_or_else(|| FileAppealError::NoticeNotFound {
            notice_id: notice_id.clone(),
        })?;
    if notice.measure_type != MeasureType::StopServiceOrBlock as i64 {
        return Err(FileAppealError::NotAppealable { notice_id });
    }
    let targets = notices::targets_of(store, std::slice::from_ref(&notice_id)).await?;
    let target = targets
        .iter()
        .find(|t| t.target_id == target_id)
        .ok_or_else(|| FileAppealError::NotATarget {
            target_id: target_id.clone(),
        })?;
    let filing = filing(store, caller, &notice, target, appellant, today).await?;
    let revoked = |t: &notices::TargetRow| {
        t.revocation_notice_id
            .as_ref()
            .map(|r| FileAppealError::AlreadyRevoked {
                target_id: target_id.clone(),
                revocation: r.clone(),
            })
    };
    if let Some(e) = revoked(target) {
        return Err(e);
    }
    let mut tx = store.begin().await?;
    notices::lock_notice(store, &mut tx, &notice_id).await?;
    let fresh = notices::targets_in_tx(&mut tx, &notice_id).await?;
    let target = fresh
        .iter()
        .find(|t| t.target_id == target_id)
        .ok_or_else(|| FileAppealError::Inconsistent("a notice's target vanished".into()))?;
    if let Some(e) = revoked(target) {
        return Err(e);
    }
    let calendar = crate::store::calendar::effective(&mut tx)
        .await
        .map_err(|e| FileAppealError::Inconsistent(format!("reading the calendar: {e:#}")))?;
    let window =
        window(&calendar, &notice, target).map_err(|source| FileAppealError::Calendar {
            subject: format!("target:{target_id}"),
            source,
        })?;
    if filing.filed_on > window.closes_on {
        return Err(FileAppealError::WindowClosed {
            target_id,
            closes_on: window.closes_on,
            provisional: window.provisional,
            filed_on: filing.filed_on,
        });
    }
    if let Some(open) = appeals::open_for(&mut tx, &notice_id, &target_id, &filing.key).await? {
        return Err(FileAppealError::AlreadyOpen { open: Some(open) });
    }
    // Due 30 working days after filing; unknown while the calendar of that year is not loaded.
    let due = appeal::answer_due(&calendar, filing.filed_on).ok();
    let body = pb::NoticeBody::decode(notice.body.as_slice())
        .map_err(|e| FileAppealError::Inconsistent(format!("a notice's body: {e}")))?;
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
        evidence,
        state: AppealState::Open as i32,
        filed_on: Some(pb::date_to_pb(filing.filed_on)),
        filed_at: Some(pb::timestamp(to_micros(now))),
        window_closes_on: Some(pb::date_to_pb(window.closes_on)),
        answer_due_on: due.map(|d| pb::date_to_pb(d.0)),
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
            FileAppealError::AlreadyOpen { open: None }
        } else {
            FileAppealError::Storage(e)
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
        crate::store::timers::ScheduleError::Calendar(source) => FileAppealError::Calendar {
            subject: format!("appeal:{}", appeal.id),
            source,
        },
        other => FileAppealError::Inconsistent(format!("scheduling the answer clock: {other}")),
    })?;
    if let Some((due_on, _)) = due {
        timers::schedule_reminders(&mut tx, &calendar, &appeal.id, due_on, now).await?;
    }
    record_event(
        store,
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
    .await?;
    tx.commit().await?;
    signal.wake([APPEAL_EVENTS]);
    Ok(appeal)
}
