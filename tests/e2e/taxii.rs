//! The TAXII 2.1 server (issue #14): the real `fenghuo serve` with `taxii_listen`, over real
//! mTLS with the dev PKI's client certificates, on both backends.

use std::collections::HashSet;
use std::sync::Arc;

use fenghuo::taxii::routes::{FEED_COLLECTION, MEASURES_COLLECTION, SUBMISSIONS_COLLECTION};
use fenghuo_client::pb;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, TestApp, spawn_app_configured};
use crate::threats::{ip, report};

const TAXII: &str = "application/taxii+json;version=2.1";

on_both_backends!(
    discovery_and_collections_follow_the_callers_role,
    posted_objects_are_committed_and_their_status_reports_each_object,
    paging_never_skips_or_repeats_an_object_when_all_share_one_date_added,
    added_after_is_exclusive_and_every_match_filter_applies,
    a_next_token_reused_with_other_filters_is_refused,
    an_invisible_object_is_absent_from_every_list_and_not_found_by_id,
    wrong_roles_and_bad_certificates_are_refused_on_every_route,
    bad_media_types_and_bodies_are_refused,
    ordered_measures_are_courses_of_action_shown_as_list_notices_shows_them,
);

pub(crate) async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_app_configured(
        backend,
        Default::default(),
        Arc::new(|s| s.taxii_listen = Some("127.0.0.1:0".parse().unwrap())),
    )
    .await
}

/// A TAXII client with one organisation's certificate.
pub(crate) struct Taxii {
    http: reqwest::Client,
    base: String,
}

fn taxii_port(app: &TestApp) -> u16 {
    app.application().taxii_addr().expect("taxii_listen").port()
}

fn client_with(app: &TestApp, cert_pem: &str, key_pem: &str) -> Taxii {
    let pki = app.client_pki("miit");
    let identity =
        reqwest::Identity::from_pem(format!("{cert_pem}\n{key_pem}").as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .identity(identity)
        .build()
        .unwrap();
    Taxii {
        http,
        base: format!("https://localhost:{}", taxii_port(app)),
    }
}

pub(crate) fn client(app: &TestApp, org: &str) -> Taxii {
    let pki = app.client_pki(org);
    client_with(app, &pki.cert_pem, &pki.key_pem)
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

impl Taxii {
    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.get_accepting(path, TAXII).await
    }

    async fn get_accepting(&self, path: &str, accept: &str) -> Answer {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        answer(r).await
    }

    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("accept", TAXII)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        answer(r).await
    }

    pub(crate) async fn add(&self, objects: &[Value]) -> Answer {
        let body = json!({ "objects": objects }).to_string().into_bytes();
        self.post(&objects_path(SUBMISSIONS_COLLECTION), TAXII, body)
            .await
    }

    /// Every page of `query` on the feed's objects, following `next`.
    pub(crate) async fn all_pages(&self, query: &str) -> Vec<Answer> {
        let mut pages = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let q = match &next {
                Some(n) => format!("{query}&next={n}"),
                None => query.to_owned(),
            };
            let a = self
                .get(&format!("{}?{q}", objects_path(FEED_COLLECTION)))
                .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            next = a.body["next"].as_str().map(str::to_owned);
            let more = a.body["more"].as_bool().unwrap();
            assert_eq!(more, next.is_some(), "{}", a.body);
            pages.push(a);
            if !more {
                return pages;
            }
        }
    }
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

pub(crate) fn objects_path(collection: &str) -> String {
    format!("/api/collections/{collection}/objects/")
}

