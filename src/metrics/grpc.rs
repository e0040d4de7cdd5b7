//! The gRPC server metrics, named as go-grpc-prometheus names them so existing dashboards work:
//! `grpc_server_started_total`, `grpc_server_handled_total{grpc_code}`,
//! `grpc_server_handling_seconds`, `grpc_server_msg_received_total`, `grpc_server_msg_sent_total`,
//! each labelled `grpc_type`, `grpc_service`, `grpc_method`.
//!
//! The layer sits outside authentication, so refused callers are counted too. A call is handled
//! when its status is known: in the response headers (a trailers-only answer) or in the trailers
//! at the end of the body, so a stream that fails after its first message counts with the code
//! it ended with, and its duration runs to its end. A body dropped before its trailers (the
//! client went away) counts as CANCELLED. Messages are counted from the gRPC length-prefixed
//! framing of the bodies, not from HTTP/2 frames, which may carry several or part of one.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Buf;
use http_body::{Body, Frame};
use metrics::{Counter, counter, histogram};
use prost::Message;

/// `grpc_type` of each method of the platform's services, from the compiled descriptors.
fn method_types() -> &'static HashMap<String, &'static str> {
    static TYPES: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut types = HashMap::new();
        let Ok(fds) = prost_types::FileDescriptorSet::decode(crate::pb::FILE_DESCRIPTOR_SET) else {
            return types;
        };
        for file in fds.file {
            for service in &file.service {
                let full = format!("{}.{}", file.package(), service.name());
                for m in &service.method {
                    let kind = match (m.client_streaming(), m.server_streaming()) {
                        (false, false) => "unary",
                        (true, false) => "client_stream",
                        (false, true) => "server_stream",
                        (true, true) => "bidi_stream",
                    };
                    types.insert(format!("/{full}/{}", m.name()), kind);
                }
            }
        }
        types
    })
}

/// The labels of one call. Unknown paths (health, reflection, a typo) keep their service and
/// method names; their type is `unknown` (reflection and health are ours but not platform RPCs).
#[derive(Clone)]
struct CallLabels {
    grpc_type: &'static str,
    service: String,
    method: String,
}

impl CallLabels {
    fn of(path: &str) -> Self {
        let grpc_type = method_types().get(path).copied().unwrap_or(match path {
            "/grpc.health.v1.Health/Check" => "unary",
            "/grpc.health.v1.Health/Watch" => "server_stream",
            _ => "unknown",
        });
        let trimmed = path.trim_start_matches('/');
        let (service, method) = trimmed.split_once('/').unwrap_or(("", trimmed));
        Self {
            grpc_type,
            service: service.to_owned(),
            method: method.to_owned(),
        }
    }

    fn labels(&self) -> [(&'static str, String); 3] {
        [
            ("grpc_type", self.grpc_type.to_owned()),
            ("grpc_service", self.service.clone()),
            ("grpc_method", self.method.clone()),
        ]
    }

    fn counter(&self, name: &'static str) -> Counter {
        counter!(name, &self.labels())
    }
}

/// Records the end of a call once, from whichever side learns its status first.
struct CallOutcome {
    labels: CallLabels,
    started: Instant,
    done: std::sync::atomic::AtomicBool,
    /// The call's `grpc` span, ended with the call (a stream's at its end, not its headers).
    span: std::sync::Mutex<Option<tracing::Span>>,
}

impl CallOutcome {
    fn finish(&self, code: tonic::Code) {
        if self.done.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let mut labels = self.labels.labels().to_vec();
        labels.push(("grpc_code", code_name(code).to_owned()));
        counter!("grpc_server_handled_total", &labels).increment(1);
        histogram!("grpc_server_handling_seconds", &self.labels.labels())
            .record(self.started.elapsed().as_secs_f64());
        let span = self.span.lock().map(|mut s| s.take()).unwrap_or(None);
        if let Some(span) = span {
            span.record("rpc.grpc.status_code", code as i32);
            if code != tonic::Code::Ok {
                span.record("otel.status_code", "ERROR");
            }
        }
    }
}

/// go-grpc-prometheus spells codes in CamelCase (`OK`, `PermissionDenied`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

fn status_in(headers: &http::HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .map(|v| tonic::Code::from_bytes(v.as_bytes()))
}

/// Counts whole gRPC messages in a body: each is a 1-byte flag, a 4-byte big-endian length
/// and that many bytes, and may span or share data frames.
#[derive(Default)]
struct MessageCounter {
    header: [u8; 5],
    header_len: usize,
    remaining: u64,
}

impl MessageCounter {
    /// The number of messages whose header completed in `data`.
    fn feed(&mut self, mut data: &[u8]) -> u64 {
        let mut started = 0;
        while !data.is_empty() {
            if self.remaining > 0 {
                let skip = (self.remaining as usize).min(data.len());
                self.remaining -= skip as u64;
                data = &data[skip..];
                continue;
            }
            let take = (5 - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
            self.header_len += take;
            data = &data[take..];
            if self.header_len == 5 {
                let len = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]);
                self.remaining = u64::from(len);
                self.header_len = 0;
                started += 1;
            }
        }
        started
    }
}

