//! The TAXII 2.1 endpoints (sections 4 and 5): each checks the media type, establishes the
//! caller from the verified client certificate under the row of the authorization matrix
//! its collection follows, calls the workflow and converts the answer.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::http::{
    STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE, TaxiiError, check_accept, check_content_type, taxii_json,
};
use super::objects::{self, Entry, Filters, Page};
use super::{PeerCerts, Taxii};
use crate::auth::Caller;
use crate::stix::service::{self, ObjectRefusal, Outcome};
use crate::stix::stix_time;
use crate::store::taxii::NoticeReader;

/// The read collection: the shared feed as the caller may see it (ExportStix's rule).
pub const FEED_COLLECTION: &str = "de8740ee-1994-504d-9aa8-393b888076a2";
/// The write collection: reports submitted as STIX (ImportStixBundle's rule).
pub const SUBMISSIONS_COLLECTION: &str = "6b81c5b0-6331-51d5-8a62-71226c369a0a";
/// The ordered measures: disposal notices as courses of action (ListNotices's rule).
pub const MEASURES_COLLECTION: &str = "dae89a02-1c2d-5b19-b3c1-777ed3aa11d3";
/// The largest POST body: 16 MiB, about 20,000 indicators.
pub const MAX_ENVELOPE_BYTES: usize = 16 * 1024 * 1024;

/// The gRPC method whose matrix row a TAXII request follows.
const READ_RULE: &str = "/fenghuo.v1.ThreatService/ExportStix";
const WRITE_RULE: &str = "/fenghuo.v1.ThreatService/ImportStixBundle";
const MEASURES_RULE: &str = service::LIST_NOTICES_RULE;

type Result<T> = std::result::Result<T, TaxiiError>;

pub fn router(state: Arc<Taxii>) -> Router {
    Router::new()
        .route("/taxii2/", get(discovery))
        .route("/api/", get(api_root))
        .route("/api/status/{id}/", get(status))
        .route("/api/collections/", get(collections))
        .route("/api/collections/{id}/", get(collection))
        .route(
            "/api/collections/{id}/objects/",
            get(get_objects).post(add_objects),
        )
        .route(
            "/api/collections/{id}/objects/{object_id}/",
            get(get_object),
        )
        .route(
            "/api/collections/{id}/objects/{object_id}/versions/",
            get(versions),
        )
        .route("/api/collections/{id}/manifest/", get(manifest))
        .fallback(|| async { TaxiiError::NotFound("no such TAXII endpoint: see /taxii2/".into()) })
        // Over the cap, the body extractor fails and `add_objects` answers 413.
        .layer(DefaultBodyLimit::max(MAX_ENVELOPE_BYTES))
        .with_state(state)
}

impl Taxii {
    async fn caller(&self, certs: &PeerCerts, rule: &str) -> Result<Caller> {
        Ok(self.auth.caller_for(certs.0.clone(), rule).await?)
    }
}

fn ok(body: &Value) -> Response {
    taxii_json(StatusCode::OK, body, HeaderMap::new())
}

async fn discovery(
    State(t): State<Arc<Taxii>>,
    axum::Extension(certs): axum::Extension<PeerCerts>,
    headers: HeaderMap,
) -> Result<Response> {
    check_accept(&headers)?;
    t.caller(&certs, READ_RULE).await?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| t.local_addr.to_string());
    let root = format!("https://{host}/api/");
    Ok(ok(&json!({
        "title": "fenghuo TAXII 2.1",
        "description": "Threat reports shared under the 2017 Public Internet Cybersecurity Threat Monitoring and Disposal Measures, as STIX 2.1; the TLP rule of the platform applies.",
        "default": root,
        "api_roots": [root],
    })))
}

async fn api_root(
    State(t): State<Arc<Taxii>>,
    axum::Extension(certs): axum::Extension<PeerCerts>,
    headers: HeaderMap,
) -> Result<Response> {
    check_accept(&headers)?;
    t.caller(&certs, READ_RULE).await?;
    Ok(ok(&json!({
        "title": "fenghuo threat sharing",
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": MAX_ENVELOPE_BYTES,
    })))
}

fn feed_collection() -> Value {
    json!({
        "id": FEED_COLLECTION,
        "title": "Shared feed",
        "description": "Every sighting you may see under the TLP rule, in commit order: each as its SDO, relationships, courses of action and sighting.",
        "can_read": true,
        "can_write": false,
        "media_types": [STIX_MEDIA_TYPE],
    })
}

