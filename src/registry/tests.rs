//! Registry rules without a server: a real SQLite file, the workflows called directly.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::organisations::{CreateOrganisationError, NewOrganisation, SetEnabledError};
use super::*;
use crate::auth::policy::Scope;
use crate::domain::clock::{ManualClock, to_micros};
use crate::domain::organisation::{Province, Role};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-03T02:00:00Z")
        .expect("a fixed instant")
        .with_timezone(&Utc)
}

async fn registry(dir: &tempfile::TempDir) -> Registry {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::connect(&url).await.expect("a SQLite store");
    let mut tx = store.begin().await.expect("tx");
    reg::insert_organisation(
        &mut tx,
        &OrganisationRow::new(
            "ca-gd",
            "Guangdong CA",
            &[Role::ProvincialRegulator],
            "440000",
            to_micros(now()),
        ),
    )
    .await
    .expect("regulator");
    tx.commit().await.expect("commit");
    Registry {
        store,
        clock: Arc::new(ManualClock::new(now())),
        ca_pem: String::new(),
    }
}

fn new(id: &str, role: Role, province: &str) -> NewOrganisation {
    NewOrganisation {
        id: OrganisationId::parse(id).expect("an id"),
        name: format!("{id} Ltd"),
        roles: vec![role],
        province: Province::parse(province).expect("a province"),
        parent: None,
        contacts: Vec::new(),
    }
}

#[tokio::test]
async fn a_provincial_regulator_registers_units_of_its_province_only_and_never_an_authority() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let r = registry(&dir).await;
    let gd = Caller::for_test(
        "ca-gd",
        Role::ProvincialRegulator,
        "440000",
        Scope::OwnProvince,
    );
    let e = r
        .create_organisation(&gd, new("ca-gd-2", Role::ProvincialRegulator, "440000"))
        .await
        .expect_err("a second regulator");
    assert!(
        matches!(e, CreateOrganisationError::AuthorityOutsideNationalScope),
        "{e:?}"
    );
    let e = r
        .create_organisation(&gd, new("telecom-bj", Role::BasicTelecom, "110000"))
        .await
        .expect_err("another province");
    assert!(
        matches!(e, CreateOrganisationError::OutsideScope(_)),
        "{e:?}"
    );
    let e = r
        .create_organisation(
            &gd,
            NewOrganisation {
                parent: Some(OrganisationId::parse("nobody").expect("an id")),
                ..new("telecom-gd", Role::BasicTelecom, "440000")
            },
        )
        .await
        .expect_err("an unknown parent");
    assert!(
        matches!(e, CreateOrganisationError::UnknownParent { ref parent } if parent == "nobody"),
        "{e:?}"
    );
    r.create_organisation(&gd, new("telecom-gd", Role::BasicTelecom, "440000"))
        .await
        .expect("its own province");
    let e = r
        .create_organisation(&gd, new("telecom-gd", Role::BasicTelecom, "440000"))
        .await
        .expect_err("twice");
    assert!(
        matches!(e, CreateOrganisationError::AlreadyRegistered { .. }),
        "{e:?}"
    );

    let e = r
        .set_organisation_enabled(
            &gd,
            &OrganisationId::parse("ca-gd").expect("an id"),
            false,
            "test",
        )
        .await
        .expect_err("itself");
    assert!(matches!(e, SetEnabledError::SelfDisable { .. }), "{e:?}");
    let unit = r
        .set_organisation_enabled(
            &gd,
            &OrganisationId::parse("telecom-gd").expect("an id"),
            false,
            "contract ended",
        )
        .await
        .expect("disabled");
    assert!(!unit.enabled());
}
