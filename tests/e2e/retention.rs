//! Retention (2009 mechanism Art. 10) under the manual clock: what aged out goes, what a
//! disposal rests on or was reported again stays, and the audit chain records the removal
//! and still verifies.

use fenghuo::domain::clock::Clock;
use fenghuo_client::pb;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::disposal::{confirmed_threat, decision, measure, target};
use crate::on_both_backends;
use crate::support::{Backend, spawn_app};
use crate::threats::{ip, report};

on_both_backends!(after_the_retention_period_only_threats_nothing_rests_on_are_removed);

async fn after_the_retention_period_only_threats_nothing_rests_on_are_removed(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let day = chrono::Duration::days(1);
    let vendor = app.client("vendor-bj").await;
    let miit = app.client("miit").await;
    // TAXII's object keys are kept, as where TAXII is served; they go with their feed events.
    let store = app.application().store().clone();
    fenghuo::store::taxii::enable_object_index(&store)
        .await
        .unwrap();
    let keys = async || -> (i64, i64) {
        let (all,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM stix_object_keys")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let (orphans,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM stix_object_keys k \
             WHERE NOT EXISTS (SELECT 1 FROM feed_events f WHERE f.position = k.position)",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        (all, orphans)
    };

    // Aged out: reported once, never acted upon.
    let aged = vendor
        .unit()
        .submit("aged", report(&app, pb::Tlp::Green, ip("45.80.0.1")))
        .await
        .unwrap()
        .threat_id;
    // Under a disposal notice: kept with its evidence.
    let decided = confirmed_threat(&app, pb::EventGrade::General).await;
    app.officer("miit")
        .await
        .disposal()
        .issue_decision(decision(
            "retention-decision",
            &decided,
            vec![measure(
                pb::MeasureType::StopServiceOrBlock,
                vec![target(pb::MeasureTargetKind::Ip, "58.60.1.1")],
            )],
        ))
        .await
        .unwrap();
    // Reported again on day 150: its 180 days run from then.
    let renewed = vendor
        .unit()
        .submit("renewed", report(&app, pb::Tlp::Green, ip("45.80.0.2")))
        .await
        .unwrap()
        .threat_id;
    app.clock.advance(day * 150);
    let again = app
        .client("telecom-gd")
        .await
        .unit()
        .submit(
            "renewed-again",
            report(&app, pb::Tlp::Green, ip("45.80.0.2")),
        )
        .await
        .unwrap();
    assert_eq!(again.threat_id, renewed);

    // Day 179: nothing has aged out yet.
    app.clock.advance(day * 29);
    app.drive_timers_until_idle().await;
    vendor.threat(&aged).await.unwrap();
    let (before, _) = keys().await;

    // Day 181: the aged threat is gone, the others stay.
    app.clock.advance(day * 2);
    app.drive_timers_until_idle().await;
    let (after, orphans) = keys().await;
    assert_eq!(orphans, 0, "every key left names a feed event still kept");
    assert!(
        0 < after && after < before,
        "the aged-out sightings' keys went, the others stayed: {before} -> {after}"
    );
    let gone = vendor.threat(&aged).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound, "{gone}");
    assert!(vendor.search("45.80.0.1").await.unwrap().is_empty());
    let kept = miit.threat(&decided).await.unwrap();
    assert!(kept.sighting_count >= 1);
    let renewed_now = vendor.threat(&renewed).await.unwrap();
    assert_eq!(
        renewed_now.sighting_count, 2,
        "both sightings of a renewed threat stay"
    );

    // The feed kept only what is younger than 180 days: the renewal and what came after.
    let mut feed = miit.feed(None).await.unwrap();
    let cutoff = app.clock.now() - day * 180;
    let first = feed.next().await.unwrap().unwrap();
    let at = first.committed_at.unwrap();
    assert!(
        chrono::DateTime::from_timestamp(at.seconds, at.nanos as u32).unwrap() >= cutoff,
        "the oldest feed event kept is younger than the retention period"
    );
    drop(feed);

    // The removal is on the audit chain, and the chain verifies.
    let records = miit
        .regulator()
        .audit_of("retention:threats")
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let details: serde_json::Value = serde_json::from_str(&records[0].details_json).unwrap();
    assert_eq!(details["threats"], 1);
    assert_eq!(details["sightings"], 1);
    assert_eq!(details["retention_days"], 180);
    assert_eq!(
        details["threat_ids_sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(aged.as_bytes()))
    );
    let verdict = miit
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(verdict.intact);

    // The next day's sweep finds nothing more and records nothing.
    app.clock.advance(day);
    app.drive_timers_until_idle().await;
    let records = miit
        .regulator()
        .audit_of("retention:threats")
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
}

#[test]
fn a_retention_below_sixty_days_is_refused_at_start_with_the_article() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fenghuo.toml");
    std::fs::write(&file, "retention_days = 30\n").unwrap();
    let Err(err) = fenghuo::config::Settings::load(Some(&file), Default::default()) else {
        panic!("a retention of 30 days was accepted");
    };
    assert_eq!(
        format!("{err:#}"),
        "retention_days = 30: monitoring data must be kept at least 60 days (2009 mechanism Art. 10)"
    );
}
