//! The contacts register (Art. 5 of the 2017 Measures; reporting measures Art. 21; 2009
//! mechanism Art. 15), over mTLS on both backends.

use chrono::{Datelike, NaiveDate};
use fenghuo::domain::calendar::{WorkingCalendar, local_date};
use fenghuo::domain::clock::Clock;
use fenghuo_client::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, full_contacts, spawn_app};

fn date(d: NaiveDate) -> pb::Date {
    pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// The latest day from which exactly `n` working days have passed by today.
fn working_days_ago(app: &TestApp, n: u32) -> NaiveDate {
    let calendar = WorkingCalendar::embedded();
    let today = local_date(app.clock.now());
    today
        .iter_days()
        .rev()
        .find(|d| calendar.working_days_between(*d, today).unwrap() == n)
        .unwrap()
}

on_both_backends!(
    a_unit_names_all_four_contacts_and_a_change_reported_after_three_working_days_is_flagged
);

async fn a_unit_names_all_four_contacts_and_a_change_reported_after_three_working_days_is_flagged(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut miit = app.client("miit").await.registry();
    let mut contacts = full_contacts("mobile-gd");
    contacts.retain(|c| c.role != pb::ContactRole::DayToDayContact as i32);
    let request = |contacts: Vec<pb::Contact>| pb::CreateOrganisationRequest {
        id: "mobile-gd".into(),
        name: "Guangdong Mobile".into(),
        roles: vec![pb::Role::BasicTelecom as i32],
        province: "440000".into(),
        parent_id: String::new(),
        contacts,
    };
    let err = miit
        .create_organisation(request(contacts))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let v = &err.get_details_bad_request().unwrap().field_violations[0];
    assert_eq!(v.field, "contacts");
    assert!(
        v.description.contains("Art. 5") && v.description.ends_with("missing: day-to-day contact"),
        "{}",
        v.description
    );
    let created = miit
        .create_organisation(request(full_contacts("mobile-gd")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.contacts.len(), 4);
    assert!(!created.contacts_reported_late);

    // Reported on the third working day after it took effect: on time; the fourth: late.
    app.issue_certificate("mobile-gd").await;
    let mut unit = app.client("mobile-gd").await.registry();
    let update = |effective: NaiveDate| pb::UpdateContactsRequest {
        organisation_id: "mobile-gd".into(),
        contacts: full_contacts("mobile-gd"),
        effective_on: Some(date(effective)),
    };
    let on_time = unit
        .update_contacts(update(working_days_ago(&app, 3)))
        .await
        .unwrap()
        .into_inner();
    assert!(!on_time.contacts_reported_late);
    let late = unit
        .update_contacts(update(working_days_ago(&app, 4)))
        .await
        .unwrap()
        .into_inner();
    assert!(late.contacts_reported_late);
    assert_eq!(
        late.contacts_effective_on,
        Some(date(working_days_ago(&app, 4)))
    );

    // The history, newest first, for the unit and for its regulator; only the late one on ask.
    let history = unit
        .list_contact_changes(pb::ListContactChangesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .changes;
    let flags: Vec<(bool, bool, u32)> = history
        .iter()
        .map(|c| (c.at_creation, c.reported_late, c.working_days_to_report))
        .collect();
    assert_eq!(
        flags,
        [(false, true, 4), (false, false, 3), (true, false, 0)]
    );
    assert_eq!(
        history[0].reported_on,
        Some(date(local_date(app.clock.now())))
    );
    let late_in_gd = app
        .client("gdca")
        .await
        .registry()
        .list_contact_changes(pb::ListContactChangesRequest {
            late_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    assert_eq!(late_in_gd.len(), 1);
    assert_eq!(late_in_gd[0].organisation_id, "mobile-gd");
    // Another province's unit does not see it; a change that has not happened yet is refused.
    let err = app
        .client("vendor-bj")
        .await
        .registry()
        .list_contact_changes(pb::ListContactChangesRequest {
            organisation_id: "mobile-gd".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let tomorrow = local_date(app.clock.now()).succ_opt().unwrap();
    let err = unit.update_contacts(update(tomorrow)).await.unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "effective_on"
    );
}
