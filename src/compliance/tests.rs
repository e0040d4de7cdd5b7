//! Art. 12's refusals without a server: a real SQLite file, the workflow called directly.

use chrono::NaiveDate;

use super::enforcement::{self, EnforceError, EnforcementKind, RecordEnforcement};
use super::*;
use crate::auth::policy::Scope;
use crate::domain::organisation::Role;
use crate::store::registry::{self, OrganisationRow};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-03T02:00:00Z")
        .expect("a fixed instant")
        .with_timezone(&Utc)
}

fn regulator(province: &str, scope: Scope) -> Caller {
    Caller::for_test(
        &format!("ca-{province}"),
        Role::ProvincialRegulator,
        province,
        scope,
    )
}

async fn store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    Store::connect(&url).await.expect("a SQLite store")
}

async fn organisation(store: &Store, id: &str, province: &str) {
    let mut tx = store.begin().await.expect("tx");
    registry::insert_organisation(
        &mut tx,
        &OrganisationRow::new(
            id,
            &format!("{id} Ltd"),
            &[Role::BasicTelecom],
            province,
            to_micros(now()),
        ),
    )
    .await
    .expect("organisation");
    tx.commit().await.expect("commit");
}

fn warning(organisation_id: &str, decided_on: NaiveDate) -> RecordEnforcement {
    RecordEnforcement {
        organisation_id: organisation_id.into(),
        kind: EnforcementKind::Warning,
        decided_on,
        document_number: String::new(),
        fine_amount_fen: 0,
        description: "results missing on three notices".into(),
        legal_basis: "Art. 12 of the 2017 Measures".into(),
        non_compliance_ids: Vec::new(),
        resolves_review_item_ids: Vec::new(),
    }
}

#[tokio::test]
async fn an_enforcement_is_refused_outside_the_province_in_the_future_and_against_a_unit_never_ordered_to_act()
 {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = store(&dir).await;
    organisation(&store, "unit-gd", "guangdong").await;
    let today = crate::domain::calendar::local_date(now());
    let beijing = regulator("beijing", Scope::OwnProvince);
    let guangdong = regulator("guangdong", Scope::OwnProvince);

    let e = enforcement::record(&store, &beijing, warning("nobody", today), now())
        .await
        .expect_err("an unknown organisation");
    assert!(
        matches!(e, EnforceError::UnknownOrganisation(ref o) if o == "nobody"),
        "{e:?}"
    );

    let e = enforcement::record(&store, &beijing, warning("unit-gd", today), now())
        .await
        .expect_err("another province's unit");
    assert!(matches!(e, EnforceError::OutsideScope(_)), "{e:?}");

    let tomorrow = today.succ_opt().expect("a date");
    let e = enforcement::record(&store, &guangdong, warning("unit-gd", tomorrow), now())
        .await
        .expect_err("decided tomorrow");
    assert!(matches!(e, EnforceError::DecidedInFuture { decided_on } if decided_on == tomorrow));

    let e = enforcement::record(&store, &guangdong, warning("unit-gd", today), now())
        .await
        .expect_err("never an addressee");
    assert!(
        matches!(e, EnforceError::NotAnAddressee(ref o) if o == "unit-gd"),
        "{e:?}"
    );
}

#[tokio::test]
async fn accepting_a_reason_for_an_unknown_review_item_is_not_found() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = store(&dir).await;
    let id = uuid::Uuid::now_v7().to_string();
    let e = accept_not_disposed(
        &store,
        &regulator("beijing", Scope::OwnProvince),
        &id,
        "ok",
        now(),
    )
    .await
    .expect_err("no such item");
    assert!(
        matches!(e, AcceptReasonError::Settle(SettleError::NotFound { id: ref i }) if *i == id),
        "{e:?}"
    );
}
