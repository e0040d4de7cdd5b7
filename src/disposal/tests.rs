//! The disposal rules without a server: a real SQLite file, notices stored directly, the
//! workflows called directly.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use prost::Message;
use sha2::{Digest, Sha256};

use super::offline::{Channel, OfflineError, RecordOfflineNotification};
use super::receipt::{AcknowledgeError, AcknowledgeReceipt};
use super::results::{Outcome, ReportError, ReportResults, TargetResult};
use super::revocation::{LiftError, ReportLifted};
use super::*;
use crate::auth::policy::Scope;
use crate::domain::clock::{ManualClock, to_micros};
use crate::domain::notice::NoticeKind;
use crate::domain::organisation::Role;
use crate::store::notices::{NoticeRow, TargetRow};

struct Fixture {
    disposals: Disposals,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-03T02:00:00Z")
        .expect("a fixed instant")
        .with_timezone(&Utc)
}

fn unit(organisation_id: &str) -> Caller {
    Caller::for_test(
        organisation_id,
        Role::BasicTelecom,
        "beijing",
        Scope::OwnOrganisation,
    )
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::connect(&url).await.expect("a SQLite store");
    let (shutdown, rx) = tokio::sync::watch::channel(false);
    let signal = NoticeSignal::start(&url, store.dialect(), rx);
    Fixture {
        disposals: Disposals {
            store: store.clone(),
            clock: Arc::new(ManualClock::new(now())),
            policy: Arc::new(DeadlinePolicy::shipped()),
            keyring: Arc::new(SigningKeyring::new(dir.path().join("keys"))),
            router: Arc::new(OwnershipRouter::new(store.clone())),
            signal,
        },
        _dir: dir,
        _shutdown: shutdown,
    }
}