fn measures_collection() -> Value {
    json!({
        "id": MEASURES_COLLECTION,
        "title": "Ordered measures",
        "description": "The disposal notices you may see (as DisposalService.ListNotices) as courses of action, each related to the reports of its threat you may see.",
        "can_read": true,
        "can_write": false,
        "media_types": [STIX_MEDIA_TYPE],
    })
}

fn submissions_collection() -> Value {
    json!({
        "id": SUBMISSIONS_COLLECTION,
        "title": "Submissions",
        "description": "POST STIX 2.1 objects here: the same intake as ThreatService.ImportStixBundle; the reporter is your organisation.",
        "can_read": false,
        "can_write": true,
        "media_types": [STIX_MEDIA_TYPE],
    })
}

/// The collections this caller reaches: the feed always; submissions where the matrix lets
/// its roles import.
async fn visible_collections(t: &Taxii, certs: &PeerCerts) -> Result<Vec<Value>> {
    t.caller(certs, READ_RULE).await?;
    let mut out = vec![feed_collection()];
    for (rule, collection) in [
        (MEASURES_RULE, measures_collection as fn() -> Value),
        (WRITE_RULE, submissions_collection),
    ] {
        match t.caller(certs, rule).await {
            Ok(_) => out.push(collection()),
            Err(TaxiiError::Forbidden(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

async fn collections(
    State(t): State<Arc<Taxii>>,
    axum::Extension(certs): axum::Extension<PeerCerts>,
    headers: HeaderMap,
) -> Result<Response> {
    check_accept(&headers)?;
    let all = visible_collections(&t, &certs).await?;
    Ok(ok(&json!({ "collections": all })))
}

async fn collection(
    State(t): State<Arc<Taxii>>,
    axum::Extension(certs): axum::Extension<PeerCerts>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    check_accept(&headers)?;
    let all = visible_collections(&t, &certs).await?;
    all.into_iter()
        .find(|c| c["id"] == id.as_str())
        .map(|c| ok(&c))
        .ok_or_else(|| unknown_collection(&id))
}

fn unknown_collection(id: &str) -> TaxiiError {
    TaxiiError::NotFound(format!(
        "collection {id} does not exist or is not visible to you"
    ))
}

/// What a readable collection holds.
enum Readable {
    Feed,
    Measures(NoticeReader),
}

/// The caller and what it reads in collection `id`; 403 for the write-only collection, 404
/// for others.
async fn readable(t: &Taxii, certs: &PeerCerts, id: &str) -> Result<(Caller, Readable)> {
    match id {
        FEED_COLLECTION => Ok((t.caller(certs, READ_RULE).await?, Readable::Feed)),
        MEASURES_COLLECTION => {
            let caller = t.caller(certs, MEASURES_RULE).await?;
            // The auth layer refused Deny already.
            let notices = service::notice_reader(&caller, caller.scope).ok_or_else(|| {
                TaxiiError::Forbidden("ordered measures are not yours to read".into())
            })?;
            Ok((caller, Readable::Measures(notices)))
        }
        SUBMISSIONS_COLLECTION => {
            t.caller(certs, WRITE_RULE).await?;
            Err(TaxiiError::Forbidden(
                "the submissions collection is write-only: read the shared feed collection".into(),
            ))
        }
        _ => Err(unknown_collection(id)),
    }
}

/// A page of a readable collection for `caller`, with the headers every listing carries.
async fn listing(
    t: &Taxii,
    (caller, what): &(Caller, Readable),
    query: Option<&str>,
    scope: &str,
) -> Result<(Page, Filters, HeaderMap)> {
    let filters = Filters::parse(query, scope)?;
    let start = filters.start()?;
    let reader = caller.reader();
    let source = match what {
        Readable::Feed => objects::Source::Feed,
        Readable::Measures(notices) => objects::Source::Measures(notices),
    };
    let page = objects::page(&t.store, &reader, source, &filters, start)
        .await
        .map_err(TaxiiError::internal)?;
    let mut headers = HeaderMap::new();
    let mut date = |name: &'static str, e: Option<&Entry>| {
        if let Some(v) = e.and_then(|e| HeaderValue::from_str(&e.date_added()).ok()) {
            headers.insert(name, v);
        }
    };
    date("X-TAXII-Date-Added-First", page.entries.first());
    date("X-TAXII-Date-Added-Last", page.entries.last());
    Ok((page, filters, headers))
}

/// `more` and `next` of an envelope or manifest.
fn paging(body: &mut Value, page: &Page, filters: &Filters) {
    body["more"] = page.next.is_some().into();
    if let Some(c) = page.next {
        body["next"] = filters.token(c).into();
    }
}

fn envelope(page: &Page, filters: &Filters, headers: HeaderMap) -> Response {
    let mut body = json!({});
    paging(&mut body, page, filters);
    if !page.entries.is_empty() {
        body["objects"] = page.entries.iter().map(|e| e.object.clone()).collect();
    }
    taxii_json(StatusCode::OK, &body, headers)
}

async fn get_objects(
    State(t): State<Arc<Taxii>>,
    axum::Extension(certs): axum::Extension<PeerCerts>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    check_accept(&headers)?;
    let readable = readable(&t, &certs, &id).await?;
    let (page, filters, headers) = listing(&t, &readable, query.as_deref(), "").await?;
    Ok(envelope(&page, &filters, headers))
}

async fn get_object(
    State(t): State<Arc<Taxii>>,
    axum::Extension(certs): axum::Extension<PeerCerts>,
    headers: HeaderMap,
    Path((id, object_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let (page, filters, headers) = one_object(&t, &certs, &headers, &id, &object_id, query).await?;
    Ok(envelope(&page, &filters, headers))
}

/// The listing of one object's versions; 404 when the first page holds none.
async fn one_object(
    t: &Taxii,
    certs: &PeerCerts,
    headers: &HeaderMap,
    collection: &str,
    object_id: &str,
    query: Option<String>,
) -> Result<(Page, Filters, HeaderMap)> {
    check_accept(headers)?;
    let readable = readable(t, certs, collection).await?;
    let (page, filters, headers) = listing(t, &readable, query.as_deref(), object_id).await?;
    if page.entries.is_empty() && filters.start()? == objects::Cursor::default() {
        return Err(object_not_found(object_id));
    }
    Ok((page, filters, headers))
}

fn object_not_found(id: &str) -> TaxiiError {
    TaxiiError::NotFound(format!(
        "object {id} does not exist in this collection or is not visible to you"
    ))
}

async fn versions(
    State(t): State<Arc<Taxii>>,
    axum::Extension(certs): axum::Extension<PeerCerts>,
    headers: HeaderMap,
    Path((id, object_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let (page, filters, headers) = one_object(&t, &certs, &headers, &id, &object_id, query).await?;
    let mut body = json!({});
    paging(&mut body, &page, &filters);
    body["versions"] = page.entries.iter().map(|e| e.version()).collect();
    Ok(taxii_json(StatusCode::OK, &body, headers))
}

async fn manifest(
    State(t): State<Arc<Taxii>>,
    axum::Extension(certs): axum::Extension<PeerCerts>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    check_accept(&headers)?;
    let readable = readable(&t, &certs, &id).await?;
    let (page, filters, headers) = listing(&t, &readable, query.as_deref(), "").await?;
    let mut body = json!({});
    paging(&mut body, &page, &filters);
    if !page.entries.is_empty() {
        body["objects"] = page
            .entries
            .iter()
            .map(|e| {
                json!({
                    "id": e.object["id"],
                    "date_added": e.date_added(),
                    "version": e.version(),
                    "media_type": STIX_MEDIA_TYPE,
                })
            })
            .collect();
    }
    Ok(taxii_json(StatusCode::OK, &body, headers))
}

async fn add_objects(
    State(t): State<Arc<Taxii>>,
    axum::Extension(certs): axum::Extension<PeerCerts>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: std::result::Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response> {
    check_accept(&headers)?;
    check_content_type(&headers)?;
    let caller = match id.as_str() {
        SUBMISSIONS_COLLECTION => t.caller(&certs, WRITE_RULE).await?,
        FEED_COLLECTION | MEASURES_COLLECTION => {
            t.caller(&certs, READ_RULE).await?;
            return Err(TaxiiError::Forbidden(
                "this collection is read-only: POST to the submissions collection".into(),
            ));
        }
        _ => return Err(unknown_collection(&id)),
    };
    let body = body.map_err(|_| TaxiiError::TooLarge {
        max: MAX_ENVELOPE_BYTES,
    })?;
    let envelope: Value = serde_json::from_slice(&body)
        .map_err(|e| TaxiiError::invalid("envelope", format!("not JSON: {e}")))?;
    let Some(objects) = envelope.get("objects").and_then(Value::as_array) else {
        return Err(TaxiiError::invalid(
            "objects",
            "an envelope needs an \"objects\" list (TAXII 2.1 section 3.7)",
        ));
    };
    let versions: HashMap<String, String> = objects
        .iter()
        .filter_map(|o| {
            let id = o["id"].as_str()?;
            let v = o["modified"].as_str().or_else(|| o["created"].as_str())?;
            Some((id.to_owned(), v.to_owned()))
        })
        .collect();
    let bundle = json!({
        "type": "bundle",
        "id": format!("bundle--{}", uuid::Uuid::new_v4()),
        "objects": objects,
    });
    let requested = t.clock.now();
    // TAXII has no per-request defaults: the organisation's stored ones (SetStixImportDefaults).
    let defaults = service::stored_defaults(&t.store, &caller.organisation_id)
        .await
        .map_err(TaxiiError::internal)?
        .map(|(d, _)| d);
    let results = service::import_bundle(t.services(), &caller, &bundle, defaults.as_ref())
        .await
        .map_err(TaxiiError::internal)?;
    let stored: HashMap<&str, bool> = results
        .iter()
        .filter(|r| r.outcome != Outcome::Used)
        .map(|r| (r.object_id.as_str(), r.outcome != Outcome::Refused))
        .collect();
    let (mut successes, mut failures) = (Vec::new(), Vec::new());
    for r in &results {
        let mut entry = json!({ "id": r.object_id });
        if let Some(v) = versions.get(&r.object_id) {
            entry["version"] = v.clone().into();
        }
        let (success, message) = match (r.outcome, &r.refusal) {
            (Outcome::Stored, _) => (true, format!("stored as threat {}", r.threat_id)),
            (Outcome::Sighting, _) => (
                true,
                format!("stored as a sighting of threat {}", r.threat_id),
            ),
            (Outcome::Replayed, _) => (true, format!("already stored: sighting {}", r.sighting_id)),
            (Outcome::Used, _) => match stored.get(r.used_by.as_str()) {
                Some(false) => (false, format!("part of {}, which was refused", r.used_by)),
                _ => (true, format!("part of {}", r.used_by)),
            },
            (Outcome::Refused, Some(ObjectRefusal::Invalid { field, reason })) => {
                (false, format!("{field}: {reason}"))
            }
            (Outcome::Refused, Some(ObjectRefusal::Stored(r))) => {
                (false, format!("{}: {}", r.field(), r.reason()))
            }
            (Outcome::Refused, None) => (false, "refused".into()),
        };
        entry["message"] = message.into();
        if success {
            successes.push(entry);
        } else {
            failures.push(entry);
        }
    }
    let status_id = uuid::Uuid::new_v4().to_string();
    let status = json!({
        "id": status_id,
        "status": "complete",
        "request_timestamp": stix_time(requested),
        "total_count": results.len(),
        "success_count": successes.len(),
        "successes": successes,
        "failure_count": failures.len(),
        "failures": failures,
        "pending_count": 0,
    });
    crate::store::taxii::insert_status(
        &t.store,
        &status_id,
        &caller.organisation_id,
        crate::domain::clock::to_micros(requested),
        &status.to_string(),
    )
    .await
    .map_err(TaxiiError::internal)?;
    Ok(taxii_json(StatusCode::ACCEPTED, &status, HeaderMap::new()))
}

async fn status(
    State(t): State<Arc<Taxii>>,
    axum::Extension(certs): axum::Extension<PeerCerts>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    check_accept(&headers)?;
    let caller = t.caller(&certs, WRITE_RULE).await?;
    let json = crate::store::taxii::get_status(&t.store, &id, &caller.organisation_id)
        .await
        .map_err(TaxiiError::internal)?
        .ok_or_else(|| {
            TaxiiError::NotFound(format!(
                "status {id} does not exist or was not requested by {}",
                caller.organisation_id
            ))
        })?;
    let body: Value = serde_json::from_str(&json).map_err(TaxiiError::internal)?;
    Ok(ok(&body))
}
