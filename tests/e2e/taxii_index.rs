//! TAXII's object-id index (issue #14): `match[id]`, objects/{id}/ and versions/ on the feed
//! find a sighting through `stix_object_keys`, written with it; sightings stored before the
//! index are indexed at the next start; the TLP rule still applies.

use fenghuo::taxii::routes::FEED_COLLECTION;
use fenghuo_client::pb;
use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::Backend;
use crate::taxii::{client, ids, objects_path, post_reports, spawn};

on_both_backends!(
    objects_are_found_by_id_through_the_index_and_earlier_sightings_are_indexed_at_start,
    a_database_keeps_no_index_until_taxii_is_served_and_then_indexes_everything,
);

async fn objects_are_found_by_id_through_the_index_and_earlier_sightings_are_indexed_at_start(
    backend: Backend,
) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let vendor = client(&app, "vendor-bj");
    post_reports(&app, &vendor, "vendor-bj", pb::Tlp::Green, 3, 0).await;
    post_reports(&app, &vendor, "vendor-bj", pb::Tlp::Red, 1, 1).await;
    let all = ids(&vendor.all_pages("limit=1000").await);
    let (green, red) = (all[0].clone(), all.last().unwrap().clone());
    let by_id = |app: &crate::support::TestApp, org: &str, id: &str| {
        let taxii = client(app, org);
        let path = format!("{}{id}/", objects_path(FEED_COLLECTION));
        async move { taxii.get(&path).await }
    };
    let a = by_id(&app, "vendor-bj", &green).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["objects"][0]["id"], green.as_str());
    // The index holds exactly the objects the feed serves.
    let store = app.application().store().clone();
    let (indexed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM stix_object_keys")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(indexed as usize, all.len());
    // Indexed is not visible: another unit never finds the RED sighting's objects.
    let a = by_id(&app, "registrar-bj", &red).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    assert_eq!(
        by_id(&app, "registrar-bj", &green).await.status,
        StatusCode::OK
    );

    // A database from before the index: no rows, the backfill mark set.
    sqlx::query("DELETE FROM stix_object_keys")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO stix_object_keys_backfill (id, after_position) VALUES (1, 0)")
        .execute(store.pool())
        .await
        .unwrap();
    // Lookups go through the index: without its rows, the object is not found.
    assert_eq!(
        by_id(&app, "vendor-bj", &green).await.status,
        StatusCode::NOT_FOUND
    );
    let app = app.stopped().await.restart().await;
    let store = app.application().store().clone();
    let (marks,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM stix_object_keys_backfill")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(marks, 0);
    let a = by_id(&app, "vendor-bj", &green).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let versions = client(&app, "vendor-bj")
        .get(&format!(
            "{}{green}/versions/",
            objects_path(FEED_COLLECTION)
        ))
        .await;
    assert_eq!(versions.status, StatusCode::OK, "{}", versions.body);
    assert_eq!(versions.body["versions"].as_array().unwrap().len(), 1);
    // match[id] of several ids: exactly those objects, in commit order.
    let wanted = [all[1].clone(), all[all.len() - 2].clone()];
    let got = ids(&client(&app, "vendor-bj")
        .all_pages(&format!("match[id]={},{}", wanted[1], wanted[0]))
        .await);
    assert_eq!(got, wanted);
    let a = by_id(&app, "registrar-bj", &red).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    // Too many ids is refused naming the parameter.
    let many = (0..1001)
        .map(|i| format!("indicator--{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let a = client(&app, "vendor-bj")
        .get(&format!(
            "{}?match[id]={many}",
            objects_path(FEED_COLLECTION)
        ))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.body["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("match[id]:")),
        "{}",
        a.body
    );
    app.stop().await;
}

async fn count(store: &fenghuo::store::Store, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(store.pool()).await.unwrap();
    n
}

/// The intake pays for the index only where TAXII is served (BENCHMARKS.md): without it no
/// rows are written; turning it on (what a TAXII server's start does) indexes what was
/// stored before, and every later batch indexes itself.
async fn a_database_keeps_no_index_until_taxii_is_served_and_then_indexes_everything(
    backend: Backend,
) {
    let Some(app) = crate::support::spawn_app(backend).await else {
        return;
    };
    let vendor = app.client("vendor-bj").await;
    let submit = async |id: &str, ip: &str| {
        vendor
            .unit()
            .submit(
                id,
                crate::threats::report(&app, pb::Tlp::Green, crate::threats::ip(ip)),
            )
            .await
            .unwrap();
    };
    submit("before-1", "45.81.0.1").await;
    submit("before-2", "45.81.0.2").await;
    let store = app.application().store().clone();
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM stix_object_keys").await,
        0
    );
    assert_eq!(
        count(&store, "SELECT enabled FROM stix_object_index WHERE id = 1").await,
        0
    );

    assert!(
        fenghuo::store::taxii::enable_object_index(&store)
            .await
            .unwrap()
    );
    assert!(
        !fenghuo::store::taxii::enable_object_index(&store)
            .await
            .unwrap()
    );
    assert_eq!(
        fenghuo::store::taxii::backfill_object_ids(&store)
            .await
            .unwrap(),
        2,
        "the two sightings stored before"
    );
    let two = count(&store, "SELECT COUNT(*) FROM stix_object_keys").await;
    assert!(
        two >= 4,
        "each sighting has at least its SDO and sighting: {two}"
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(DISTINCT position) FROM stix_object_keys"
        )
        .await,
        2
    );
    submit("after", "45.81.0.3").await;
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(DISTINCT position) FROM stix_object_keys"
        )
        .await,
        3,
        "a batch after the switch indexes itself"
    );
    assert_eq!(
        fenghuo::store::taxii::backfill_object_ids(&store)
            .await
            .unwrap(),
        0
    );
}
