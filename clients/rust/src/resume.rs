//! Server streams that survive a disconnect: each reopens from the cursor of the last item it
//! handed out, so the caller sees every item once, in order, across server restarts.
//!
//! The feed, the notice stream, the appeal watch and the audit follow are resumable from an
//! item's cursor (proto: `SubscribeFeedRequest.cursor`, `SubscribeNoticesRequest.cursor`,
//! `WatchAppealRequest.cursor`, `StreamAuditRequest.after_seq`). A [`Subscription`] remembers
//! the cursor of the last item it yielded. When the stream breaks (the server restarts, the
//! connection drops: UNAVAILABLE or a transport error; or the server drops a slow reader:
//! RESOURCE_EXHAUSTED with reason `SLOW_READER`) or the server ends it, it reopens from there
//! after a back-off: exponential, capped and jittered, reset by the next item. Any other status
//! (PERMISSION_DENIED for a disabled organisation or a revoked certificate, INVALID_ARGUMENT
//! for a bad cursor, NOT_FOUND, UNAUTHENTICATED…) ends the subscription with that status: the
//! server means it. The same rules as the Python SDK's `fenghuo.Subscription`.
//!
//! ```no_run
//! # async fn demo(client: fenghuo_client::Client) -> Result<(), tonic::Status> {
//! let mut notices = client.follow_notices(None);
//! while let Some(delivery) = notices.next().await {
//!     let delivery = delivery?;
//!     // … act on delivery.notice, then store notices.cursor() to resume in another process.
//! }
//! # Ok(()) }
//! ```

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::time::{Duration, Instant};

use tonic::codec::Streaming;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::pb;

/// `ErrorInfo.reason` of the status that ends a stream whose reader fell behind; resuming from
/// the last item read loses nothing (proto: the `SubscribeFeed` comment).
pub const SLOW_READER: &str = "SLOW_READER";

/// How many de-duplication keys a subscription remembers (the oldest are forgotten).
const SEEN_CAP: usize = 100_000;

/// An item that names where a resumed stream continues.
pub trait Cursored {
    /// The cursor to resume after this item (empty: the item does not move it).
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
    /// `StreamAuditRequest.after_seq`, in decimal.
    fn cursor(&self) -> String {
        self.seq.to_string()
    }
}

/// When to reopen, and how long to wait.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// The first wait after a break; also the wait after the server ended a stream.
    pub initial: Duration,
    /// The longest wait: the doubling stops here.
    pub max: Duration,
    /// Give up (ending with the last error) once the stream has stayed broken this long;
    /// `None`: never.
    pub retry_for: Option<Duration>,
}

impl Default for Backoff {
    /// 100 ms doubling to 5 s, for at most 5 minutes of failures in a row (the Python SDK's).
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            retry_for: Some(Duration::from_secs(300)),
        }
    }
}

/// Whether a stream that ended with `status` is worth reopening from its cursor: the server
/// or the network went away, or the server dropped a slow reader. Everything else is an
/// answer (PERMISSION_DENIED, INVALID_ARGUMENT, NOT_FOUND, UNAUTHENTICATED…).
pub fn is_resumable(status: &Status) -> bool {
    if status.code() == Code::Unavailable {
        return true;
    }
    // A status made on this side from a transport failure (a reset connection, an h2 error)
    // carries that failure as its source; one the server sent never does.
    if std::error::Error::source(status).is_some() && status.code() != Code::Cancelled {
        return true;
    }
    status.code() == Code::ResourceExhausted
        && status
            .get_error_details()
            .error_info()
            .is_some_and(|info| info.reason == SLOW_READER)
}

type OpenFuture<T> = Pin<Box<dyn Future<Output = Result<Streaming<T>, Status>> + Send>>;
type Open<T> = Box<dyn FnMut(String) -> OpenFuture<T> + Send>;
type Predicate<T> = Box<dyn Fn(&T) -> bool + Send>;
type Key<T> = Box<dyn Fn(&T) -> Option<String> + Send>;

/// A resumable server stream. [`Subscription::next`] yields items (in the server's order, each
/// once) until a permanent error, which it yields as `Some(Err(status))` before `None`; it
/// never ends by itself otherwise. [`Subscription::cursor`] is where it would resume: store it
/// once an item is processed to resume in another process later.
pub struct Subscription<T> {
    open: Open<T>,
    cursor: String,
    stream: Option<Streaming<T>>,
    backoff: Backoff,
    skip: Option<Predicate<T>>,
    dedup: Option<Key<T>>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    reconnects: u64,
    ended: bool,
}

