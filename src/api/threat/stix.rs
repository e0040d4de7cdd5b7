//! ThreatService's STIX 2.1 edge: converts ImportStixBundle and ExportStix to and from the
//! workflows of `crate::stix::service`, which TAXII calls too (docs/stix.md).

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::super::streams::BoxStream;
use super::super::{from_timestamp, internal, invalid, timestamp};
use super::stream::broken_stream;
use super::{ThreatApi, refusal_status};
use crate::auth::Caller;
use crate::domain::clock::to_micros;
use crate::pb;
use crate::stix::import;
use crate::stix::service::{
    self, ExportError, ExportQuery, ImportDefaults, MAX_BUNDLE_BYTES, ObjectRefusal, ObjectResult,
    Outcome,
};

fn result(r: ObjectResult) -> pb::StixObjectResult {
    use pb::StixObjectOutcome as O;
    let refusal = r.refusal.map(|refusal| match refusal {
        ObjectRefusal::Invalid { field, reason } => pb::Refusal {
            code: tonic::Code::InvalidArgument as i32,
            field,
            reason,
        },
        ObjectRefusal::Stored(stored) => {
            let status = refusal_status(&stored);
            pb::Refusal {
                code: status.code() as i32,
                field: stored.field().into(),
                reason: status.message().into(),
            }
        }
    });
    pb::StixObjectResult {
        object_id: r.object_id,
        r#type: r.stix_type,
        outcome: match r.outcome {
            Outcome::Stored => O::Stored,
            Outcome::Sighting => O::Sighting,
            Outcome::Replayed => O::Replayed,
            Outcome::Used => O::Used,
            Outcome::Refused => O::Refused,
        } as i32,
        threat_id: r.threat_id,
        sighting_id: r.sighting_id,
        submission_id: r.submission_id,
        used_by: r.used_by,
        refusal,
        notes: r.notes,
    }
}

impl From<ExportError> for Status {
    fn from(e: ExportError) -> Status {
        match e {
            ExportError::UnknownCategory { index } => {
                invalid(&format!("categories[{index}]"), "unknown category")
            }
            ExportError::TooManySightings => invalid(
                "max_sightings_per_bundle",
                "at most 500 sightings per bundle",
            ),
        }
    }
}

impl ThreatApi {
    pub(super) async fn import_stix(
        &self,
        request: Request<Streaming<pb::ImportStixBundleRequest>>,
    ) -> Result<Response<BoxStream<pb::StixObjectResult>>, Status> {
        let caller = Caller::from_request(&request)?;
        let mut inbound = request.into_inner();
        let (mut text, mut defaults, mut read) = (Vec::new(), None, 0u64);
        loop {
            let msg = match inbound.message().await {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(status) => return Err(broken_stream("message", read + 1, &status)),
            };
            read += 1;
            if read == 1 {
                defaults = msg.defaults;
            }
            if text.len() + msg.chunk.len() > MAX_BUNDLE_BYTES {
                return Err(invalid(
                    "chunk",
                    "the bundle is larger than 64 MiB: split it into several bundles",
                ));
            }
            text.extend_from_slice(&msg.chunk);
        }
        let bundle = import::parse(&text).map_err(|e| invalid("chunk", e.to_string()))?;
        // Without defaults in the call, the organisation's stored ones (TAXII's too).
        if defaults.is_none() {
            defaults = service::stored_defaults(&self.store, &caller.organisation_id)
                .await
                .map_err(internal)?
                .map(|(d, _)| d);
        }
        let services = service::Services {
            store: &self.store,
            clock: &self.clock,
            queue: &self.queue,
            router: &self.router,
        };
        let results = service::import_bundle(services, &caller, &bundle, defaults.as_ref())
            .await
            .map_err(internal)?;
        let stream = tokio_stream::iter(results.into_iter().map(|r| Ok(result(r))));
        Ok(Response::new(Box::pin(stream)))
    }

