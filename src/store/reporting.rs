//! Reporting deadlines as KPIs, and the institution's own tasks.
//!
//! # Contract
//! - [`report_counts`] counts first reports with a computed deadline, by reporter, whose
//!   deadline falls in `[from, before)`; a report is on time or late, never missing.
//! - A task exists once per (kind, institution, threat, month) ([`create_task`] returns
//!   false for a repeat); its `overdue` flag is set only by the timer at `due_at`, and
//!   only while it is not done; done is final.

use sqlx::AssertSqlSafe;

use super::bulk::{SqlValue, Statement};
use super::{Dialect, Store, Tx};

/// (reporter, reports due, of which late) for these organisations.
pub async fn report_counts(
    store: &Store,
    orgs: &[String],
    from: i64,
    before: i64,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    if orgs.is_empty() {
        return Ok(Vec::new());
    }
    let mut st = Statement::new(
        store.dialect(),
        "SELECT reporter_org, COUNT(*), CAST(COALESCE(SUM(reported_late), 0) AS BIGINT) FROM sightings \
         WHERE report_due IS NOT NULL AND report_due >= ",
    );
    st.bind(SqlValue::Int(from)).push(" AND report_due < ");
    st.bind(SqlValue::Int(before))
        .push(" AND reporter_org IN (");
    st.bind_list(orgs.iter().map(|o| SqlValue::Text(o.clone())))
        .push(") GROUP BY reporter_org");
    st.query_as().fetch_all(store.pool()).await
}

/// Organisations with a report that has a deadline (of a province, or anywhere), after
/// `after`, by id: the units a compliance summary lists besides notices' addressees.
pub async fn reporters(
    store: &Store,
    province: Option<&str>,
    after: &str,
    limit: u32,
) -> Result<Vec<String>, sqlx::Error> {
    let mut st = Statement::new(
        store.dialect(),
        "SELECT DISTINCT reporter_org FROM sightings WHERE report_due IS NOT NULL AND reporter_org > ",
    );
    st.bind(SqlValue::Text(after.to_owned()));
    if let Some(p) = province {
        st.push(" AND reporter_province = ")
            .bind(SqlValue::Text(p.to_owned()));
    }
    st.push(&format!(" ORDER BY reporter_org LIMIT {limit}"));
    let rows: Vec<(String,)> = st.query_as().fetch_all(store.pool()).await?;
    Ok(rows.into_iter().map(|(o,)| o).collect())
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TaskRow {
    pub id: String,
    pub kind: i64,
    pub institution_org: String,
    /// '' for a monthly summary.
    pub threat_id: String,
    /// 'YYYY-MM' of a monthly summary, else ''.
    pub month: String,
    pub deadline_key: String,
    pub created_at: i64,
    pub due_at: Option<i64>,
    pub overdue: i64,
    pub done_at: Option<i64>,
    pub done_by: Option<String>,
    pub done_note: Option<String>,
}

const TASK_COLUMNS: &str = "id, kind, institution_org, threat_id, month, deadline_key, created_at, \
     due_at, overdue, done_at, done_by, done_note";

/// Inserts the task unless its (kind, institution, threat, month) exists; true when new.
pub async fn create_task(tx: &mut Tx, t: &TaskRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO institution_tasks (id, kind, institution_org, threat_id, month, deadline_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&t.id)
    .bind(t.kind)
    .bind(&t.institution_org)
    .bind(&t.threat_id)
    .bind(&t.month)
    .bind(&t.deadline_key)
    .bind(t.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_due(tx: &mut Tx, id: &str, due_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE institution_tasks SET due_at = $1 WHERE id = $2")
        .bind(due_at)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The task, locked until `tx` ends.
pub async fn task_in_tx(
    tx: &mut Tx,
    dialect: Dialect,
    id: &str,
) -> Result<Option<TaskRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {TASK_COLUMNS} FROM institution_tasks WHERE id = $1{}",
        dialect.for_update()
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Flags the task overdue unless it is done; true when flagged now.
pub async fn mark_overdue(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE institution_tasks SET overdue = 1 WHERE id = $1 AND done_at IS NULL AND overdue = 0",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the task done unless it already is; true when marked now.
pub async fn complete(
    tx: &mut Tx,
    id: &str,
    at: i64,
    by: &str,
    note: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE institution_tasks SET done_at = $1, done_by = $2, done_note = $3 \
         WHERE id = $4 AND done_at IS NULL",
    )
    .bind(at)
    .bind(by)
    .bind(note)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// 2009 mechanism Art. 8(3): a disposal decision on a threat notifies its units, which
/// completes every open "notify the units" task of the threat.
pub async fn notified_by_decision(
    tx: &mut Tx,
    threat_id: &str,
    decision_id: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE institution_tasks SET done_at = $1, done_by = $2, done_note = $3 \
         WHERE kind = 2 AND threat_id = $4 AND done_at IS NULL",
    )
    .bind(at)
    .bind(format!("decision:{decision_id}"))
    .bind("units notified by the disposal decision's notices")
    .bind(threat_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct TaskFilter {
    /// One institution's tasks.
    pub institution: Option<String>,
    /// Tasks about a threat with a resource or a report in this province, and the
    /// monthly summaries (copied to every provincial administration).
    pub province: Option<String>,
    pub threat_id: Option<String>,
    pub open_only: bool,
    pub overdue_only: bool,
    /// Keyset: tasks with an id above this one (oldest first).
    pub after_id: String,
}

pub async fn list_tasks(
    store: &Store,
    f: &TaskFilter,
    limit: u32,
) -> Result<Vec<TaskRow>, sqlx::Error> {
    let mut st = Statement::new(
        store.dialect(),
        &format!("SELECT {TASK_COLUMNS} FROM institution_tasks k WHERE k.id > "),
    );
    st.bind(SqlValue::Text(f.after_id.clone()));
    if let Some(i) = &f.institution {
        st.push(" AND k.institution_org = ")
            .bind(SqlValue::Text(i.clone()));
    }
    if let Some(t) = &f.threat_id {
        st.push(" AND k.threat_id = ")
            .bind(SqlValue::Text(t.clone()));
    }
    if let Some(p) = &f.province {
        st.push(" AND (k.threat_id = '' OR EXISTS (SELECT 1 FROM threat_provinces p WHERE p.threat_id = k.threat_id AND p.province = ")
            .bind(SqlValue::Text(p.clone()))
            .push(") OR EXISTS (SELECT 1 FROM sightings s WHERE s.threat_id = k.threat_id AND s.reporter_province = ")
            .bind(SqlValue::Text(p.clone()))
            .push("))");
    }
    if f.open_only {
        st.push(" AND k.done_at IS NULL");
    }
    if f.overdue_only {
        st.push(" AND k.overdue = 1");
    }
    st.push(&format!(" ORDER BY k.id LIMIT {limit}"));
    st.query_as().fetch_all(store.pool()).await
}