pin_project_lite::pin_project! {
    /// A request or response body that counts the messages it carries; a response body also
    /// finishes the call from its trailers, or as CANCELLED when dropped before them.
    pub struct CountingBody<B> {
        #[pin]
        inner: B,
        messages: MessageCounter,
        counter: Counter,
        outcome: Option<Arc<CallOutcome>>,
    }

    impl<B> PinnedDrop for CountingBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(outcome) = &this.outcome {
                outcome.finish(tonic::Code::Cancelled);
            }
        }
    }
}

impl<B> Body for CountingBody<B>
where
    B: Body,
    B::Data: Buf,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = this.messages.feed(data.chunk());
                    // A frame's data may be split in several chunks only for non-contiguous
                    // buffers; tonic's are contiguous (Bytes), checked by the test's counts.
                    if n > 0 {
                        this.counter.increment(n);
                    }
                } else if let Some(trailers) = frame.trailers_ref()
                    && let Some(outcome) = this.outcome.take()
                {
                    outcome.finish(status_in(trailers).unwrap_or(tonic::Code::Unknown));
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(outcome) = this.outcome.take() {
                    outcome.finish(tonic::Code::Internal);
                }
            }
            Poll::Ready(None) => {
                // A body that ends without trailers has no status: gRPC calls it UNKNOWN.
                if let Some(outcome) = this.outcome.take() {
                    outcome.finish(tonic::Code::Unknown);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The tower layer; see the module's documentation.
#[derive(Clone, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

impl<S, ResBody> tower::Service<http::Request<tonic::body::Body>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ResBody: Body,
    ResBody::Data: Buf,
{
    type Response = http::Response<CountingBody<ResBody>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let labels = CallLabels::of(req.uri().path());
        labels.counter("grpc_server_started_total").increment(1);
        // The organisation is recorded by the authentication layer once the caller is known.
        let span = tracing::info_span!(
            "grpc",
            otel.name = %req.uri().path().trim_start_matches('/'),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = %labels.service,
            rpc.method = %labels.method,
            rpc.grpc.status_code = tracing::field::Empty,
            fenghuo.organisation = tracing::field::Empty,
        );
        let outcome = Arc::new(CallOutcome {
            labels: labels.clone(),
            started: Instant::now(),
            done: false.into(),
            span: std::sync::Mutex::new(Some(span.clone())),
        });
        let req = req.map(|inner| {
            tonic::body::Body::new(CountingBody {
                inner,
                messages: MessageCounter::default(),
                counter: labels.counter("grpc_server_msg_received_total"),
                outcome: None,
            })
        });
        // The clone that was made ready is the one to call (tower's readiness contract).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let result = tracing::Instrument::instrument(inner.call(req), span).await;
            match result {
                Ok(response) => {
                    let trailers_only = status_in(response.headers());
                    if let Some(code) = trailers_only {
                        outcome.finish(code);
                    }
                    let sent = labels.counter("grpc_server_msg_sent_total");
                    Ok(response.map(|inner| CountingBody {
                        inner,
                        messages: MessageCounter::default(),
                        counter: sent,
                        outcome: trailers_only.is_none().then_some(outcome),
                    }))
                }
                Err(e) => {
                    outcome.finish(tonic::Code::Internal);
                    Err(e)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::MessageCounter;

    fn framed(len: u32) -> Vec<u8> {
        let mut v = vec![0];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend(std::iter::repeat_n(7u8, len as usize));
        v
    }

    #[test]
    fn messages_are_counted_across_and_within_chunks() {
        let mut all = framed(3);
        all.extend(framed(0));
        all.extend(framed(10));
        let mut whole = MessageCounter::default();
        assert_eq!(whole.feed(&all), 3);
        for cut in 1..all.len() {
            let mut split = MessageCounter::default();
            let (a, b) = all.split_at(cut);
            assert_eq!(split.feed(a) + split.feed(b), 3, "cut at {cut}");
        }
        let mut bytewise = MessageCounter::default();
        assert_eq!(all.iter().map(|b| bytewise.feed(&[*b])).sum::<u64>(), 3);
    }

    #[test]
    fn paths_get_the_method_type_from_the_descriptors() {
        let l = super::CallLabels::of("/fenghuo.v1.ThreatService/SubmitThreatStream");
        assert_eq!(
            (l.grpc_type, l.service.as_str(), l.method.as_str()),
            (
                "bidi_stream",
                "fenghuo.v1.ThreatService",
                "SubmitThreatStream"
            )
        );
        assert_eq!(
            super::CallLabels::of("/nope").grpc_type,
            "unknown",
            "an unknown path keeps a label"
        );
    }
}