impl<T: Cursored + Send + 'static> Subscription<T> {
    /// A subscription that opens its stream with `open(cursor)`, first from `cursor`.
    pub fn new<F, Fut>(cursor: impl Into<String>, mut open: F) -> Self
    where
        F: FnMut(String) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Streaming<T>, Status>> + Send + 'static,
    {
        Subscription {
            open: Box::new(move |cursor| Box::pin(open(cursor))),
            cursor: cursor.into(),
            stream: None,
            backoff: Backoff::default(),
            skip: None,
            dedup: None,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            reconnects: 0,
            ended: false,
        }
    }

    /// Another back-off policy.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Items for which `skip` holds move the cursor but are not yielded (feed heartbeats).
    pub fn skipping(mut self, skip: impl Fn(&T) -> bool + Send + 'static) -> Self {
        self.skip = Some(Box::new(skip));
        self
    }

    /// Yields every item, the ones [`Subscription::skipping`] would leave out included.
    pub fn without_skipping(mut self) -> Self {
        self.skip = None;
        self
    }

    /// Items whose key this subscription has yielded already are not yielded again (for
    /// streams delivered at least once, like notices by `notice_id`; `None`: always yielded).
    pub fn deduplicated_by(mut self, key: impl Fn(&T) -> Option<String> + Send + 'static) -> Self {
        self.dedup = Some(Box::new(key));
        self
    }

    /// The cursor of the last item received: where the subscription would resume.
    pub fn cursor(&self) -> &str {
        &self.cursor
    }

    /// How many times the stream was reopened after a break or an end.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// The next item; `Some(Err(status))` once for a permanent error (or after
    /// [`Backoff::retry_for`] of failures), then `None`.
    pub async fn next(&mut self) -> Option<Result<T, Status>> {
        let mut broken_since: Option<Instant> = None;
        let mut wait = self.backoff.initial;
        loop {
            if self.ended {
                return None;
            }
            let outcome = match self.stream.as_mut() {
                Some(stream) => stream.message().await,
                None => match (self.open)(self.cursor.clone()).await {
                    Ok(stream) => {
                        self.stream = Some(stream);
                        continue;
                    }
                    Err(status) => Err(status),
                },
            };
            let error = match outcome {
                Ok(Some(item)) => {
                    let cursor = item.cursor();
                    if !cursor.is_empty() {
                        self.cursor = cursor;
                    }
                    if self.skip.as_ref().is_some_and(|skip| skip(&item)) || !self.fresh(&item) {
                        continue;
                    }
                    return Some(Ok(item));
                }
                // The server ended the stream (a live stream has no end): reopen.
                Ok(None) => None,
                Err(status) => Some(status),
            };
            self.stream = None;
            let pause = match error {
                None => self.backoff.initial,
                Some(status) => {
                    if !is_resumable(&status) {
                        self.ended = true;
                        return Some(Err(status));
                    }
                    let since = *broken_since.get_or_insert_with(Instant::now);
                    if self
                        .backoff
                        .retry_for
                        .is_some_and(|limit| since.elapsed() > limit)
                    {
                        self.ended = true;
                        return Some(Err(status));
                    }
                    let pause = jittered(wait);
                    wait = (wait * 2).min(self.backoff.max);
                    pause
                }
            };
            tokio::time::sleep(pause).await;
            self.reconnects += 1;
        }
    }

    /// The subscription as a [`futures_util::Stream`], ending after a permanent error.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<T, Status>> + Send {
        futures_util::stream::unfold(self, |mut subscription| async move {
            let item = subscription.next().await?;
            Some((item, subscription))
        })
    }

    fn fresh(&mut self, item: &T) -> bool {
        let Some(key) = self.dedup.as_ref().and_then(|key| key(item)) else {
            return true;
        };
        if !self.seen.insert(key.clone()) {
            return false;
        }
        self.seen_order.push_back(key);
        if self.seen_order.len() > SEEN_CAP
            && let Some(oldest) = self.seen_order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        true
    }
}

/// Between half of `wait` and all of it, so that clients cut off together do not come back
/// together.
fn jittered(wait: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let half = wait / 2;
    half + half.mul_f64((random % 1024) as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_and_a_slow_reader_are_resumable_and_answers_are_not() {
        assert!(is_resumable(&Status::unavailable("server restarting")));
        let slow = Status::with_error_details(
            Code::ResourceExhausted,
            "slow reader",
            tonic_types::ErrorDetails::with_error_info(
                SLOW_READER,
                "fenghuo",
                [("cursor".to_owned(), "c".to_owned())],
            ),
        );
        assert!(is_resumable(&slow));
        assert!(!is_resumable(&Status::resource_exhausted(
            "already holds 32 open feeds"
        )));
        for answer in [
            Status::permission_denied("disabled"),
            Status::invalid_argument("cursor"),
            Status::not_found("appeal"),
            Status::unauthenticated("token"),
            Status::internal("a server-sent internal error"),
        ] {
            assert!(!is_resumable(&answer), "{answer:?}");
        }
    }

    #[test]
    fn a_jittered_wait_lies_between_half_and_all_of_it() {
        for _ in 0..100 {
            let pause = jittered(Duration::from_millis(400));
            assert!(pause >= Duration::from_millis(200) && pause <= Duration::from_millis(400));
        }
    }
}
