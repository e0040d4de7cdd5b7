//! Routing and ordering rules without a server: a real SQLite file, organisations and an
//! ownership entry stored directly, `prepare_measures` called directly.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::measures::{EmergencyCall, OrderError, OrderedMeasure};
use crate::auth::Caller;
use crate::auth::policy::Scope;
use crate::delivery::NoticeSignal;
use crate::disposal::Disposals;
use crate::domain::clock::{ManualClock, to_micros};
use crate::domain::organisation::Role;
use crate::domain::policy::DeadlinePolicy;
use crate::ownership::OwnershipRouter;
use crate::pb;
use crate::pki::keyring::SigningKeyring;
use crate::store::Store;
use crate::store::ownership::{self, EntryRow};
use crate::store::registry::{self, OrganisationRow};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-03T02:00:00Z")
        .expect("a fixed instant")
        .with_timezone(&Utc)
}

struct Fixture {
    disposals: Disposals,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

/// telecom-gd is responsible for 58.60.0.0/14 in Guangdong; registrar-bj can only block;
/// telecom-off is disabled.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::connect(&url).await.expect("a SQLite store");
    let (shutdown, rx) = tokio::sync::watch::channel(false);
    let at = to_micros(now());
    let mut tx = store.begin().await.expect("tx");
    for org in [
        OrganisationRow::new(
            "telecom-gd",
            "GD Telecom",
            &[Role::BasicTelecom],
            "guangdong",
            at,
        ),
        OrganisationRow::new(
            "registrar-bj",
            "BJ Registrar",
            &[Role::DomainRegistrar],
            "beijing",
            at,
        ),
        OrganisationRow {
            enabled: 0,
            ..OrganisationRow::new("telecom-off", "Off", &[Role::BasicTelecom], "beijing", at)
        },
    ] {
        registry::insert_organisation(&mut tx, &org)
            .await
            .expect("organisation");
    }
    ownership::lock_and_bump(&store, &mut tx)
        .await
        .expect("registry version");
    ownership::insert(
        &mut tx,
        &EntryRow {
            id: uuid::Uuid::now_v7().to_string(),
            kind: pb::OwnershipKind::IpPrefix as i64,
            value: "58.60.0.0/14".into(),
            origin_asn: None,
            owner_org: "telecom-gd".into(),
            province: "guangdong".into(),
            valid_from: 0,
            valid_until: None,
            relation: ownership::RESPONSIBLE,
            approval: ownership::APPROVED,
            declared_at: None,
            pending_reason: None,
            decided_by: None,
            decision_reason: None,
        },
    )
    .await
    .expect("entry");
    tx.commit().await.expect("commit");
    Fixture {
        disposals: Disposals {
            store: store.clone(),
            clock: Arc::new(ManualClock::new(now())),
            policy: Arc::new(DeadlinePolicy::shipped()),
            keyring: Arc::new(SigningKeyring::new(dir.path().join("keys"))),
            router: Arc::new(OwnershipRouter::new(store.clone())),
            signal: NoticeSignal::start(&url, store.dialect(), rx),
        },
        _dir: dir,
        _shutdown: shutdown,
    }
}

fn regulator(province: &str, scope: Scope) -> Caller {
    let role = if scope == Scope::Allow {
        Role::NationalRegulator
    } else {
        Role::ProvincialRegulator
    };
    Caller::for_test(&format!("ca-{province}"), role, province, scope)
}

fn blocking(ip: &str) -> OrderedMeasure {
    OrderedMeasure {
        measure_type: pb::MeasureType::StopServiceOrBlock,
        targets: vec![pb::MeasureTarget {
            kind: pb::MeasureTargetKind::Ip as i32,
            value: ip.into(),
        }],
        addressee: None,
        time_limit: None,
        emergency: false,
        calls: Vec::new(),
        protected_system: None,
        legal_basis: "Art. 8(1)".into(),
        instructions: String::new(),
    }
}

