//! InstitutionTask RPCs of IdentificationService: the edge of
//! [`crate::identification::tasks`].

use tonic::Status;

use super::identification::IdentificationApi;
use super::{internal, invalid, next_page_token, page, precondition, timestamp};
use crate::auth::Caller;
use crate::identification::tasks::{self, CompleteTaskError};
use crate::pb;
use crate::store::reporting::{TaskFilter, TaskRow};

impl From<CompleteTaskError> for Status {
    fn from(e: CompleteTaskError) -> Status {
        match e {
            CompleteTaskError::NotFound { .. } => Status::not_found(e.to_string()),
            CompleteTaskError::AlreadyDone { ref task_id, .. } => precondition(
                "TASK_DONE",
                &format!("institution_task:{task_id}"),
                e.to_string(),
            ),
            CompleteTaskError::Storage(_) | CompleteTaskError::Vanished(_) => internal(e),
        }
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
        let filter = TaskFilter {
            threat_id,
            open_only: req.open_only,
            overdue_only: req.overdue_only,
            after_id: after,
            ..Default::default()
        };
        let rows = tasks::list(&self.workflow.store, caller, filter, size)
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
        let now = self.workflow.clock.now();
        let done = tasks::complete(&self.workflow.store, caller, &id, note, now).await?;
        Ok(pb::CompleteInstitutionTaskResponse {
            task: Some(view(&done)),
        })
    }
}
