//! ThreatService: intake (Art. 6, 11) and the shared feed, with one visibility
//! rule (`domain::threat::visibility`) for every read.

mod acks;
mod feed;
mod stix;
mod stream;
pub mod view;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use self::acks::{ack, refusal_status, refused};
use super::streams::{BoxStream, OpenStreams};
use super::{from_timestamp, internal, invalid, page};
use crate::auth::Caller;
use crate::delivery::NoticeSignal;
use crate::domain::clock::{SharedClock, to_micros};
use crate::domain::routing::RoutingTable;
use crate::domain::threat::visibility::Reader;
use crate::domain::threat::{Tlp, indicator};
use crate::intake::IntakeQueue;
use crate::intake::report as intake;
use crate::intake::tlp::{self, ChangeSightingTlp, ChangeTlpError};
use crate::ownership::OwnershipRouter;
use crate::pb;
use crate::pb::threat_service_server::ThreatService;
use crate::store::Store;
use crate::store::threats::{self as store, IngestItem, IngestOutcome, ThreatFilter};

pub struct ThreatApi {
    pub store: Store,
    pub clock: SharedClock,
    pub queue: IntakeQueue,
    pub router: Arc<OwnershipRouter>,
    /// Wakes this replica's feeds when feed events commit on any replica.
    pub feed: NoticeSignal,
    /// Open feeds per organisation on this replica, against the cap of `[streams]`.
    pub open_feeds: OpenStreams,
    /// Open intake streams (SubmitThreatStream, SubmitThreatBatches, ImportStixBundle) per
    /// organisation, against the same cap: each may hold `max_unacknowledged` items.
    pub intake_streams: OpenStreams,
    /// Where each open feed stands, for the feed-lag gauges.
    pub feed_lag: crate::metrics::FeedLag,
    /// Feed pages read at once on this replica, all subscriptions together: woken by the
    /// same commit, thousands of feeds would otherwise queue every other caller behind them
    /// for the database's connections.
    pub feed_reads: Arc<tokio::sync::Semaphore>,
}

/// Feed pages read at once: half of SQLite's pool (8), a quarter of PostgreSQL's (16).
pub const FEED_READERS: usize = 4;

/// How many ready items the reader validates and queues at once.
const READ_CHUNK: usize = 512;
/// Feeds look for other replicas' commits this often (this replica's wake them at once).
/// Feeds wake at commit (locally, and through LISTEN from other replicas); this fallback
/// re-read only bounds a missed wake-up, so idle feeds cost next to nothing.
const FEED_POLL: Duration = Duration::from_secs(2);

fn reader(caller: &Caller) -> Reader {
    caller.reader()
}

impl ThreatApi {
    fn item(
        &self,
        caller: &Caller,
        table: &RoutingTable,
        submission: crate::domain::threat::Submission,
    ) -> IngestItem {
        crate::intake::item(caller, table, submission)
    }
}

impl From<ChangeTlpError> for Status {
    fn from(e: ChangeTlpError) -> Status {
        match e {
            ChangeTlpError::NotFound { .. } => Status::not_found(e.to_string()),
            ChangeTlpError::NotTheReporter => Status::permission_denied(e.to_string()),
            ChangeTlpError::Storage(s) => internal(s),
        }
    }
}