pub(crate) fn ids(pages: &[Answer]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p.body["objects"].as_array().cloned().unwrap_or_default())
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The STIX objects fenghuo exports for these reports, as `reporter` would have them from
/// another fenghuo platform: sightings carrying the fenghuo extension.
fn stix_objects(reporter: &str, reports: &[pb::ThreatReport]) -> Vec<Value> {
    let sightings: Vec<(fenghuo::pb::Sighting, fenghuo::pb::Threat)> = reports
        .iter()
        .map(|r| {
            let report = fenghuo::pb::ThreatReport::decode(r.encode_to_vec().as_slice()).unwrap();
            (
                fenghuo::pb::Sighting {
                    id: uuid::Uuid::new_v4().to_string(),
                    threat_id: uuid::Uuid::new_v4().to_string(),
                    reporter_organisation_id: reporter.into(),
                    report: Some(report),
                    received_at: r.discovered_at,
                    ..Default::default()
                },
                fenghuo::pb::Threat {
                    category: 1,
                    status: 1,
                    ..Default::default()
                },
            )
        })
        .collect();
    let bundle = fenghuo::stix::export::bundle(&sightings);
    bundle["objects"].as_array().unwrap().clone()
}

/// `n` reports of distinct IPs (third octet from `octet`) posted as `org`'s STIX objects.
pub(crate) async fn post_reports(
    app: &TestApp,
    taxii: &Taxii,
    org: &str,
    tlp: pb::Tlp,
    n: usize,
    octet: usize,
) -> Answer {
    taxii
        .add(&stix_objects(org, &ip_reports(app, tlp, n, octet)))
        .await
}

fn ip_reports(app: &TestApp, tlp: pb::Tlp, n: usize, third_octet: usize) -> Vec<pb::ThreatReport> {
    (0..n)
        .map(|i| {
            report(
                app,
                tlp,
                ip(&format!(
                    "45.{}.{}.{}",
                    33 + i / 65536,
                    third_octet + (i / 256) % 256,
                    i % 256
                )),
            )
        })
        .collect()
}

async fn discovery_and_collections_follow_the_callers_role(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let vendor = client(&app, "vendor-bj");
    let d = vendor.get("/taxii2/").await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert_eq!(d.headers["content-type"], TAXII);
    let root = format!("https://localhost:{}/api/", taxii_port(&app));
    assert_eq!(d.body["api_roots"], json!([root]));
    assert_eq!(d.body["default"], root);

    let r = vendor.get("/api/").await;
    assert_eq!(r.body["versions"], json!([TAXII]));
    assert!(r.body["max_content_length"].as_u64().unwrap() > 0);

    let c = vendor.get("/api/collections/").await;
    let listed: Vec<(String, bool, bool)> = c.body["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["can_read"].as_bool().unwrap(),
                c["can_write"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (FEED_COLLECTION.to_owned(), true, false),
            (MEASURES_COLLECTION.to_owned(), true, false),
            (SUBMISSIONS_COLLECTION.to_owned(), false, true)
        ]
    );
    let one = vendor
        .get(&format!("/api/collections/{SUBMISSIONS_COLLECTION}/"))
        .await;
    assert_eq!(one.body["can_write"], true);

    // An affected party may read the feed but not submit (ImportStixBundle's row).
    let party = client(&app, "party-gd");
    let c = party.get("/api/collections/").await;
    let ids: Vec<&str> = c.body["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![FEED_COLLECTION, MEASURES_COLLECTION]);
    let hidden = party
        .get(&format!("/api/collections/{SUBMISSIONS_COLLECTION}/"))
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.body);
    let unknown = party.get("/api/collections/nope/").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["http_status"], "404");
    app.stop().await;
}

