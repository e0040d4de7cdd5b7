//! The bulk intake stream behind `SubmitThreatStream` (one item per message) and
//! `SubmitThreatBatches` (several): validate what is ready, queue it within the unacknowledged
//! window, acknowledge each item once its batch is committed.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::{READ_CHUNK, ThreatApi, ack, refused};
use crate::api::{internal, invalid};
use crate::auth::Caller;
use crate::domain::routing::RoutingTable;
use crate::intake::report as intake;
use crate::pb;
use crate::store::threats::IngestOutcome;

/// What the stream's reader hands its forwarder, in order: a queued batch to acknowledge once
/// committed, or the status the stream ends with after the acknowledgements before it.
enum StreamStep {
    Batch(
        Vec<String>,
        tokio::sync::oneshot::Receiver<Result<Vec<IngestOutcome>, crate::intake::IntakeError>>,
        tokio::sync::OwnedSemaphorePermit,
    ),
    End(Status),
}

/// The status a stream ends with when its `n`th message or item (`unit`, from 1) could not be read.
pub(super) fn broken_stream(unit: &str, n: u64, cause: &Status) -> Status {
    let message = format!(
        "{unit} {n} of the stream could not be read ({}): the items acknowledged before this status are stored; nothing from {unit} {n} on was read, so resend every unacknowledged item",
        cause.message()
    );
    match cause.code() {
        tonic::Code::Internal | tonic::Code::InvalidArgument | tonic::Code::Unknown => {
            Status::invalid_argument(message)
        }
        code => Status::new(code, message),
    }
}

/// Reads `inbound` (items in order; an error ends it) and returns the acknowledgements: one
/// per item, then the status the stream ends with, if any. `unit` names what `inbound`'s
/// positions count in a broken stream's message ("message", "item").
pub(super) fn intake(
    api: &ThreatApi,
    caller: &Caller,
    inbound: impl Stream<Item = Result<pb::SubmitThreatRequest, Status>> + Send + Unpin + 'static,
    unit: &'static str,
) -> mpsc::Receiver<Result<pb::SubmissionAck, Status>> {
    let (out, out_rx) = mpsc::channel::<Result<pb::SubmissionAck, Status>>(READ_CHUNK);
    let (pending, mut pending_rx) = mpsc::channel(64);
    let unacked = api.intake_streams.limits().max_unacknowledged;
    let window = Arc::new(Semaphore::new(unacked));
    let (clock, queue, acks) = (api.clock.clone(), api.queue.clone(), out.clone());
    let router = api.router.clone();
    let item_of = {
        let caller = caller.clone();
        move |table: &RoutingTable, submission| crate::intake::item(&caller, table, submission)
    };
    // Reader: validate what is ready, queue it, within the unacknowledged window. A stream
    // that breaks (an undecodable message, a failure here) ends with an error status after
    // the acknowledgements of everything queued before it: never OK with items unaccounted.
    tokio::spawn(async move {
        // A chunk never asks the window for more than it holds.
        let mut chunks = inbound.ready_chunks(READ_CHUNK.min(unacked));
        let mut read = 0u64;
        'read: while let Some(chunk) = chunks.next().await {
            let now = clock.now();
            let table = match router.current().await {
                Ok(t) => t,
                Err(e) => {
                    let _ = pending.send(StreamStep::End(internal(e))).await;
                    break;
                }
            };
            let (mut items, mut ids) = (Vec::new(), Vec::new());
            let mut broken = None;
            for msg in chunk {
                read += 1;
                let req = match msg {
                    Ok(req) => req,
                    Err(status) => {
                        broken = Some(broken_stream(unit, read, &status));
                        break;
                    }
                };
                match intake::validate(&req, now) {
                    Ok(s) => {
                        ids.push(s.submission_id.clone());
                        items.push(item_of(&table, s));
                    }
                    Err(e) => {
                        let status = invalid(&e.field, e.reason);
                        if out
                            .send(Ok(refused(req.submission_id, &status, &e.field)))
                            .await
                            .is_err()
                        {
                            break 'read;
                        }
                    }
                }
            }
            if !items.is_empty() {
                let Ok(permit) = window.clone().acquire_many_owned(items.len() as u32).await else {
                    break;
                };
                match queue.enqueue(items).await {
                    Ok(reply) => {
                        if pending
                            .send(StreamStep::Batch(ids, reply, permit))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = pending
                            .send(StreamStep::End(Status::unavailable(e.to_string())))
                            .await;
                        break;
                    }
                }
            }
            if let Some(status) = broken {
                let _ = pending.send(StreamStep::End(status)).await;
                break 'read;
            }
        }
    });
    // Forwarder: acknowledge each batch once committed, in queue order.
    tokio::spawn(async move {
        while let Some(step) = pending_rx.recv().await {
            let (ids, reply, permit) = match step {
                StreamStep::Batch(ids, reply, permit) => (ids, reply, permit),
                StreamStep::End(status) => {
                    let _ = acks.send(Err(status)).await;
                    return;
                }
            };
            let outcomes = match reply.await {
                Ok(Ok(o)) => o,
                Ok(Err(e)) => {
                    let _ = acks.send(Err(internal(e))).await;
                    return;
                }
                Err(_) => {
                    let _ = acks
                        .send(Err(Status::unavailable(
                            "the server is shutting down; resend unacknowledged items",
                        )))
                        .await;
                    return;
                }
            };
            for (id, outcome) in ids.into_iter().zip(outcomes) {
                if acks.send(Ok(ack(id, outcome))).await.is_err() {
                    return;
                }
            }
            drop(permit);
        }
    });
    out_rx
}

/// The acknowledgements as they come, grouped into batches of those ready together; a status
/// ends the stream after the batch of the acknowledgements before it.
pub(super) fn batched(
    acks: mpsc::Receiver<Result<pb::SubmissionAck, Status>>,
) -> impl Stream<Item = Result<pb::SubmissionAckBatch, Status>> + Send + 'static {
    ReceiverStream::new(acks)
        .ready_chunks(READ_CHUNK)
        .flat_map(|chunk| {
            let mut out = Vec::new();
            let mut acks = Vec::new();
            for item in chunk {
                match item {
                    Ok(ack) => acks.push(ack),
                    Err(status) => {
                        if !acks.is_empty() {
                            out.push(Ok(pb::SubmissionAckBatch {
                                acks: std::mem::take(&mut acks),
                            }));
                        }
                        out.push(Err(status));
                    }
                }
            }
            if !acks.is_empty() {
                out.push(Ok(pb::SubmissionAckBatch { acks }));
            }
            futures::stream::iter(out)
        })
}