/// Stores a notice (unsigned: these rules do not read the signature) with its targets.
async fn store_notice(
    f: &Fixture,
    position: i64,
    kind: NoticeKind,
    addressee: Option<&str>,
    body: &pb::NoticeBody,
    targets: &[&str],
) -> NoticeRow {
    let row = NoticeRow {
        id: body.notice_id.clone(),
        position,
        kind,
        decision_id: "decision".into(),
        threat_id: "threat".into(),
        issuer: "ca-beijing".into(),
        addressee: addressee.map(str::to_owned),
        measure_type: i64::from(body.measure_type),
        province: "beijing".into(),
        issued_at: to_micros(now()),
        deadline: body.deadline.map(|t| t.seconds * 1_000_000),
        receipt_due: body.receipt_due.map(|t| t.seconds * 1_000_000),
        body: body.encode_to_vec(),
        signature: Vec::new(),
        key_id: "k".into(),
        signer_certificate: Vec::new(),
        state: 1,
        received_at: None,
        received_body_sha256: None,
        revokes_notice_id: None,
        offline: None,
    };
    let mut tx = f.disposals.store.begin().await.expect("tx");
    notices::insert_notice(&mut tx, &row).await.expect("notice");
    for (ordinal, t) in targets.iter().enumerate() {
        notices::insert_target(
            &mut tx,
            &TargetRow {
                notice_id: row.id.clone(),
                target_id: (*t).to_owned(),
                ordinal: ordinal as i64,
                addressee: addressee.unwrap_or_default().to_owned(),
                ..Default::default()
            },
        )
        .await
        .expect("target");
    }
    tx.commit().await.expect("commit");
    row
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn at(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(pb::timestamp(to_micros(t)))
}

fn disposed(target_id: &str) -> TargetResult {
    TargetResult {
        target_id: target_id.into(),
        outcome: Outcome::Disposed,
        reason: String::new(),
        disposed_at: None,
        details: String::new(),
    }
}

async fn acknowledge(f: &Fixture, caller: &Caller, row: &NoticeRow) -> NoticeProgress {
    f.disposals
        .acknowledge(
            caller,
            AcknowledgeReceipt {
                notice_id: row.id.clone(),
                body_sha256: Sha256::digest(&row.body).into(),
            },
        )
        .await
        .expect("receipt")
}

#[tokio::test]
async fn receipt_is_the_addressees_of_the_body_as_signed_and_moves_a_deadline_that_runs_from_receipt()
 {
    let f = fixture().await;
    // 2009 mechanism Art. 9(2): four hours after receipt, signed as four hours after the
    // receipt deadline (one hour after issue).
    let body = pb::NoticeBody {
        notice_id: id(),
        kind: NoticeKind::Disposal as i32,
        measure_type: 1,
        time_limit: Some(super::revocation::time_limit_pb(TimeLimit::Hours(4))),
        deadline_runs_from_receipt: true,
        receipt_due: at(now() + Duration::hours(1)),
        deadline: at(now() + Duration::hours(5)),
        ..Default::default()
    };
    let row = store_notice(&f, 1, NoticeKind::Disposal, Some("unit-bj"), &body, &["t1"]).await;

    let e = f
        .disposals
        .acknowledge(
            &unit("unit-sh"),
            AcknowledgeReceipt {
                notice_id: row.id.clone(),
                body_sha256: Sha256::digest(&row.body).into(),
            },
        )
        .await
        .expect_err("another unit's notice");
    assert!(
        matches!(e, AcknowledgeError::NoticeNotFound { .. }),
        "{e:?}"
    );
    let e = f
        .disposals
        .acknowledge(
            &unit("unit-bj"),
            AcknowledgeReceipt {
                notice_id: row.id.clone(),
                body_sha256: [0; 32],
            },
        )
        .await
        .expect_err("a body other than the one signed");
    assert!(
        matches!(e, AcknowledgeError::BodyMismatch { ref actual } if *actual == hex::encode(Sha256::digest(&row.body))),
        "{e:?}"
    );

    let received = acknowledge(&f, &unit("unit-bj"), &row).await;
    assert_eq!(received.row.state, NoticeState::Received as i64);
    assert_eq!(
        received.row.deadline,
        Some(to_micros(now() + Duration::hours(4))),
        "received at once: due four hours from now, not five"
    );
    // A second receipt changes nothing.
    let again = acknowledge(&f, &unit("unit-bj"), &row).await;
    assert_eq!(again.row.received_at, received.row.received_at);
    assert_eq!(again.row.deadline, received.row.deadline);
}

#[tokio::test]
async fn results_wait_for_receipt_name_the_target_at_fault_and_a_revoked_target_is_lifted_not_reported()
 {
    let f = fixture().await;
    let body = pb::NoticeBody {
        notice_id: id(),
        kind: NoticeKind::Disposal as i32,
        measure_type: 1,
        ..Default::default()
    };
    let row = store_notice(
        &f,
        1,
        NoticeKind::Disposal,
        Some("unit-bj"),
        &body,
        &["t1", "t2"],
    )
    .await;
    let unit = unit("unit-bj");
    let report = |results: Vec<TargetResult>| ReportResults {
        notice_id: row.id.clone(),
        results,
        contact_person: String::new(),
    };

    let e = f
        .disposals
        .report(&unit, report(vec![disposed("t1")]))
        .await
        .expect_err("before receipt");
    assert!(
        matches!(
            e,
            ReportError::Refused(Refused {
                by: TransitionError::ReceiptFirst,
                ..
            })
        ),
        "{e:?}"
    );
    acknowledge(&f, &unit, &row).await;
    let e = f
        .disposals
        .report(&unit, report(vec![disposed("t1"), disposed("t9")]))
        .await
        .expect_err("t9 is not a target");
    assert!(
        matches!(
            e,
            ReportError::Refused(Refused {
                index: Some(1),
                by: TransitionError::NotATarget { .. },
                ..
            })
        ),
        "{e:?}"
    );
    let future = TargetResult {
        disposed_at: Some(now() + Duration::minutes(1)),
        ..disposed("t1")
    };
    let e = f
        .disposals
        .report(&unit, report(vec![disposed("t2"), future]))
        .await
        .expect_err("disposed in the future");
    assert!(
        matches!(e, ReportError::DisposedInFuture { index: 1 }),
        "{e:?}"
    );

    let reported = f
        .disposals
        .report(&unit, report(vec![disposed("t1")]))
        .await
        .expect("t1 disposed");
    assert_eq!(reported.row.state, NoticeState::Received as i64);

    // The regulator revokes t2 (recorded directly: signing is not the rule under test).
    let mut tx = f.disposals.store.begin().await.expect("tx");
    notices::set_revoked(&mut tx, &row.id, "t2", "revocation-1", None)
        .await
        .expect("revoked");
    tx.commit().await.expect("commit");
    let e = f
        .disposals
        .report(&unit, report(vec![disposed("t2")]))
        .await
        .expect_err("t2 is revoked");
    assert!(
        matches!(e, ReportError::Refused(Refused { by: TransitionError::TargetRevoked { ref by, .. }, .. }) if by == "revocation-1"),
        "{e:?}"
    );

    let lift = |target_ids: &[&str]| ReportLifted {
        notice_id: row.id.clone(),
        target_ids: target_ids.iter().map(|t| (*t).to_owned()).collect(),
        lifted_at: None,
        details: String::new(),
    };
    let e = f
        .disposals
        .lift(&unit, lift(&["t1"]))
        .await
        .expect_err("t1 is in force");
    assert!(
        matches!(
            e,
            LiftError::Refused(Refused {
                by: TransitionError::NotRevoked { .. },
                ..
            })
        ),
        "{e:?}"
    );
    let lifted = f
        .disposals
        .lift(&unit, lift(&[]))
        .await
        .expect("every revoked target waiting");
    assert!(
        lifted
            .targets
            .iter()
            .any(|t| t.target_id == "t2" && t.lifted_at.is_some())
    );
    // Only t1 is in force and it is reported: results are all in.
    assert_eq!(lifted.row.state, NoticeState::ResultsReported as i64);
    let e = f
        .disposals
        .lift(&unit, lift(&[]))
        .await
        .expect_err("nothing waits");
    assert!(matches!(e, LiftError::NothingWaiting { .. }), "{e:?}");
    f.disposals
        .lift(&unit, lift(&["t2"]))
        .await
        .expect("naming a lifted target again is not an error");
}

#[tokio::test]
async fn an_addressee_off_the_platform_is_notified_once_by_a_regulator_of_the_notices_province() {
    let f = fixture().await;
    let body = pb::NoticeBody {
        notice_id: id(),
        kind: NoticeKind::Informational as i32,
        measure_type: 3,
        ..Default::default()
    };
    let row = store_notice(&f, 1, NoticeKind::Informational, None, &body, &[]).await;
    let record = |officer: &str| RecordOfflineNotification {
        notice_id: row.id.clone(),
        notified_at: now() - Duration::hours(1),
        notifying_officer: officer.into(),
        channel: Channel::Phone,
        recipient_person: String::new(),
        note: String::new(),
    };
    let shanghai = Caller::for_test(
        "ca-shanghai",
        Role::ProvincialRegulator,
        "shanghai",
        Scope::OwnProvince,
    );
    let e = f
        .disposals
        .record_offline(&shanghai, record("Li"))
        .await
        .expect_err("another province's notice");
    assert!(matches!(e, OfflineError::OutsideScope(_)), "{e:?}");

    let beijing = Caller::for_test(
        "ca-beijing",
        Role::ProvincialRegulator,
        "beijing",
        Scope::OwnProvince,
    );
    let done = f
        .disposals
        .record_offline(&beijing, record("Wang"))
        .await
        .expect("recorded");
    assert_eq!(done.row.state, NoticeState::NotifiedOffline as i64);
    let e = f
        .disposals
        .record_offline(&beijing, record("Zhao"))
        .await
        .expect_err("recorded once only");
    assert!(
        matches!(e, OfflineError::AlreadyNotified { ref officer, at: Some(_), .. } if officer == "Wang"),
        "{e:?}"
    );

    // A disposal notice on the platform is never notified offline.
    let ordered = pb::NoticeBody {
        notice_id: id(),
        kind: NoticeKind::Disposal as i32,
        measure_type: 1,
        ..Default::default()
    };
    let ordered = store_notice(
        &f,
        2,
        NoticeKind::Disposal,
        Some("unit-bj"),
        &ordered,
        &["t"],
    )
    .await;
    let e = f
        .disposals
        .record_offline(
            &beijing,
            RecordOfflineNotification {
                notice_id: ordered.id.clone(),
                ..record("Wang")
            },
        )
        .await
        .expect_err("on the platform");
    assert!(
        matches!(
            e,
            OfflineError::Refused(Refused {
                by: TransitionError::NotOffline,
                ..
            })
        ),
        "{e:?}"
    );
}