    pub(super) async fn export_stix_bundles(
        &self,
        request: Request<pb::ExportStixRequest>,
    ) -> Result<Response<BoxStream<pb::StixBundle>>, Status> {
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        let from = req
            .since
            .as_ref()
            .map(|t| from_timestamp("since", t))
            .transpose()?
            .map(to_micros);
        let query = ExportQuery::new(from, &req.categories, req.max_sightings_per_bundle)?;
        let until = to_micros(self.clock.now()) + 1;
        let reader = caller.reader();
        // Ordered measures follow ListNotices's rule, not ExportStix's.
        let notices = service::notice_reader_of(&caller);
        let store = self.store.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tokio::spawn(async move {
            let mut after: Option<(i64, String)> = None;
            loop {
                let page = match service::export_page(
                    &store,
                    &reader,
                    &query,
                    until,
                    after.as_ref(),
                )
                .await
                {
                    Ok(Some(p)) => p,
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(internal(e))).await;
                        return;
                    }
                };
                let msg = pb::StixBundle {
                    json: page.bundle.to_string(),
                    sighting_count: page.sightings,
                    measure_count: 0,
                };
                if tx.send(Ok(msg)).await.is_err() {
                    return;
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            // Then the ordered measures, after the reports they mitigate.
            let Some(notices) = notices else { return };
            let mut from = 0;
            loop {
                let page = match service::export_measures_page(
                    &store, &reader, &notices, &query, until, from,
                )
                .await
                {
                    Ok(Some(p)) => p,
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(internal(e))).await;
                        return;
                    }
                };
                let msg = pb::StixBundle {
                    json: page.bundle.to_string(),
                    sighting_count: 0,
                    measure_count: page.measures,
                };
                if tx.send(Ok(msg)).await.is_err() {
                    return;
                }
                match page.next {
                    Some(next) => from = next,
                    None => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

impl ThreatApi {
    pub(super) async fn set_stix_defaults(
        &self,
        request: Request<pb::SetStixImportDefaultsRequest>,
    ) -> Result<Response<pb::StixImportDefaultsResponse>, Status> {
        use prost::Message as _;
        use sha2::Digest as _;
        let caller = Caller::from_request(&request)?;
        let req = request.into_inner();
        if req.clear {
            if req.defaults.is_some() {
                return Err(invalid(
                    "defaults",
                    "unset when clear is true: clearing removes the stored defaults",
                ));
            }
            let now = self.clock.now();
            crate::store::taxii::clear_import_defaults(
                &self.store,
                &caller.actor(),
                now,
                &caller.organisation_id,
            )
            .await
            .map_err(internal)?;
            return Ok(Response::new(pb::StixImportDefaultsResponse {
                defaults: None,
                updated_at: Some(timestamp(to_micros(now))),
                organisation_id: caller.organisation_id,
            }));
        }
        let defaults =
            ImportDefaults::parse(req.defaults).map_err(|e| invalid(&e.field, e.reason))?;
        let d = defaults.get();
        let bytes = d.encode_to_vec();
        let now = self.clock.now();
        let details = serde_json::json!({
            "information": match d.information {
                Some(pb::stix_import_defaults::Information::Event(_)) => "event",
                _ => "warning",
            },
            "kind": d.kind,
            "tlp": d.tlp,
            "sha256": hex::encode(sha2::Sha256::digest(&bytes)),
        });
        crate::store::taxii::set_import_defaults(
            &self.store,
            &caller.actor(),
            now,
            &caller.organisation_id,
            &bytes,
            details,
        )
        .await
        .map_err(internal)?;
        Ok(Response::new(pb::StixImportDefaultsResponse {
            defaults: Some(d.clone()),
            updated_at: Some(timestamp(to_micros(now))),
            organisation_id: caller.organisation_id,
        }))
    }

    pub(super) async fn get_stix_defaults(
        &self,
        request: Request<pb::GetStixImportDefaultsRequest>,
    ) -> Result<Response<pb::StixImportDefaultsResponse>, Status> {
        let caller = Caller::from_request(&request)?;
        let (defaults, at) = service::stored_defaults(&self.store, &caller.organisation_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                Status::not_found(format!(
                    "{} has stored no STIX import defaults: SetStixImportDefaults stores them",
                    caller.organisation_id
                ))
            })?;
        Ok(Response::new(pb::StixImportDefaultsResponse {
            defaults: Some(defaults),
            updated_at: Some(timestamp(at)),
            organisation_id: caller.organisation_id,
        }))
    }
}
