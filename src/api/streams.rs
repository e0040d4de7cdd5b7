//! Server streams against hostile and slow clients (issue #18): a cap on the streams of
//! each kind one organisation holds open, and an end for streams whose reader stopped.
//!
//! A stream's items are made by a task of their own into a buffer of `[streams] buffer` items; the
//! transport takes from the buffer only when the client has made room (HTTP/2 flow control).
//! When the buffer stays full for the configured stall, the task stops (freeing its batch,
//! its wake-up and its place under the cap), the buffer is emptied, and the client, once it
//! reads again, receives every item the transport took and then RESOURCE_EXHAUSTED naming
//! the cursor of the last of them: resuming there replays everything after it.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::Instrument;

use crate::config::StreamLimits;
use crate::pb;

/// `ErrorInfo.reason` of the status that ends a stalled stream; `metadata["cursor"]` is the
/// cursor to resume from.
pub const SLOW_READER: &str = "SLOW_READER";

pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// An item that names where a resumed stream continues.
pub trait Cursored {
    fn cursor(&self) -> String;
}

impl Cursored for pb::FeedEvent {
    fn cursor(&self) -> String {
        self.cursor.clone()
    }
}

impl Cursored for pb::NoticeDelivery {
    fn cursor(&self) -> String {
        self.cursor.clone()
    }
}

impl Cursored for pb::AppealEvent {
    fn cursor(&self) -> String {
        self.cursor.clone()
    }
}

impl Cursored for pb::AuditRecord {
    /// Resumed with `after_seq`.
    fn cursor(&self) -> String {
        self.seq.to_string()
    }
}

/// The open streams of one kind, per organisation on this server.
#[derive(Clone)]
pub struct OpenStreams {
    /// Plural, for messages ("feeds", "notice streams").
    kind: &'static str,
    limits: StreamLimits,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open stream's place under the cap; given back when its producing task ends.
pub struct Slot {
    open: Arc<Mutex<HashMap<String, usize>>>,
    org: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.open.lock().expect("open streams lock");
        if let Some(n) = map.get_mut(&self.org) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.org);
            }
        }
    }
}

impl OpenStreams {
    pub fn new(kind: &'static str, limits: StreamLimits) -> Self {
        OpenStreams {
            kind,
            limits,
            open: Arc::default(),
        }
    }

    /// The limits these streams run under.
    pub fn limits(&self) -> StreamLimits {
        self.limits
    }

    /// `stream`, holding `slot` until the transport drops it (ended, or the client left):
    /// for streams that need no pacing, such as the intake streams' acknowledgements.
    pub fn held<T, S>(slot: Slot, stream: S) -> BoxStream<T>
    where
        T: Send + 'static,
        S: Stream<Item = Result<T, Status>> + Send + 'static,
    {
        Box::pin(stream.map(move |item| {
            let _place = &slot;
            item
        }))
    }

    /// A place for one more stream of `org`.
    ///
    /// # Errors
    /// RESOURCE_EXHAUSTED when `org` already holds the cap.
    pub fn open(&self, org: &str) -> Result<Slot, Status> {
        let cap = self.limits.max_per_organisation;
        let mut map = self.open.lock().expect("open streams lock");
        let n = map.entry(org.to_owned()).or_default();
        if *n >= cap {
            return Err(Status::resource_exhausted(format!(
                "organisation {org} already holds {cap} open {} on this server (the cap per organisation); close one, then resume from its last cursor",
                self.kind
            )));
        }
        *n += 1;
        Ok(Slot {
            open: self.open.clone(),
            org: org.to_owned(),
        })
    }

    /// `source` paced by its reader: see the module comment. `start` is the cursor the stream
    /// was opened with (empty for none), named when nothing was delivered before a stall.
    pub fn paced<T, S>(&self, slot: Slot, start: String, source: S) -> BoxStream<T>
    where
        T: Cursored + Send + 'static,
        S: Stream<Item = Result<T, Status>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(self.limits.buffer);
        let shared = Arc::new(Mutex::new(Buffer {
            rx: Some(rx),
            stalled: false,
        }));
        let stall = self.limits.slow_reader_stall;
        tokio::spawn(produce(slot, source, tx, shared.clone(), stall).in_current_span());
        Box::pin(Paced {
            shared,
            last_cursor: start,
            stall,
            kind: self.kind,
            done: false,
        })
    }
}

/// Made items waiting for the transport; emptied when the reader stalls.
struct Buffer<T> {
    rx: Option<mpsc::Receiver<Result<T, Status>>>,
    stalled: bool,
}

async fn produce<T, S>(
    slot: Slot,
    source: S,
    tx: mpsc::Sender<Result<T, Status>>,
    shared: Arc<Mutex<Buffer<T>>>,
    stall: Duration,
) where
    S: Stream<Item = Result<T, Status>> + Send,
{
    let _slot = slot;
    let mut source = std::pin::pin!(source);
    loop {
        let item = tokio::select! {
            // The client went away (or the stream was dropped) while the source was idle.
            _ = tx.closed() => return,
            item = source.next() => item,
        };
        let Some(item) = item else { return };
        let last = item.is_err();
        match tokio::time::timeout(stall, tx.reserve()).await {
            Ok(Ok(permit)) => permit.send(item),
            Ok(Err(_)) => return,
            Err(_) => {
                let waiting = {
                    let mut buffer = shared.lock().expect("stream buffer lock");
                    buffer.stalled = true;
                    buffer.rx.take()
                };
                // Dropped outside the lock: what the client never took.
                drop(waiting);
                tracing::info!(?stall, "ended a stream whose reader stalled");
                return;
            }
        }
        if last {
            return;
        }
    }
}