async fn posted_objects_are_committed_and_their_status_reports_each_object(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let vendor = client(&app, "vendor-bj");
    let mut objects = stix_objects("vendor-bj", &ip_reports(&app, pb::Tlp::Green, 2, 0));
    // A foreign indicator without the fenghuo extension: refused, with the reason.
    objects.push(json!({
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--6f4e1b0c-9c1f-4c4e-9f55-0c5a3f1e2d11",
        "created": "2026-12-01T00:00:00.000Z", "modified": "2026-12-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '45.33.99.1']", "pattern_type": "stix",
        "valid_from": "2026-12-01T00:00:00Z"
    }));
    let a = vendor.add(&objects).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let status = &a.body;
    assert_eq!(status["status"], "complete");
    assert_eq!(status["total_count"], objects.len());
    assert_eq!(status["pending_count"], 0);
    assert_eq!(status["failure_count"], 1, "{status}");
    assert_eq!(
        status["failures"][0]["id"],
        "indicator--6f4e1b0c-9c1f-4c4e-9f55-0c5a3f1e2d11"
    );
    assert_eq!(status["failures"][0]["version"], "2026-12-01T00:00:00.000Z");
    assert!(
        status["failures"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("defaults.information:"),
        "{status}"
    );
    let stored: Vec<&Value> = status["successes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["message"]
                .as_str()
                .unwrap()
                .starts_with("stored as threat")
        })
        .collect();
    assert_eq!(stored.len(), 2, "{status}");
    assert_eq!(
        status["success_count"].as_u64().unwrap() + 1,
        objects.len() as u64
    );

    // Any replica answers from the database; only the organisation that posted sees it.
    let id = status["id"].as_str().unwrap();
    let again = vendor.get(&format!("/api/status/{id}/")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(&again.body, status);
    let other = client(&app, "telecom-gd")
        .get(&format!("/api/status/{id}/"))
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.body);

    // Committed: on the feed, and on the gRPC side; the same envelope again stores nothing.
    let feed = vendor.all_pages("match[type]=sighting").await;
    assert_eq!(ids(&feed).len(), 2);
    let replay = vendor.add(&objects).await;
    let replayed = replay.body["successes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["message"].as_str().unwrap().starts_with("already stored"))
        .count();
    assert_eq!(replayed, 2, "{}", replay.body);
    assert_eq!(
        ids(&vendor.all_pages("match[type]=sighting").await).len(),
        2
    );
    app.stop().await;
}

async fn paging_never_skips_or_repeats_an_object_when_all_share_one_date_added(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    // The manual clock stands still: every object below is added at the same instant.
    let vendor = client(&app, "vendor-bj");
    let objects = stix_objects("vendor-bj", &ip_reports(&app, pb::Tlp::Green, 600, 0));
    let a = vendor.add(&objects).await;
    assert_eq!(a.body["failure_count"], 0, "{}", a.body);

    let pages = vendor.all_pages("limit=97").await;
    assert!(pages.len() > 10);
    let seen = ids(&pages);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an object was repeated");
    for p in &pages {
        assert_eq!(
            p.headers["X-TAXII-Date-Added-First"],
            pages[0].headers["X-TAXII-Date-Added-First"]
        );
        assert!(p.body["objects"].as_array().unwrap().len() <= 97);
    }
    // Nothing skipped: every object of the STIX export's bundles that belongs to one
    // sighting alone (not the shared observables, markings and identities) is on the feed.
    let bundles = app
        .client("vendor-bj")
        .await
        .export_stix(None, vec![])
        .await
        .unwrap();
    let exported: Vec<Value> = bundles
        .iter()
        .flat_map(|b| {
            let v: Value = serde_json::from_str(b).unwrap();
            v["objects"].as_array().unwrap().clone()
        })
        .collect();
    let shared = [
        "marking-definition",
        "identity",
        "extension-definition",
        "ipv4-addr",
    ];
    let expected: HashSet<String> = exported
        .iter()
        .filter(|o| !shared.contains(&o["type"].as_str().unwrap()))
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    let got: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(got, expected);
    assert_eq!(
        seen.iter().filter(|i| i.starts_with("sighting--")).count(),
        600
    );
    // The manifest pages the same way over the same objects.
    let manifest = vendor
        .get(&format!(
            "/api/collections/{FEED_COLLECTION}/manifest/?limit=1000"
        ))
        .await;
    assert_eq!(manifest.body["more"], true);
    assert_eq!(manifest.body["objects"].as_array().unwrap().len(), 1000);
    assert_eq!(
        manifest.body["objects"][0]["media_type"],
        "application/stix+json;version=2.1"
    );
    app.stop().await;
}

async fn added_after_is_exclusive_and_every_match_filter_applies(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let vendor = client(&app, "vendor-bj");
    post_reports(&app, &vendor, "vendor-bj", pb::Tlp::Green, 3, 0).await;
    let first = vendor.all_pages("match[type]=sighting").await;
    let first_added = first[0].headers["X-TAXII-Date-Added-Last"]
        .to_str()
        .unwrap()
        .to_owned();
    app.clock.advance(chrono::Duration::seconds(5));
    post_reports(&app, &vendor, "vendor-bj", pb::Tlp::Green, 2, 1).await;

    // added_after is exclusive: the first batch's own date_added leaves only the second.
    let after = vendor
        .all_pages(&format!("match[type]=sighting&added_after={first_added}"))
        .await;
    assert_eq!(ids(&after).len(), 2);
    let all = ids(&vendor.all_pages("match[type]=sighting").await);
    assert_eq!(all.len(), 5);

    // match[id], several at once.
    let two = format!("{},{}", all[0], all[4]);
    assert_eq!(
        ids(&vendor.all_pages(&format!("match[id]={two}")).await),
        vec![all[0].clone(), all[4].clone()]
    );

    // match[type], several at once.
    let types: HashSet<String> = vendor
        .all_pages("match[type]=indicator,relationship")
        .await
        .iter()
        .flat_map(|p| p.body["objects"].as_array().cloned().unwrap_or_default())
        .map(|o| o["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        HashSet::from(["indicator".into(), "relationship".into()])
    );

    // match[version]: first, last and all name the one version; a timestamp must equal it.
    let one = vendor
        .get(&format!("{}{}/", objects_path(FEED_COLLECTION), all[0]))
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    let version = one.body["objects"][0]["modified"]
        .as_str()
        .unwrap()
        .to_owned();
    for v in ["first", "last", "all", version.as_str()] {
        let q = format!("match[id]={}&match[version]={v}", all[0]);
        assert_eq!(
            ids(&vendor.all_pages(&q).await).len(),
            1,
            "match[version]={v}"
        );
    }
    let q = format!("match[id]={}&match[version]=2020-01-01T00:00:00Z", all[0]);
    assert!(ids(&vendor.all_pages(&q).await).is_empty());

    // match[spec_version]: every object is 2.1.
    assert!(ids(&vendor.all_pages("match[spec_version]=2.0").await).is_empty());
    assert_eq!(
        ids(&vendor
            .all_pages("match[spec_version]=2.1&match[type]=sighting")
            .await)
        .len(),
        5
    );

    // versions/ lists the one version.
    let v = vendor
        .get(&format!(
            "{}{}/versions/",
            objects_path(FEED_COLLECTION),
            all[0]
        ))
        .await;
    assert_eq!(v.body["versions"], json!([version]));
    app.stop().await;
}

async fn a_next_token_reused_with_other_filters_is_refused(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let vendor = client(&app, "vendor-bj");
    post_reports(&app, &vendor, "vendor-bj", pb::Tlp::Green, 4, 0).await;
    let path = objects_path(FEED_COLLECTION);
    let first = vendor
        .get(&format!("{path}?limit=2&match[type]=sighting"))
        .await;
    let next = first.body["next"].as_str().unwrap();
    let same = vendor
        .get(&format!("{path}?limit=2&match[type]=sighting&next={next}"))
        .await;
    assert_eq!(same.status, StatusCode::OK);
    let changed = vendor
        .get(&format!("{path}?limit=2&match[type]=indicator&next={next}"))
        .await;
    assert_eq!(changed.status, StatusCode::BAD_REQUEST, "{}", changed.body);
    assert!(
        changed.body["description"]
            .as_str()
            .unwrap()
            .starts_with("next:")
    );
    let forged = vendor.get(&format!("{path}?next=garbage")).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

async fn an_invisible_object_is_absent_from_every_list_and_not_found_by_id(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let vendor = client(&app, "vendor-bj");
    post_reports(&app, &vendor, "vendor-bj", pb::Tlp::Red, 1, 0).await;
    let own = ids(&vendor.all_pages("match[type]=sighting").await);
    assert_eq!(own.len(), 1);
    let party = client(&app, "party-gd");
    assert!(ids(&party.all_pages("limit=10").await).is_empty());
    let manifest = party
        .get(&format!("/api/collections/{FEED_COLLECTION}/manifest/"))
        .await;
    assert_eq!(manifest.body["objects"], Value::Null);
    for suffix in ["", "versions/"] {
        let a = party
            .get(&format!(
                "{}{}/{suffix}",
                objects_path(FEED_COLLECTION),
                own[0]
            ))
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    }
    let a = party
        .get(&format!(
            "{}?match[id]={}",
            objects_path(FEED_COLLECTION),
            own[0]
        ))
        .await;
    assert_eq!(a.body["objects"], Value::Null);
    app.stop().await;
}

async fn wrong_roles_and_bad_certificates_are_refused_on_every_route(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let vendor = client(&app, "vendor-bj");
    let a = post_reports(&app, &vendor, "vendor-bj", pb::Tlp::Green, 1, 0).await;
    let status_id = a.body["id"].as_str().unwrap().to_owned();
    let object = ids(&vendor.all_pages("match[type]=sighting").await).remove(0);

    // The write routes follow ImportStixBundle's row: an affected party is refused.
    let party = client(&app, "party-gd");
    let body = json!({"objects": []}).to_string().into_bytes();
    let post = party
        .post(&objects_path(SUBMISSIONS_COLLECTION), TAXII, body.clone())
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN, "{}", post.body);
    assert!(
        post.body["description"]
            .as_str()
            .unwrap()
            .contains("ImportStixBundle")
    );
    let status = party.get(&format!("/api/status/{status_id}/")).await;
    assert_eq!(status.status, StatusCode::FORBIDDEN, "{}", status.body);
    // Collections refuse what they are not for, whatever the role.
    let post_feed = vendor
        .post(&objects_path(FEED_COLLECTION), TAXII, body)
        .await;
    assert_eq!(post_feed.status, StatusCode::FORBIDDEN);
    let read_submissions = vendor.get(&objects_path(SUBMISSIONS_COLLECTION)).await;
    assert_eq!(read_submissions.status, StatusCode::FORBIDDEN);

    // A revoked certificate is refused on every route, read or write (401), as over gRPC.
    let leaked = app.issue_certificate("telecom-gd").await;
    let revoked = client(&app, "telecom-gd");
    app.client("miit")
        .await
        .registry()
        .revoke_certificate(pb::RevokeCertificateRequest {
            fingerprint: leaked.fingerprint.clone(),
            reason: "key leaked".into(),
        })
        .await
        .unwrap();
    let feed = FEED_COLLECTION;
    for path in [
        "/taxii2/".to_owned(),
        "/api/".to_owned(),
        "/api/collections/".to_owned(),
        format!("/api/collections/{feed}/"),
        objects_path(feed),
        format!("{}{object}/", objects_path(feed)),
        format!("{}{object}/versions/", objects_path(feed)),
        format!("/api/collections/{feed}/manifest/"),
        format!("/api/status/{status_id}/"),
    ] {
        let a = revoked.get(&path).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}: {}", a.body);
        assert!(a.body["description"].as_str().unwrap().contains("revoked"));
    }
    let post = revoked
        .post(&objects_path(SUBMISSIONS_COLLECTION), TAXII, b"{}".to_vec())
        .await;
    assert_eq!(post.status, StatusCode::UNAUTHORIZED);

    // No client certificate: the TLS handshake itself fails.
    let anonymous = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(app.client_pki("miit").ca_pem.as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let refused = anonymous
        .get(format!("https://localhost:{}/taxii2/", taxii_port(&app)))
        .header("accept", TAXII)
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    app.stop().await;
}

async fn bad_media_types_and_bodies_are_refused(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let vendor = client(&app, "vendor-bj");
    let a = vendor.get_accepting("/taxii2/", "application/json").await;
    assert_eq!(a.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(a.headers["content-type"], TAXII);
    assert_eq!(a.body["http_status"], "406");
    let a = vendor
        .get_accepting(
            &objects_path(FEED_COLLECTION),
            "application/taxii+json;version=2.0",
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_ACCEPTABLE);
    let path = objects_path(SUBMISSIONS_COLLECTION);
    let a = vendor
        .post(&path, "application/json", b"{\"objects\": []}".to_vec())
        .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let a = vendor.post(&path, TAXII, b"not json".to_vec()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.body["description"]
            .as_str()
            .unwrap()
            .starts_with("envelope:")
    );
    let a = vendor
        .post(&path, TAXII, b"{\"more\": false}".to_vec())
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.body["description"]
            .as_str()
            .unwrap()
            .starts_with("objects:")
    );
    let a = vendor
        .post(&path, TAXII, vec![b' '; 16 * 1024 * 1024 + 1])
        .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.body);
    let a = vendor
        .get(&format!("{}?limit=0", objects_path(FEED_COLLECTION)))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.body["description"]
            .as_str()
            .unwrap()
            .starts_with("limit:")
    );
    app.stop().await;
}