#[tokio::test]
async fn a_target_goes_to_the_unit_responsible_for_it_and_a_provincial_regulator_orders_only_in_its_province()
 {
    let f = fixture().await;
    let national = regulator("national", Scope::Allow);
    let routed = f
        .disposals
        .prepare_measures(&national, "measures", &[blocking("58.61.1.1")], now())
        .await
        .expect("routed by the registry");
    let targets = &routed[0].by_addressee["telecom-gd"];
    assert_eq!(targets[0].province, "guangdong");

    let e = f
        .disposals
        .prepare_measures(&national, "measures", &[blocking("1.2.3.4")], now())
        .await
        .expect_err("no entry covers it");
    assert!(
        matches!(e, OrderError::Unroutable { ref field, .. } if field == "measures[0].targets[0]"),
        "{e:?}"
    );
    let named = OrderedMeasure {
        addressee: Some("telecom-gd".into()),
        ..blocking("1.2.3.4")
    };
    let routed = f
        .disposals
        .prepare_measures(&national, "measures", &[named], now())
        .await
        .expect("a named addressee takes an unroutable target");
    assert_eq!(
        routed[0].by_addressee["telecom-gd"][0].province, "guangdong",
        "in the named addressee's province"
    );

    let e = f
        .disposals
        .prepare_measures(
            &regulator("beijing", Scope::OwnProvince),
            "measures",
            &[blocking("58.61.1.1")],
            now(),
        )
        .await
        .expect_err("Guangdong's resource");
    assert!(
        matches!(e, OrderError::OutsideProvince { ref outside, .. } if outside[0].contains("58.61.1.1 (province guangdong)")),
        "{e:?}"
    );
    f.disposals
        .prepare_measures(
            &regulator("guangdong", Scope::OwnProvince),
            "measures",
            &[blocking("58.61.1.1")],
            now(),
        )
        .await
        .expect("its own province");
}

#[tokio::test]
async fn an_addressee_must_be_enabled_able_to_act_and_phoned_first_in_an_emergency() {
    let f = fixture().await;
    let national = regulator("national", Scope::Allow);
    let order = |m: OrderedMeasure| {
        let d = f.disposals.clone();
        let caller = national.clone();
        async move {
            d.prepare_measures(&caller, "replacement_measures", &[m], now())
                .await
                .expect_err("refused")
        }
    };
    let e = order(OrderedMeasure {
        addressee: Some("telecom-off".into()),
        ..blocking("58.61.1.1")
    })
    .await;
    assert!(
        matches!(e, OrderError::OrganisationDisabled { ref field, .. } if field == "replacement_measures[0].addressee_organisation_id"),
        "{e:?}"
    );
    let e = order(OrderedMeasure {
        measure_type: pb::MeasureType::RemoveMalware,
        addressee: Some("registrar-bj".into()),
        ..blocking("58.61.1.1")
    })
    .await;
    assert!(
        matches!(e, OrderError::AddresseeRole { ref error, .. } if error.rule.starts_with("Art. 8(2)")),
        "{e:?}"
    );

    let emergency = |calls: Vec<EmergencyCall>| OrderedMeasure {
        emergency: true,
        calls,
        ..blocking("58.61.1.1")
    };
    let call = |addressee: &str, ago: Duration| EmergencyCall {
        addressee: addressee.into(),
        called_at: now() - ago,
        called_person: "Duty engineer Chen".into(),
    };
    let e = order(emergency(Vec::new())).await;
    assert!(
        matches!(e, OrderError::CallMissing { ref addressee, .. } if addressee == "telecom-gd"),
        "{e:?}"
    );
    let e = order(emergency(vec![call("registrar-bj", Duration::minutes(5))])).await;
    assert!(
        matches!(e, OrderError::CallToNonAddressee { ref addressees, .. } if addressees == &["telecom-gd"]),
        "{e:?}"
    );
    let e = order(emergency(vec![call("telecom-gd", Duration::days(31))])).await;
    assert!(matches!(e, OrderError::CallTooOld { .. }), "{e:?}");
    let e = order(emergency(vec![call("telecom-gd", -Duration::minutes(1))])).await;
    assert!(matches!(e, OrderError::CallInFuture { .. }), "{e:?}");
    let routed = f
        .disposals
        .prepare_measures(
            &national,
            "measures",
            &[emergency(vec![call("telecom-gd", Duration::minutes(5))])],
            now(),
        )
        .await
        .expect("phoned first");
    assert_eq!(routed[0].calls[0].0, "telecom-gd");
}
