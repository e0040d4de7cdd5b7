//! The contacts register (Art. 5): a unit names its responsible department, person and
//! contact, and reports a change once it has taken effect; a report later than the limit
//! in working days after the change (2009 documents) is recorded as late.

use chrono::NaiveDate;

use super::Registry;
use crate::auth::Caller;
use crate::domain::calendar::local_date;
use crate::domain::clock::to_micros;
use crate::domain::contacts::{CHANGE_REPORT_WORKING_DAYS, Contact, change_report_delay};
use crate::store::registry::{self as reg, ContactChangeRow, OrganisationRow};

/// Why a change of contacts is refused.
#[derive(Debug, thiserror::Error)]
pub enum ContactsError {
    /// A change is reported once it has taken effect.
    #[error("{effective_on} is after today ({today}): report a change once it has taken effect")]
    EffectiveInFuture {
        effective_on: NaiveDate,
        today: NaiveDate,
    },
    #[error(
        "the working days since {effective_on} cannot be counted: {reason} (CalendarService.LoadYear)"
    )]
    Calendar {
        effective_on: NaiveDate,
        reason: String,
    },
    #[error("the working calendar cannot be read: {0:#}")]
    CalendarUnreadable(anyhow::Error),
    #[error("storage: {0}")]
    Storage(#[from] sqlx::Error),
}

impl Registry {
    /// Records `org`'s new contacts, in effect since `effective_on`, with how many working
    /// days the report took and whether that was late; audited.
    ///
    /// # Errors
    /// [`ContactsError`].
    pub async fn report_contacts(
        &self,
        caller: &Caller,
        org: OrganisationRow,
        contacts: Vec<Contact>,
        effective_on: NaiveDate,
    ) -> Result<OrganisationRow, ContactsError> {
        let now = self.clock.now();
        let reported_on = local_date(now);
        if effective_on > reported_on {
            return Err(ContactsError::EffectiveInFuture {
                effective_on,
                today: reported_on,
            });
        }
        let mut tx = self.store.begin().await?;
        let calendar = crate::store::calendar::effective(&mut tx)
            .await
            .map_err(ContactsError::CalendarUnreadable)?;
        let (days, late) =
            change_report_delay(&calendar, effective_on, reported_on).map_err(|e| {
                ContactsError::Calendar {
                    effective_on,
                    reason: e.to_string(),
                }
            })?;
        let change = ContactChangeRow {
            id: uuid::Uuid::now_v7().to_string(),
            org_id: org.id.clone(),
            contacts_json: serde_json::to_string(&contacts).unwrap_or_else(|_| "[]".into()),
            effective_on: effective_on.to_string(),
            reported_on: reported_on.to_string(),
            working_days_to_report: i64::from(days),
            reported_late: i64::from(late),
            recorded_at: to_micros(now),
            at_creation: 0,
        };
        reg::update_contacts(&mut tx, &change).await?;
        let details = serde_json::json!({
            "change_id": change.id,
            "contacts": contacts,
            "effective_on": change.effective_on,
            "reported_on": change.reported_on,
            "working_days_to_report": days,
            "reported_late": late,
            "limit_working_days": CHANGE_REPORT_WORKING_DAYS,
        });
        self.finish(
            tx,
            caller,
            "registry.contacts.update",
            format!("organisation:{}", org.id),
            details,
        )
        .await?;
        Ok(reg::get_organisation(&self.store, &org.id)
            .await?
            .unwrap_or(org))
    }
}
