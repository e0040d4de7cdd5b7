//! The institution's own steps as tasks with timers (2009 mechanism Art. 8(3), 9(5)):
//! created with a confirmation (Art. 7), flagged overdue by a durable timer at their due
//! instant, completed by the institution (or, for "notify the units", by a disposal
//! decision on the threat).

use chrono::{DateTime, Datelike, Utc};
use tonic::Status;

use super::identification::IdentificationApi;
use super::{internal, invalid, next_page_token, page, precondition, timestamp};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::domain::calendar::{WorkingCalendar, local_date};
use crate::domain::clock::to_micros;
use crate::domain::notice::grade_level;
use crate::domain::policy::DeadlinePolicy;
use crate::domain::reporting::{TaskKind, institution_tasks};
use crate::pb;
use crate::store::audit;
use crate::store::reporting::{self as tasks, TaskFilter, TaskRow};
use crate::store::{Dialect, Tx};
use crate::timers::{DueTimer, Scheduled, TimerHandler, TimerHandlers, schedule_after};

/// The timer flagging a task overdue at its due instant.
pub const TASK_TIMER: &str = "institution_task.due";

/// Creates the tasks a confirmation with `grade` gives `institution`, with their timers, in
/// the identification's transaction (the policy limits are national: the institution
/// reports to MIIT).
pub async fn create_for_confirmation(
    tx: &mut Tx,
    policy: &DeadlinePolicy,
    institution: &str,
    threat_id: &str,
    grade: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    for (kind, key) in institution_tasks(grade_level(grade)) {
        let Some(limit) = policy.limit("national", key) else {
            continue;
        };
        let (threat, month) = match kind {
            TaskKind::MonthlySummary => {
                let d = local_date(now);
                (String::new(), format!("{:04}-{:02}", d.year(), d.month()))
            }
            TaskKind::ReportToMiit | TaskKind::NotifyUnits => (threat_id.to_owned(), String::new()),
        };
        let row = TaskRow {
            id: uuid::Uuid::now_v7().to_string(),
            kind: kind as i64,
            institution_org: institution.to_owned(),
            threat_id: threat,
            month,
            deadline_key: key.to_string(),
            created_at: to_micros(now),
            due_at: None,
            overdue: 0,
            done_at: None,
            done_by: None,
            done_note: None,
        };
        if !tasks::create_task(tx, &row).await? {
            continue; // this month's summary exists already
        }
        let (_, scheduled) = schedule_after(
            tx,
            now,
            now,
            limit,
            TASK_TIMER,
            &row.id,
            serde_json::json!({ "kind": row.kind }),
        )
        .await?;
        if let Scheduled::At(due) = scheduled {
            tasks::set_due(tx, &row.id, to_micros(due)).await?;
        }
    }
    Ok(())
}

/// The handler of [`TASK_TIMER`].
pub fn handlers(dialect: Dialect) -> TimerHandlers {
    TimerHandlers::new().with(TASK_TIMER, Due { dialect })
}

struct Due {
    dialect: Dialect,
}

#[tonic::async_trait]
impl TimerHandler for Due {
    async fn fire(&self, tx: &mut Tx, timer: &DueTimer, _now: DateTime<Utc>) -> anyhow::Result<()> {
        // Only the task's row: the firing transaction runs other kinds' handlers too, and
        // taking the audit chain's lock here, ahead of their notice locks, can deadlock
        // with a unit's request that locks a notice and then the chain. The timer row
        // records when it fired.
        if tasks::mark_overdue(tx, &timer.subject).await? {
            let task = tasks::task_in_tx(tx, self.dialect, &timer.subject).await?;
            let institution = task.map(|t| t.institution_org).unwrap_or_default();
            tracing::warn!(task = %timer.subject, %institution, "an institution task is overdue");
        }
        Ok(())
    }

    async fn deadline_known(
        &self,
        tx: &mut Tx,
        timer: &DueTimer,
        _calendar: &WorkingCalendar,
        _now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        tasks::set_due(tx, &timer.subject, to_micros(timer.due_at)).await?;
        Ok(())
    }
}