#[tonic::async_trait]
impl ThreatService for ThreatApi {
    #[tracing::instrument(skip_all)]
    async fn submit_threat(
        &self,
        request: Request<pb::SubmitThreatRequest>,
    ) -> Result<Response<pb::SubmitThreatResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let submission =
            intake::validate(&req, self.clock.now()).map_err(|e| invalid(&e.field, e.reason))?;
        let id = submission.submission_id.clone();
        let table = self.router.current().await.map_err(internal)?;
        let outcome = self
            .queue
            .submit(vec![self.item(&caller, &table, submission)])
            .await
            .map_err(internal)?
            .pop()
            .ok_or_else(|| internal("intake returned no outcome"))?;
        if let IngestOutcome::Refused(r) = &outcome {
            return Err(refusal_status(r));
        }
        Ok(Response::new(pb::SubmitThreatResponse {
            ack: Some(ack(id, outcome)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn submit_threat_stream(
        &self,
        request: Request<Streaming<pb::SubmitThreatRequest>>,
    ) -> Result<Response<BoxStream<pb::SubmissionAck>>, Status> {
        let caller = Caller::from_request(&request)?;
        let slot = self.intake_streams.open(&caller.organisation_id)?;
        let acks = stream::intake(self, &caller, request.into_inner(), "message");
        Ok(Response::new(OpenStreams::held(
            slot,
            ReceiverStream::new(acks),
        )))
    }

    #[tracing::instrument(skip_all)]
    async fn submit_threat_batches(
        &self,
        request: Request<Streaming<pb::SubmitThreatBatch>>,
    ) -> Result<Response<BoxStream<pb::SubmissionAckBatch>>, Status> {
        let caller = Caller::from_request(&request)?;
        let slot = self.intake_streams.open(&caller.organisation_id)?;
        let items = request.into_inner().flat_map(|batch| {
            futures::stream::iter(match batch {
                Ok(batch) => batch.items.into_iter().map(Ok).collect(),
                Err(status) => vec![Err(status)],
            })
        });
        let acks = stream::intake(self, &caller, Box::pin(items), "item");
        Ok(Response::new(OpenStreams::held(
            slot,
            stream::batched(acks),
        )))
    }

    #[tracing::instrument(skip_all)]
    async fn get_threat(
        &self,
        request: Request<pb::GetThreatRequest>,
    ) -> Result<Response<pb::GetThreatResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let reader = reader(&caller);
        let not_found = || {
            Status::not_found(format!(
                "threat {} does not exist or is not visible to {}",
                req.threat_id, caller.organisation_id
            ))
        };
        let id = uuid::Uuid::parse_str(req.threat_id.trim())
            .map_err(|_| invalid("threat_id", "not a threat id"))?
            .to_string();
        let row = store::get_threat(&self.store, &id)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        let (size, before) = page(req.sightings_page.as_ref())?;
        let stats = store::sighting_stats(&self.store, std::slice::from_ref(&id), &reader)
            .await
            .map_err(internal)?;
        let Some(stats) = stats.get(&id).copied() else {
            return Err(not_found());
        };
        let before = (!before.is_empty()).then_some(before);
        let rows = store::visible_sightings(&self.store, &id, &reader, before.as_deref(), size)
            .await
            .map_err(internal)?;
        let next = super::next_page_token(rows.len(), size, rows.last().map(|s| s.id.as_str()));
        let sightings = rows.iter().map(view::sighting).collect();
        Ok(Response::new(pb::GetThreatResponse {
            threat: Some(view::threat(&row, stats, sightings)),
            next_sightings_page_token: next,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn search_threats(
        &self,
        request: Request<pb::SearchThreatsRequest>,
    ) -> Result<Response<pb::SearchThreatsResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let reader = reader(&caller);
        let (size, before) = page(req.page.as_ref())?;
        let category = match req.category {
            0 => None,
            c if (1..=5).contains(&c) => Some(c as i64),
            _ => return Err(invalid("category", "unknown category")),
        };
        let mut statuses = Vec::new();
        for (i, s) in req.statuses.iter().enumerate() {
            if !(1..=3).contains(s) {
                return Err(invalid(&format!("statuses[{i}]"), "unknown status"));
            }
            statuses.push(*s as i64);
        }
        let filter = ThreatFilter {
            indicators: search_keys(&req.indicator),
            category,
            seen_from: req
                .seen_from
                .as_ref()
                .map(|t| from_timestamp("seen_from", t))
                .transpose()?
                .map(to_micros),
            seen_before: req
                .seen_before
                .as_ref()
                .map(|t| from_timestamp("seen_before", t))
                .transpose()?
                .map(to_micros),
            statuses,
            before_id: (!before.is_empty()).then_some(before),
        };
        let rows = store::search(&self.store, &filter, &reader, size)
            .await
            .map_err(internal)?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let stats = store::sighting_stats(&self.store, &ids, &reader)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::SearchThreatsResponse {
            next_page_token: super::next_page_token(
                rows.len(),
                size,
                rows.last().map(|r| r.id.as_str()),
            ),
            threats: rows
                .iter()
                .map(|r| view::threat(r, stats.get(&r.id).copied().unwrap_or_default(), Vec::new()))
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn subscribe_feed(
        &self,
        request: Request<pb::SubscribeFeedRequest>,
    ) -> Result<Response<BoxStream<pb::FeedEvent>>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let mut position = match (req.cursor.as_str(), req.from_now) {
            ("", true) => store::feed_head(&self.store).await.map_err(internal)?,
            ("", false) => 0,
            (c, _) => view::decode_cursor(c)
                .ok_or_else(|| invalid("cursor", "not a cursor this server issued"))?,
        };
        let mut categories = Vec::new();
        for (i, c) in req.categories.iter().enumerate() {
            if !(1..=5).contains(c) {
                return Err(invalid(&format!("categories[{i}]"), "unknown category"));
            }
            categories.push(*c as i64);
        }
        let slot = self.open_feeds.open(&caller.organisation_id)?;
        let start = view::encode_cursor(position);
        let api = ThreatApi {
            store: self.store.clone(),
            clock: self.clock.clone(),
            queue: self.queue.clone(),
            router: self.router.clone(),
            feed: self.feed.clone(),
            open_feeds: self.open_feeds.clone(),
            intake_streams: self.intake_streams.clone(),
            feed_lag: self.feed_lag.clone(),
            feed_reads: self.feed_reads.clone(),
        };
        let page_size = self.open_feeds.limits().feed_page;
        let reader = reader(&caller);
        let committed = self.queue.committed();
        let subscription = self.feed.subscribe("feed");
        let stream = async_stream::try_stream! {
            loop {
                let woken = committed.notified();
                let elsewhere = subscription.notified();
                let permit = api.feed_reads.acquire().await.map_err(internal)?;
                let rows = store::feed_after(&api.store, position, page_size).await.map_err(internal)?;
                if rows.is_empty() {
                    drop(permit);
                    tokio::select! {
                        _ = woken => {}
                        _ = elsewhere => {}
                        _ = tokio::time::sleep(FEED_POLL) => {}
                    }
                    continue;
                }
                let last = rows.last().map(|r| r.position).unwrap_or(position);
                let events = api.visible_events(&reader, &categories, rows).await?;
                drop(permit);
                let sent_any = !events.is_empty();
                for e in events {
                    yield e;
                }
                position = last;
                if !sent_any {
                    yield pb::FeedEvent {
                        cursor: view::encode_cursor(last),
                        event: Some(pb::feed_event::Event::Heartbeat(pb::FeedHeartbeat {})),
                        ..Default::default()
                    };
                }
            }
        };
        // The lag is counted from what the transport took, the client's side of the buffer.
        let tracked = self.feed_lag.track(position);
        let paced = self.open_feeds.paced(slot, start, stream).map(move |item| {
            if let Ok(event) = &item
                && let Some(at) = view::decode_cursor(&event.cursor)
            {
                tracked.delivered(at);
            }
            item
        });
        Ok(Response::new(Box::pin(paced)))
    }

    #[tracing::instrument(skip_all)]
    async fn import_stix_bundle(
        &self,
        request: Request<Streaming<pb::ImportStixBundleRequest>>,
    ) -> Result<Response<BoxStream<pb::StixObjectResult>>, Status> {
        let caller = Caller::from_request(&request)?;
        // Held while the bundle is read, and then while its results are sent.
        let slot = self.intake_streams.open(&caller.organisation_id)?;
        let results = self.import_stix(request).await?.into_inner();
        Ok(Response::new(OpenStreams::held(slot, results)))
    }

    #[tracing::instrument(skip_all)]
    async fn set_stix_import_defaults(
        &self,
        request: Request<pb::SetStixImportDefaultsRequest>,
    ) -> Result<Response<pb::StixImportDefaultsResponse>, Status> {
        self.set_stix_defaults(request).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_stix_import_defaults(
        &self,
        request: Request<pb::GetStixImportDefaultsRequest>,
    ) -> Result<Response<pb::StixImportDefaultsResponse>, Status> {
        self.get_stix_defaults(request).await
    }

    #[tracing::instrument(skip_all)]
    async fn export_stix(
        &self,
        request: Request<pb::ExportStixRequest>,
    ) -> Result<Response<BoxStream<pb::StixBundle>>, Status> {
        self.export_stix_bundles(request).await
    }

    #[tracing::instrument(skip_all)]
    async fn change_sighting_tlp(
        &self,
        request: Request<pb::ChangeSightingTlpRequest>,
    ) -> Result<Response<pb::ChangeSightingTlpResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let new = match pb::Tlp::try_from(req.tlp)
            .ok()
            .and_then(|t| Tlp::from_i64(t as i64))
        {
            Some(t) => t,
            None => {
                return Err(invalid(
                    "tlp",
                    "required: CLEAR, GREEN, AMBER, AMBER+STRICT or RED",
                ));
            }
        };
        let reason = req.reason.trim();
        if reason.is_empty() {
            return Err(invalid(
                "reason",
                "a reason is required; it goes into the audit log",
            ));
        }
        let sighting_id = uuid::Uuid::parse_str(req.sighting_id.trim())
            .map_err(|_| invalid("sighting_id", "not a sighting id"))?
            .to_string();
        let command = ChangeSightingTlp {
            sighting_id,
            tlp: new,
            reason: reason.to_owned(),
        };
        let updated =
            tlp::change_sighting_tlp(&self.store, &caller, command, self.clock.now()).await?;
        self.queue.committed().notify_waiters();
        Ok(Response::new(pb::ChangeSightingTlpResponse {
            sighting: Some(view::sighting(&updated)),
        }))
    }
}

/// What a search for `raw` matches: its normalised forms under every kind it parses as.
fn search_keys(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Vec::new();
    }
    let mut keys = vec![raw.to_owned()];
    let mut add = |kind: &str, v: Option<String>| {
        if let Some(v) = v {
            keys.push(format!("{kind}:{v}"));
            keys.push(v);
        }
    };
    add("ip", indicator::ip(raw).ok());
    add("domain", indicator::domain(raw).ok());
    add("url", indicator::url(raw).ok());
    add("email", indicator::email(raw).ok());
    add("phone", indicator::phone(raw).ok());
    if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        add("sha256", Some(raw.to_ascii_lowercase()));
    }
    keys.sort();
    keys.dedup();
    keys
}
