//! The institution's own steps as tasks with timers (2009 mechanism Art. 8(3), 9(5)):
//! created with a confirmation (Art. 7), flagged overdue by a durable timer at their due
//! instant, completed by the institution (or, for "notify the units", by a disposal
//! decision on the threat).

use chrono::{DateTime, Datelike, Utc};

use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::domain::calendar::{WorkingCalendar, local_date};
use crate::domain::clock::{from_micros, to_micros};
use crate::domain::notice::grade_level;
use crate::domain::policy::DeadlinePolicy;
use crate::domain::reporting::{TaskKind, institution_tasks};
use crate::store::reporting::{self as tasks, TaskFilter, TaskRow};
use crate::store::{Dialect, Store, Tx, audit};
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

/// The tasks `caller` may list: all of them nationally, its province's for a provincial
/// regulator, else its own institution's.
pub async fn list(
    store: &Store,
    caller: &Caller,
    mut filter: TaskFilter,
    size: u32,
) -> Result<Vec<TaskRow>, sqlx::Error> {
    match caller.scope {
        Scope::Allow => {}
        Scope::OwnProvince => filter.province = Some(caller.province.clone()),
        _ => filter.institution = Some(caller.organisation_id.clone()),
    }
    tasks::list_tasks(store, &filter, size).await
}

/// Why completing a task is refused.
#[derive(Debug, thiserror::Error)]
pub enum CompleteTaskError {
    /// Absent, or another institution's.
    #[error("no task {task_id} of {institution}")]
    NotFound {
        task_id: String,
        institution: String,
    },
    /// Done already, with another note.
    #[error("done at {} by {by}", at.to_rfc3339())]
    AlreadyDone {
        task_id: String,
        at: DateTime<Utc>,
        by: String,
    },
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("the task {0} vanished while it was completed")]
    Vanished(String),
}

/// Marks `caller`'s task done with `note`, audited; the same note again answers with the task.
///
/// # Errors
/// [`CompleteTaskError`].
pub async fn complete(
    store: &Store,
    caller: &Caller,
    task_id: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<TaskRow, CompleteTaskError> {
    let dialect = store.dialect();
    let mut tx = store.begin().await?;
    let task = tasks::task_in_tx(&mut tx, dialect, task_id)
        .await?
        .filter(|t| t.institution_org == caller.organisation_id)
        .ok_or_else(|| CompleteTaskError::NotFound {
            task_id: task_id.to_owned(),
            institution: caller.organisation_id.clone(),
        })?;
    if let Some(done_at) = task.done_at {
        drop(tx);
        return if task.done_note.as_deref() == Some(note) {
            Ok(task)
        } else {
            Err(CompleteTaskError::AlreadyDone {
                task_id: task_id.to_owned(),
                at: from_micros(done_at),
                by: task.done_by.unwrap_or_default(),
            })
        };
    }
    let by = format!(
        "{}/{}",
        caller.organisation_id,
        caller.officer.clone().unwrap_or_default()
    );
    tasks::complete(&mut tx, task_id, to_micros(now), &by, note).await?;
    audit::append(
        &mut tx,
        dialect,
        now,
        &caller.actor(),
        "institution_task.complete",
        &format!("institution_task:{task_id}"),
        serde_json::json!({
            "kind": task.kind,
            "threat_id": task.threat_id,
            "month": task.month,
            "due_at": task.due_at,
            "late": task.due_at.is_some_and(|d| to_micros(now) >= d),
            "note": note,
        }),
    )
    .await?;
    let done = tasks::task_in_tx(&mut tx, dialect, task_id)
        .await?
        .ok_or_else(|| CompleteTaskError::Vanished(task_id.to_owned()))?;
    tx.commit().await?;
    Ok(done)
}
