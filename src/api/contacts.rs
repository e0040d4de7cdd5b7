//! RegistryService, contacts part: the register of Art. 5 of the 2017 Measures (reporting
//! measures Art. 21; 2009 mechanism Art. 15) — who answers for threat monitoring and disposal
//! at each unit, and whether each change reached the platform within 3 working days.

use chrono::NaiveDate;
use tonic::Status;

use super::calendar::{date_from_pb, date_to_pb};
use super::registry::{RegistryApi, organisation_to_pb};
use super::{internal, invalid, next_page_token, page, precondition, timestamp};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::domain::contacts::{Contact, ContactRole, keeps_register, missing_roles};
use crate::domain::organisation::{OrganisationId, Role};
use crate::pb;
use crate::registry::contacts::ContactsError;
use crate::store::registry::{self as reg, ContactChangeFilter, ContactChangeRow};

pub fn contact_to_pb(c: Contact) -> pb::Contact {
    pb::Contact {
        role: c.role.as_i32(),
        department: c.department,
        person: c.person,
        phone: c.phone,
        email: c.email,
    }
}

/// The register as given, each entry checked; a unit must hold every required role.
pub fn contacts_from_pb(roles: &[Role], contacts: &[pb::Contact]) -> Result<Vec<Contact>, Status> {
    let out = contacts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let field = |f: &str| format!("contacts[{i}].{f}");
            let role = ContactRole::from_i32(c.role).ok_or_else(|| {
                invalid(
                    &field("role"),
                    "required: leader in charge, responsible department, responsible person or day-to-day contact (Art. 5)",
                )
            })?;
            if c.person.trim().is_empty()
                || (c.phone.trim().is_empty() && c.email.trim().is_empty())
            {
                return Err(invalid(
                    &format!("contacts[{i}]"),
                    "a contact names a person and a phone number or e-mail address (Art. 5)",
                ));
            }
            if role == ContactRole::ResponsibleDepartment && c.department.trim().is_empty() {
                return Err(invalid(
                    &field("department"),
                    "a responsible-department contact names the department (Art. 5)",
                ));
            }
            for (name, value) in [
                ("department", &c.department),
                ("person", &c.person),
                ("phone", &c.phone),
                ("email", &c.email),
            ] {
                if value.trim().chars().count() > 200 {
                    return Err(invalid(&field(name), "at most 200 characters"));
                }
            }
            Ok(Contact {
                role,
                department: c.department.trim().into(),
                person: c.person.trim().into(),
                phone: c.phone.trim().into(),
                email: c.email.trim().into(),
            })
        })
        .collect::<Result<Vec<_>, Status>>()?;
    if keeps_register(roles) {
        let missing = missing_roles(&out);
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|r| r.as_str()).collect();
            return Err(invalid(
                "contacts",
                format!(
                    "a unit names its leader in charge, responsible department, responsible person and day-to-day contact (Art. 5; reporting measures Art. 21); missing: {}",
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(out)
}

fn change_to_pb(c: &ContactChangeRow) -> pb::ContactChange {
    let contacts: Vec<Contact> = serde_json::from_str(&c.contacts_json).unwrap_or_default();
    let date = |s: &str| s.parse::<NaiveDate>().ok().map(date_to_pb);
    pb::ContactChange {
        id: c.id.clone(),
        organisation_id: c.org_id.clone(),
        contacts: contacts.into_iter().map(contact_to_pb).collect(),
        effective_on: date(&c.effective_on),
        reported_on: date(&c.reported_on),
        working_days_to_report: u32::try_from(c.working_days_to_report).unwrap_or_default(),
        reported_late: c.reported_late != 0,
        recorded_at: Some(timestamp(c.recorded_at)),
        at_creation: c.at_creation != 0,
    }
}

impl From<ContactsError> for Status {
    fn from(e: ContactsError) -> Status {
        match e {
            ContactsError::EffectiveInFuture { .. } => invalid("effective_on", e.to_string()),
            ContactsError::Calendar { .. } => {
                precondition("CALENDAR", "effective_on", e.to_string())
            }
            ContactsError::CalendarUnreadable(_) | ContactsError::Storage(_) => internal(e),
        }
    }
}

impl RegistryApi {
    pub(super) async fn update_contacts(
        &self,
        caller: &Caller,
        req: pb::UpdateContactsRequest,
    ) -> Result<pb::Organisation, Status> {
        let org = self
            .addressed_organisation(caller, "organisation_id", &req.organisation_id)
            .await?;
        let contacts = contacts_from_pb(&org.roles(), &req.contacts)?;
        if contacts.is_empty() {
            return Err(invalid(
                "contacts",
                "at least one responsible contact is required (Art. 5)",
            ));
        }
        let effective_on = date_from_pb("effective_on", req.effective_on.as_ref())?;
        let org = self
            .workflow
            .report_contacts(caller, org, contacts, effective_on)
            .await?;
        Ok(organisation_to_pb(&org))
    }

    pub(super) async fn list_contact_changes(
        &self,
        caller: &Caller,
        req: pb::ListContactChangesRequest,
    ) -> Result<pb::ListContactChangesResponse, Status> {
        let (size, token) = page(req.page.as_ref())?;
        let mut filter = ContactChangeFilter {
            late_only: req.late_only,
            before_id: (!token.is_empty()).then_some(token),
            ..ContactChangeFilter::default()
        };
        if req.organisation_id.trim().is_empty() {
            match caller.scope {
                Scope::Allow => {}
                Scope::OwnProvince => filter.province = Some(caller.province.clone()),
                // A unit's own register (its subsidiaries' by naming them).
                _ => filter.org_id = Some(caller.organisation_id.clone()),
            }
        } else {
            let id = OrganisationId::parse(&req.organisation_id)
                .map_err(|e| invalid("organisation_id", e.to_string()))?;
            let org = self
                .addressed_organisation(caller, "organisation_id", id.as_str())
                .await?;
            filter.org_id = Some(org.id);
        }
        let rows = reg::contact_changes(&self.workflow.store, &filter, size)
            .await
            .map_err(internal)?;
        Ok(pb::ListContactChangesResponse {
            next_page_token: next_page_token(rows.len(), size, rows.last().map(|c| c.id.as_str())),
            changes: rows.iter().map(change_to_pb).collect(),
        })
    }
}
