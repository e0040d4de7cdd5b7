//! ThreatService's STIX 2.1 edge: ImportStixBundle through the ordinary intake,
//! ExportStix under the ordinary visibility rule (docs/stix.md).

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::super::streams::BoxStream;
use super::super::{from_timestamp, internal, invalid};
use super::stream::broken_stream;
use super::{ThreatApi, intake, reader, refusal_field, refusal_status, view};
use crate::auth::Caller;
use crate::domain::clock::to_micros;
use crate::intake::MAX_BATCH;
use crate::pb;
use crate::stix::import::{self, Plan};
use crate::store::threats::{self as store, IngestOutcome};

/// The largest bundle an import reads: a feed's day, not a database dump.
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;
/// Sightings per exported bundle, at most and by default.
const MAX_SIGHTINGS_PER_BUNDLE: u32 = 500;

fn result(p: &import::Planned, outcome: pb::StixObjectOutcome) -> pb::StixObjectResult {
    pb::StixObjectResult {
        object_id: p.id.clone(),
        r#type: p.stix_type.clone(),
        outcome: outcome as i32,
        ..Default::default()
    }
}

fn refused(
    p: &import::Planned,
    code: tonic::Code,
    field: &str,
    reason: &str,
) -> pb::StixObjectResult {
    pb::StixObjectResult {
        refusal: Some(pb::Refusal {
            code: code as i32,
            field: field.into(),
            reason: reason.into(),
        }),
        ..result(p, pb::StixObjectOutcome::Refused)
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
        let planned = import::plan(&bundle, defaults.as_ref());

        let now = self.clock.now();
        let table = self.router.current().await.map_err(internal)?;
        let mut results: Vec<pb::StixObjectResult> = Vec::with_capacity(planned.len());
        let mut items = Vec::new();
        let mut waiting = Vec::new(); // index into `results` of each queued item
        for p in &planned {
            let answer = match &p.plan {
                Plan::Used { by } => pb::StixObjectResult {
                    used_by: by.clone(),
                    ..result(p, pb::StixObjectOutcome::Used)
                },
                Plan::Refused { field, reason } => {
                    refused(p, tonic::Code::InvalidArgument, field, reason)
                }
                Plan::Report {
                    request,
                    notes,
                    origin,
                } => {
                    let mut answer = pb::StixObjectResult {
                        submission_id: request.submission_id.clone(),
                        notes: notes.clone(),
                        ..result(p, pb::StixObjectOutcome::Unspecified)
                    };
                    // The platform's own export of the caller's own sighting, imported back:
                    // that report is stored already (nothing is stored twice).
                    if let Some((sighting_id, reporter)) = origin
                        && *reporter == caller.organisation_id
                        && let Some(row) =
                            crate::store::threats::get_sighting(&self.store, sighting_id)
                                .await
                                .map_err(internal)?
                        && row.reporter_org == caller.organisation_id
                    {
                        answer.outcome = pb::StixObjectOutcome::Replayed as i32;
                        answer.threat_id = row.threat_id;
                        answer.sighting_id = row.id;
                        answer.notes.push(
                            "this platform's export of your own sighting: already stored".into(),
                        );
                        results.push(answer);
                        continue;
                    }
                    match intake::validate(request, now) {
                        Ok(submission) => {
                            waiting.push(results.len());
                            items.push(self.item(&caller, &table, submission));
                        }
                        Err(e) => {
                            answer.outcome = pb::StixObjectOutcome::Refused as i32;
                            answer.refusal = Some(pb::Refusal {
                                code: tonic::Code::InvalidArgument as i32,
                                field: e.field,
                                reason: e.reason,
                            });
                        }
                    }
                    answer
                }
            };
            results.push(answer);
        }
        // Acknowledged only after commit: every outcome below comes from a committed batch.
        let mut waiting = waiting.into_iter();
        for chunk in items.chunks(MAX_BATCH) {
            let outcomes = self.queue.submit(chunk.to_vec()).await.map_err(internal)?;
            for outcome in outcomes {
                let Some(i) = waiting.next() else { break };
                let answer = &mut results[i];
                match outcome {
                    IngestOutcome::Stored {
                        threat_id,
                        sighting_id,
                        created_threat,
                        replayed,
                        ..
                    } => {
                        answer.outcome = if replayed {
                            pb::StixObjectOutcome::Replayed
                        } else if created_threat {
                            pb::StixObjectOutcome::Stored
                        } else {
                            pb::StixObjectOutcome::Sighting
                        } as i32;
                        answer.threat_id = threat_id;
                        answer.sighting_id = sighting_id;
                    }
                    IngestOutcome::Refused(r) => {
                        let status = refusal_status(&r);
                        answer.outcome = pb::StixObjectOutcome::Refused as i32;
                        answer.refusal = Some(pb::Refusal {
                            code: status.code() as i32,
                            field: refusal_field(&r).into(),
                            reason: status.message().into(),
                        });
                    }
                }
            }
        }
        let stream = tokio_stream::iter(results.into_iter().map(Ok));
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
            .map(to_micros)
            .unwrap_or(i64::MIN);
        let mut categories = Vec::new();
        for (i, c) in req.categories.iter().enumerate() {
            if !(1..=5).contains(c) {
                return Err(invalid(&format!("categories[{i}]"), "unknown category"));
            }
            categories.push(i64::from(*c));
        }
        let per_bundle = match req.max_sightings_per_bundle {
            0 => MAX_SIGHTINGS_PER_BUNDLE,
            n if n <= MAX_SIGHTINGS_PER_BUNDLE => n,
            _ => {
                return Err(invalid(
                    "max_sightings_per_bundle",
                    "at most 500 sightings per bundle",
                ));
            }
        };
        let until = to_micros(self.clock.now()) + 1;
        let reader = reader(&caller);
        let store = self.store.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tokio::spawn(async move {
            let mut after: Option<(i64, String)> = None;
            loop {
                let page = async {
                    let rows = store::visible_sightings_received(
                        &store,
                        &reader,
                        (from, until),
                        &categories,
                        after.as_ref().map(|(t, id)| (*t, id.as_str())),
                        per_bundle,
                    )
                    .await?;
                    let mut threat_ids: Vec<String> =
                        rows.iter().map(|r| r.threat_id.clone()).collect();
                    threat_ids.sort();
                    threat_ids.dedup();
                    let threats = store::threats_by_id(&store, &threat_ids).await?;
                    Ok::<_, sqlx::Error>((rows, threats))
                };
                let (rows, threats) = match page.await {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(internal(e))).await;
                        return;
                    }
                };
                let Some(last) = rows.last() else { return };
                after = Some((last.received_at, last.id.clone()));
                let sightings: Vec<(pb::Sighting, pb::Threat)> = rows
                    .iter()
                    .filter_map(|r| {
                        let t = threats.get(&r.threat_id)?;
                        Some((
                            view::sighting(r),
                            view::threat(t, Default::default(), Vec::new()),
                        ))
                    })
                    .collect();
                let bundle = crate::stix::export::bundle(&sightings);
                let msg = pb::StixBundle {
                    json: bundle.to_string(),
                    sighting_count: sightings.len() as u32,
                };
                let full = rows.len() as u32 == per_bundle;
                if tx.send(Ok(msg)).await.is_err() || !full {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
