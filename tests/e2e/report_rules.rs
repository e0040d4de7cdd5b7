//! Who must see a report, what a report and a notice must contain, and how a threat is
//! graded (Art. 6, 8 of the 2017 Measures; reporting measures Art. 14-15; 2009 mechanism
//! Art. 7-8), over mTLS on both backends.

use std::time::Duration;

use fenghuo_client::{Client, pb};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app};
use crate::threats::{ip, report};

async fn route_guangdong(app: &TestApp) {
    app.client("miit")
        .await
        .registry()
        .import_ownership_entries(pb::ImportOwnershipEntriesRequest {
            entries: vec![pb::OwnershipEntry {
                kind: pb::OwnershipKind::IpPrefix as i32,
                value: "58.60.0.0/14".into(),
                owner_organisation_id: "telecom-gd".into(),
                ..Default::default()
            }],
            replace_owner_entries: false,
        })
        .await
        .unwrap();
}

/// Feed events up to and including the first about `threat_id`, or none within 10 s.
async fn feed_shows(client: &Client, threat_id: &str) -> bool {
    let mut feed = client
        .threats()
        .subscribe_feed(pb::SubscribeFeedRequest::default())
        .await
        .unwrap()
        .into_inner();
    loop {
        match tokio::time::timeout(Duration::from_secs(3), feed.next()).await {
            Ok(Some(Ok(e))) if e.threat_id == threat_id => return true,
            Ok(Some(Ok(_))) => {}
            _ => return false,
        }
    }
}

on_both_backends!(
    a_red_report_from_beijing_about_a_guangdong_ip_reaches_the_guangdong_regulator_only
);

async fn a_red_report_from_beijing_about_a_guangdong_ip_reaches_the_guangdong_regulator_only(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    route_guangdong(&app).await;
    app.add_organisation("zjca", pb::Role::ProvincialRegulator, "330000", "")
        .await;
    let ack = app
        .client("vendor-bj")
        .await
        .unit()
        .submit("red-gd", report(&app, pb::Tlp::Red, ip("58.61.9.9")))
        .await
        .unwrap();

    // Guangdong's regulator must act on it: it reads the report whatever its TLP (Art. 6).
    let gdca = app.client("gdca").await;
    let seen = gdca.threat(&ack.threat_id).await.unwrap();
    assert_eq!(seen.sighting_count, 1);
    assert_eq!(seen.sightings[0].reporter_organisation_id, "vendor-bj");
    assert_eq!(gdca.search("58.61.9.9").await.unwrap().len(), 1);
    assert!(feed_shows(&gdca, &ack.threat_id).await);

    // Another province's regulator and the units, the responsible telecom too, do not.
    for org in ["zjca", "telecom-gd", "registrar-bj"] {
        let err = app
            .client(org)
            .await
            .threat(&ack.threat_id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{org}");
    }
    assert!(!feed_shows(&app.client("zjca").await, &ack.threat_id).await);
}