/// What the transport polls: the buffer's items, remembering the last cursor handed over.
struct Paced<T> {
    shared: Arc<Mutex<Buffer<T>>>,
    last_cursor: String,
    stall: Duration,
    kind: &'static str,
    done: bool,
}

impl<T: Cursored> Paced<T> {
    fn stalled(&self) -> Status {
        let resume = if self.last_cursor.is_empty() {
            "nothing was delivered on this stream: open it again as before (no cursor)".to_owned()
        } else {
            format!(
                "resume with cursor {:?}, the last item delivered on this stream",
                self.last_cursor
            )
        };
        Status::with_error_details(
            Code::ResourceExhausted,
            format!(
                "a slow reader: the client took nothing from this stream for {:?} while the server waited to send, so the server ended it (one of the {}); {resume}",
                self.stall, self.kind
            ),
            ErrorDetails::with_error_info(
                SLOW_READER,
                "fenghuo",
                [("cursor".to_owned(), self.last_cursor.clone())],
            ),
        )
    }
}

impl<T> Drop for Paced<T> {
    /// The producer shares the buffer: closing its receiver here is what tells it the
    /// client went away.
    fn drop(&mut self) {
        let rx = self.shared.lock().map(|mut b| b.rx.take()).ok().flatten();
        drop(rx);
    }
}

impl<T: Cursored> Stream for Paced<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let polled = {
            let mut buffer = self.shared.lock().expect("stream buffer lock");
            if buffer.stalled {
                None
            } else {
                match buffer.rx.as_mut() {
                    Some(rx) => Some(rx.poll_recv(cx)),
                    None => Some(Poll::Ready(None)),
                }
            }
        };
        let item = match polled {
            None => {
                self.done = true;
                return Poll::Ready(Some(Err(self.stalled())));
            }
            Some(Poll::Pending) => return Poll::Pending,
            Some(Poll::Ready(item)) => item,
        };
        match &item {
            Some(Ok(t)) => self.last_cursor = t.cursor(),
            Some(Err(_)) | None => self.done = true,
        }
        Poll::Ready(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_secs(30);

    fn streams() -> OpenStreams {
        OpenStreams::new(
            "feeds",
            StreamLimits {
                slow_reader_stall: STALL,
                max_per_organisation: 1,
                ..StreamLimits::default()
            },
        )
    }

    fn events(n: usize) -> impl Stream<Item = Result<pb::FeedEvent, Status>> + Send {
        futures::stream::iter((0..n).map(|i| {
            Ok(pb::FeedEvent {
                cursor: format!("c{i}"),
                ..Default::default()
            })
        }))
    }

    /// Waits (on the paused clock) until `org` has a place again.
    async fn place_freed(open: &OpenStreams, org: &str) {
        for _ in 0..100 {
            if open.open(org).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the place was not freed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_takes_nothing_for_the_stall_is_told_the_last_cursor_it_took() {
        let open = streams();
        let slot = open.open("org-a").unwrap();
        let mut stream = open.paced(slot, "c-start".into(), events(100));
        for i in 0..3 {
            assert_eq!(
                stream.next().await.unwrap().unwrap().cursor,
                format!("c{i}")
            );
        }
        assert!(open.open("org-a").is_err(), "the stream holds its place");
        tokio::time::sleep(STALL * 2).await;
        let status = stream.next().await.unwrap().unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.message().contains("\"c2\""), "{status:?}");
        let info = status.get_details_error_info().unwrap();
        assert_eq!(
            (info.reason.as_str(), info.metadata["cursor"].as_str()),
            (SLOW_READER, "c2")
        );
        assert!(stream.next().await.is_none());
        // Dropped by the server: the place is free before the client lets go of the stream.
        place_freed(&open, "org-a").await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_before_anything_was_taken_names_the_starting_cursor() {
        let open = streams();
        let mut stream = open.paced(open.open("org-a").unwrap(), "c-start".into(), events(100));
        tokio::time::sleep(STALL * 2).await;
        let status = stream.next().await.unwrap().unwrap_err();
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.metadata["cursor"], "c-start");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_keeps_taking_however_slowly_receives_everything() {
        let open = streams();
        let mut stream = open.paced(open.open("org-a").unwrap(), String::new(), events(100));
        for i in 0..100 {
            tokio::time::sleep(STALL / 2).await;
            assert_eq!(
                stream.next().await.unwrap().unwrap().cursor,
                format!("c{i}")
            );
        }
        assert!(stream.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_closed_while_its_source_is_idle_frees_its_place() {
        let open = streams();
        let idle = futures::stream::pending::<Result<pb::FeedEvent, Status>>();
        let stream = open.paced(open.open("org-a").unwrap(), String::new(), idle);
        drop(stream);
        place_freed(&open, "org-a").await;
    }
}