pub fn view(t: &TaskRow) -> pb::InstitutionTask {
    pb::InstitutionTask {
        id: t.id.clone(),
        kind: t.kind as i32,
        institution_organisation_id: t.institution_org.clone(),
        threat_id: t.threat_id.clone(),
        month: t.month.clone(),
        deadline_key: t.deadline_key.clone(),
        created_at: Some(timestamp(t.created_at)),
        due_at: t.due_at.map(timestamp),
        overdue: t.overdue != 0,
        done_at: t.done_at.map(timestamp),
        done_by: t.done_by.clone().unwrap_or_default(),
        done_note: t.done_note.clone().unwrap_or_default(),
    }
}

impl IdentificationApi {
    pub(super) async fn list_tasks(
        &self,
        caller: &Caller,
        req: pb::ListInstitutionTasksRequest,
    ) -> Result<pb::ListInstitutionTasksResponse, Status> {
        let (size, after) = page(req.page.as_ref())?;
        let threat_id = match req.threat_id.trim() {
            "" => None,
            t => Some(
                uuid::Uuid::parse_str(t)
                    .map_err(|_| invalid("threat_id", "not a threat id"))?
                    .to_string(),
            ),
        };
        let mut filter = TaskFilter {
            threat_id,
            open_only: req.open_only,
            overdue_only: req.overdue_only,
            after_id: after,
            ..Default::default()
        };
        match caller.scope {
            Scope::Allow => {}
            Scope::OwnProvince => filter.province = Some(caller.province.clone()),
            _ => filter.institution = Some(caller.organisation_id.clone()),
        }
        let rows = tasks::list_tasks(&self.store, &filter, size)
            .await
            .map_err(internal)?;
        Ok(pb::ListInstitutionTasksResponse {
            next_page_token: next_page_token(rows.len(), size, rows.last().map(|r| r.id.as_str())),
            tasks: rows.iter().map(view).collect(),
        })
    }

    pub(super) async fn complete_task(
        &self,
        caller: &Caller,
        req: pb::CompleteInstitutionTaskRequest,
    ) -> Result<pb::CompleteInstitutionTaskResponse, Status> {
        let id = uuid::Uuid::parse_str(req.task_id.trim())
            .map_err(|_| invalid("task_id", "not a task id"))?
            .to_string();
        let note = req.note.trim();
        if note.is_empty() || note.chars().count() > 2000 {
            return Err(invalid(
                "note",
                "required, at most 2,000 characters: what was done",
            ));
        }
        let now = self.clock.now();
        let dialect = self.store.dialect();
        let mut tx = self.store.begin().await.map_err(internal)?;
        let not_found = || Status::not_found(format!("no task {id} of {}", caller.organisation_id));
        let task = tasks::task_in_tx(&mut tx, dialect, &id)
            .await
            .map_err(internal)?
            .filter(|t| t.institution_org == caller.organisation_id)
            .ok_or_else(not_found)?;
        if task.done_at.is_some() {
            drop(tx);
            return if task.done_note.as_deref() == Some(note) {
                Ok(pb::CompleteInstitutionTaskResponse {
                    task: Some(view(&task)),
                })
            } else {
                Err(precondition(
                    "TASK_DONE",
                    &format!("institution_task:{id}"),
                    format!(
                        "done at {} by {}",
                        crate::domain::clock::from_micros(task.done_at.unwrap_or_default())
                            .to_rfc3339(),
                        task.done_by.unwrap_or_default()
                    ),
                ))
            };
        }
        let by = format!(
            "{}/{}",
            caller.organisation_id,
            caller.officer.clone().unwrap_or_default()
        );
        tasks::complete(&mut tx, &id, to_micros(now), &by, note)
            .await
            .map_err(internal)?;
        audit::append(
            &mut tx,
            dialect,
            now,
            &caller.actor(),
            "institution_task.complete",
            &format!("institution_task:{id}"),
            serde_json::json!({
                "kind": task.kind,
                "threat_id": task.threat_id,
                "month": task.month,
                "due_at": task.due_at,
                "late": task.due_at.is_some_and(|d| to_micros(now) >= d),
                "note": note,
            }),
        )
        .await
        .map_err(internal)?;
        let done = tasks::task_in_tx(&mut tx, dialect, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("task vanished"))?;
        tx.commit().await.map_err(internal)?;
        Ok(pb::CompleteInstitutionTaskResponse {
            task: Some(view(&done)),
        })
    }
}
