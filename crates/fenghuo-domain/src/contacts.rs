//! The contacts register (Art. 5 of the 2017 Measures; reporting measures Art. 21; 2009
//! mechanism Art. 15): a unit names the leader in charge of threat monitoring and disposal, its
//! responsible department and that department's head, the responsible person and the
//! day-to-day contact, with their contact details, and reports a change within 3 working days.

use chrono::NaiveDate;

use super::calendar::{CalendarError, WorkingCalendar};
use super::organisation::Role;

/// A change of contacts is reported within this many working days of taking effect.
pub const CHANGE_REPORT_WORKING_DAYS: u32 = 3;

/// What a contact is in the register; numbers match `fenghuo.v1.ContactRole`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ContactRole {
    /// Stored before roles were required.
    #[default]
    Unspecified,
    /// 主管领导.
    LeaderInCharge,
    /// 责任部门 and its head (负责人).
    ResponsibleDepartment,
    /// 责任人.
    ResponsiblePerson,
    /// 联系人.
    DayToDayContact,
}

impl ContactRole {
    pub const REQUIRED: [ContactRole; 4] = [
        ContactRole::LeaderInCharge,
        ContactRole::ResponsibleDepartment,
        ContactRole::ResponsiblePerson,
        ContactRole::DayToDayContact,
    ];

    pub fn from_i32(n: i32) -> Option<ContactRole> {
        match n {
            1 => Some(ContactRole::LeaderInCharge),
            2 => Some(ContactRole::ResponsibleDepartment),
            3 => Some(ContactRole::ResponsiblePerson),
            4 => Some(ContactRole::DayToDayContact),
            _ => None,
        }
    }

    pub fn as_i32(self) -> i32 {
        match self {
            ContactRole::Unspecified => 0,
            ContactRole::LeaderInCharge => 1,
            ContactRole::ResponsibleDepartment => 2,
            ContactRole::ResponsiblePerson => 3,
            ContactRole::DayToDayContact => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContactRole::Unspecified => "unspecified",
            ContactRole::LeaderInCharge => "leader in charge",
            ContactRole::ResponsibleDepartment => "responsible department",
            ContactRole::ResponsiblePerson => "responsible person",
            ContactRole::DayToDayContact => "day-to-day contact",
        }
    }
}

/// One entry of the register.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    #[serde(default)]
    pub role: ContactRole,
    pub department: String,
    pub person: String,
    pub phone: String,
    pub email: String,
}

/// Whether an organisation with these roles keeps the register: the units Art. 5 names
/// (institutions, basic telecoms, security vendors, internet enterprises, registries and
/// registrars). Regulators, the platform operator, affected parties and informational
/// recipients may keep contacts, but need not.
pub fn keeps_register(roles: &[Role]) -> bool {
    roles.iter().any(|r| {
        matches!(
            r,
            Role::Institution
                | Role::BasicTelecom
                | Role::InternetEnterprise
                | Role::SecurityVendor
                | Role::DomainRegistry
                | Role::DomainRegistrar
        )
    })
}

/// The required roles no contact holds.
pub fn missing_roles(contacts: &[Contact]) -> Vec<ContactRole> {
    ContactRole::REQUIRED
        .into_iter()
        .filter(|r| !contacts.iter().any(|c| c.role == *r))
        .collect()
}

/// How a change was reported: the working days from taking effect to the report, and whether
/// that is later than [`CHANGE_REPORT_WORKING_DAYS`]. A change reported before or on the day
/// it takes effect is on time.
///
/// # Errors
/// The calendar's error when a day between the two is in no loaded year.
pub fn change_report_delay(
    calendar: &WorkingCalendar,
    effective_on: NaiveDate,
    reported_on: NaiveDate,
) -> Result<(u32, bool), CalendarError> {
    if reported_on <= effective_on {
        return Ok((0, false));
    }
    let days = calendar.working_days_between(effective_on, reported_on)?;
    Ok((days, days > CHANGE_REPORT_WORKING_DAYS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_change_reported_on_the_third_working_day_is_on_time_and_on_the_fourth_late() {
        let cal = WorkingCalendar::embedded();
        // Friday 2026-09-25 takes effect; 2026-09-28 (Mon), 29, 30 are working days, then the
        // National Day holidays begin on 1 October.
        assert_eq!(
            change_report_delay(&cal, day("2026-09-25"), day("2026-09-30")).unwrap(),
            (3, false)
        );
        let (days, late) = change_report_delay(&cal, day("2026-09-25"), day("2026-10-09")).unwrap();
        assert!(late, "{days} working days");
        assert_eq!(
            change_report_delay(&cal, day("2026-09-25"), day("2026-09-24")).unwrap(),
            (0, false)
        );
    }

    #[test]
    fn every_required_role_must_be_held() {
        let c = |role| Contact {
            role,
            person: "Li".into(),
            phone: "+86 10 0000".into(),
            ..Contact::default()
        };
        let held = [
            c(ContactRole::LeaderInCharge),
            c(ContactRole::DayToDayContact),
        ];
        assert_eq!(
            missing_roles(&held),
            [
                ContactRole::ResponsibleDepartment,
                ContactRole::ResponsiblePerson
            ]
        );
        assert!(keeps_register(&[Role::BasicTelecom]));
        assert!(!keeps_register(&[Role::ProvincialRegulator]));
    }
}