async fn ordered_measures_are_courses_of_action_shown_as_list_notices_shows_them(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let threat = crate::stix_measures::ordered(&app).await;
    let path = objects_path(MEASURES_COLLECTION);
    let read = |taxii: Taxii| {
        let path = path.clone();
        async move {
            let a = taxii.get(&path).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            a.body["objects"].as_array().cloned().unwrap_or_default()
        }
    };
    // The addressee and the national regulator see the course of action, related to the
    // report object of the sighting they can see on the feed.
    let telecom = read(client(&app, "telecom-gd")).await;
    assert_eq!(telecom.len(), 2, "{telecom:#?}");
    let coa = &telecom[0];
    assert_eq!(coa["type"], "course-of-action");
    assert!(
        coa["name"]
            .as_str()
            .unwrap()
            .contains("stop service or block"),
        "{coa}"
    );
    assert_eq!(
        coa["extensions"]["extension-definition--231cbc98-c9e7-5787-a75f-0fecc33e2c3d"]["threat_id"],
        threat.as_str()
    );
    let rel = &telecom[1];
    assert_eq!(rel["relationship_type"], "mitigates");
    assert_eq!(rel["source_ref"], coa["id"]);
    let feed = ids(&client(&app, "telecom-gd")
        .all_pages("match[type]=indicator")
        .await);
    assert!(feed.contains(&rel["target_ref"].as_str().unwrap().to_owned()));
    assert_eq!(read(client(&app, "miit")).await.len(), 2);
    // Not the addressee: vendor-bj (own notices only) sees none, and the object is 404.
    assert!(read(client(&app, "vendor-bj")).await.is_empty());
    let by_id = client(&app, "vendor-bj")
        .get(&format!("{path}{}/", coa["id"].as_str().unwrap()))
        .await;
    assert_eq!(by_id.status, StatusCode::NOT_FOUND);
    // Exactly the disposal notices DisposalService.ListNotices shows each organisation.
    for org in [
        "miit",
        "gdca",
        "cncert",
        "telecom-gd",
        "vendor-bj",
        "party-gd",
    ] {
        let listed = app
            .client(org)
            .await
            .disposal()
            .list_notices(pb::ListNoticesRequest {
                kinds: vec![pb::NoticeKind::Disposal as i32],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .notices
            .len();
        let coas = read(client(&app, org))
            .await
            .iter()
            .filter(|o| o["type"] == "course-of-action")
            .count();
        assert_eq!(coas, listed, "{org}");
    }
    app.stop().await;
}
