//! The contacts register and its history of changes (Art. 5; 2009 mechanism Art. 15).

use sqlx::AssertSqlSafe;

use crate::store::bulk::{SqlValue, Statement};
use crate::store::{Store, Tx};

/// Replaces the register with `change` and records it in the history.
pub async fn update_contacts(tx: &mut Tx, change: &ContactChangeRow) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE organisations SET contacts_json = $1, contacts_updated_at = $2, contacts_effective_on = $3, \
         contacts_reported_late = $4 WHERE id = $5",
    )
    .bind(&change.contacts_json)
    .bind(change.recorded_at)
    .bind(&change.effective_on)
    .bind(change.reported_late)
    .bind(&change.org_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 1 {
        insert_contact_change(tx, change).await?;
    }
    Ok(n == 1)
}

/// One change of the contacts register (Art. 5; 2009 mechanism Art. 15).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactChangeRow {
    pub id: String,
    pub org_id: String,
    pub contacts_json: String,
    pub effective_on: String,
    pub reported_on: String,
    pub working_days_to_report: i64,
    pub reported_late: i64,
    pub recorded_at: i64,
    pub at_creation: i64,
}

const CHANGE_COLUMNS: &str = "id, org_id, contacts_json, effective_on, reported_on, working_days_to_report, reported_late, recorded_at, at_creation";

pub async fn insert_contact_change(tx: &mut Tx, c: &ContactChangeRow) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO contact_changes ({CHANGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )))
    .bind(&c.id)
    .bind(&c.org_id)
    .bind(&c.contacts_json)
    .bind(&c.effective_on)
    .bind(&c.reported_on)
    .bind(c.working_days_to_report)
    .bind(c.reported_late)
    .bind(c.recorded_at)
    .bind(c.at_creation)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Which changes a history read covers.
#[derive(Debug, Default, Clone)]
pub struct ContactChangeFilter {
    pub org_id: Option<String>,
    /// Organisations of this province only (a provincial regulator's view).
    pub province: Option<String>,
    pub late_only: bool,
    /// Keyset: changes with an id below this one (newest first).
    pub before_id: Option<String>,
}

pub async fn contact_changes(
    store: &Store,
    filter: &ContactChangeFilter,
    limit: u32,
) -> Result<Vec<ContactChangeRow>, sqlx::Error> {
    let columns: Vec<String> = CHANGE_COLUMNS
        .split(", ")
        .map(|c| format!("c.{c}"))
        .collect();
    let mut st = Statement::new(
        store.dialect(),
        &format!(
            "SELECT {} FROM contact_changes c JOIN organisations o ON o.id = c.org_id WHERE 1 = 1",
            columns.join(", ")
        ),
    );
    if let Some(org) = &filter.org_id {
        st.push(" AND c.org_id = ")
            .bind(SqlValue::Text(org.clone()));
    }
    if let Some(p) = &filter.province {
        st.push(" AND o.province = ")
            .bind(SqlValue::Text(p.clone()));
    }
    if filter.late_only {
        st.push(" AND c.reported_late = 1");
    }
    if let Some(b) = &filter.before_id {
        st.push(" AND c.id < ").bind(SqlValue::Text(b.clone()));
    }
    st.push(&format!(" ORDER BY c.id DESC LIMIT {limit}"));
    st.query_as().fetch_all(store.pool()).await
}
