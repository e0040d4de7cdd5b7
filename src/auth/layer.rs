//! The tower layer in front of every service: resolves the [`Caller`] from the
//! verified client certificate and the optional officer token, applies the
//! role gate of the authorization matrix, answers UNIMPLEMENTED for RPCs not
//! built yet, ends a response stream as soon as its certificate is
//! revoked or its organisation disabled, and caps the size of every error status.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use http_body::Frame;
use tokio_stream::wrappers::WatchStream;
use tonic::Status;
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower::{Layer, Service};

use super::Caller;
use super::monitor::{AccessMonitor, Blocked};
use super::policy::{Policy, Scope, rpc_name};
use super::token;
use crate::domain::clock::SharedClock;
use crate::pki::ClientCertificate;
use crate::store::{Store, registry};

#[derive(Clone)]
pub struct AuthLayer {
    auth: Arc<Authenticator>,
}

impl AuthLayer {
    /// `shutdown` turning true ends every open response stream, so that a
    /// graceful stop does not wait on followers that never hang up.
    pub fn new(
        store: Store,
        clock: SharedClock,
        monitor: AccessMonitor,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            auth: Arc::new(Authenticator {
                store,
                clock,
                monitor,
                shutdown,
                policy: Policy::embedded(),
            }),
        }
    }
}

impl AuthLayer {
    /// The caller of a request that is not gRPC (TAXII), decided exactly as for the gRPC
    /// method `rpc_path` ("/fenghuo.v1.ThreatService/ExportStix"): the same certificate checks
    /// and the same row of the authorization matrix. Certificate only: no officer token.
    ///
    /// # Errors
    /// UNAUTHENTICATED or PERMISSION_DENIED as the gRPC layer answers; INTERNAL on storage.
    pub async fn caller_for(
        &self,
        peer_certs: Option<Arc<Vec<tonic::transport::CertificateDer<'static>>>>,
        rpc_path: &str,
    ) -> Result<Caller, Status> {
        self.caller_with_token(peer_certs, rpc_path, None).await
    }

    /// [`Self::caller_for`] with an officer's token (the web console's actions): verified
    /// exactly as the `authorization: Bearer` metadata of a gRPC call, and required where the
    /// matrix row says *officer token: yes*.
    ///
    /// # Errors
    /// As [`Self::caller_for`]; UNAUTHENTICATED for a token that does not verify.
    pub async fn caller_with_token(
        &self,
        peer_certs: Option<Arc<Vec<tonic::transport::CertificateDer<'static>>>>,
        rpc_path: &str,
        officer_token: Option<&str>,
    ) -> Result<Caller, Status> {
        let authorization = match officer_token.map(str::trim).filter(|t| !t.is_empty()) {
            Some(jwt) => Some(
                http::HeaderValue::from_str(&format!("Bearer {jwt}")).map_err(|_| {
                    Status::unauthenticated("the officer token is not a JWT (ASCII only)")
                })?,
            ),
            None => None,
        };
        let admitted = self
            .auth
            .admit(CallFacts {
                peer_certs,
                path: rpc_path.to_owned(),
                authorization,
            })
            .await?;
        admitted
            .caller
            .ok_or_else(|| Status::permission_denied(format!("{rpc_path} is not an RPC")))
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Arc<Authenticator>,
}

struct Authenticator {
    store: Store,
    clock: SharedClock,
    monitor: AccessMonitor,
    shutdown: tokio::sync::watch::Receiver<bool>,
    policy: &'static Policy,
}

/// What the layer established about a call before it reaches a handler.
struct Admitted {
    fingerprint: String,
    organisation: String,
    caller: Option<Caller>,
    /// The access epoch read after admission's reads of the store: later changes bump it.
    epoch: i64,
}

impl<S> Service<http::Request<Body>> for AuthService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        // The clone is not necessarily ready; take the one that is (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            // Subscribed before admission reads the store: a revocation published after that
            // read still ends the call. The snapshot at hand may lag the store by a poll (a
            // re-enabled organisation), so only later changes count.
            let blocked = WatchStream::from_changes(auth.monitor.subscribe());
            let facts = CallFacts::of(&req);
            let admitted = match auth.admit(facts).await {
                Ok(a) => a,
                Err(status) => {
                    let mut refused = status.into_http();
                    crate::api::trailers::cap(refused.headers_mut());
                    return Ok(refused);
                }
            };
            if let Some(caller) = admitted.caller {
                req.extensions_mut().insert(caller);
            }
            let mut response = inner.call(req).await?;
            // A trailers-only answer (a handler's error) carries its status in the headers.
            crate::api::trailers::cap(response.headers_mut());
            Ok(response.map(|body| {
                Body::new(Revocable {
                    inner: body,
                    blocked,
                    stopping: WatchStream::new(auth.shutdown.clone()),
                    fingerprint: admitted.fingerprint,
                    organisation: admitted.organisation,
                    admitted_epoch: admitted.epoch,
                    cut: false,
                })
            }))
        })
    }
}

impl Authenticator {
    async fn admit(&self, call: CallFacts) -> Result<Admitted, Status> {
        let certs = call.peer_certs.ok_or_else(|| {
            Status::unauthenticated("a client certificate issued by the platform CA is required")
        })?;
        let leaf = certs.first().ok_or_else(|| {
            Status::unauthenticated("a client certificate issued by the platform CA is required")
        })?;
        let cert = ClientCertificate::from_der(leaf.as_ref())
            .map_err(|e| Status::unauthenticated(format!("client certificate refused: {e}")))?;
        let now = self.clock.now();
        let registered = registry::get_certificate(&self.store, &cert.fingerprint)
            .await
            .map_err(crate::api::internal)?
            .ok_or_else(|| {
                Status::unauthenticated(format!(
                    "client certificate {} is not registered; an administrator registers it with RegistryService.RegisterCertificate",
                    cert.fingerprint
                ))
            })?;
        if let Some(at) = registered.revoked_at {
            return Err(Status::unauthenticated(format!(
                "client certificate {} was revoked at {}",
                cert.fingerprint,
                crate::domain::clock::from_micros(at).to_rfc3339()
            )));
        }
        if registered.org_id != cert.organisation.as_str() {
            return Err(Status::unauthenticated(
                "client certificate is registered to another organisation",
            ));
        }
        if now.timestamp_micros() >= registered.not_after {
            return Err(Status::unauthenticated(format!(
                "client certificate {} expired at {}",
                cert.fingerprint,
                crate::domain::clock::from_micros(registered.not_after).to_rfc3339()
            )));
        }
        let org = registry::get_organisation(&self.store, &registered.org_id)
            .await
            .map_err(crate::api::internal)?
            .ok_or_else(|| {
                Status::unauthenticated("the certificate's organisation is not registered")
            })?;
        // The call's span names its organisation from here on, refused or not.
        tracing::Span::current().record("fenghuo.organisation", org.id.as_str());
        if !org.enabled() {
            return Err(Status::unauthenticated(format!(
                "organisation {} is disabled",
                org.id
            )));
        }
        let officer = match bearer(call.authorization.as_ref())? {
            Some(jwt) => Some(
                token::verify(&self.store, now, &org.id, &cert.thumbprint, jwt)
                    .await
                    .map_err(|e| {
                        if e.is_internal() {
                            crate::api::internal(e)
                        } else {
                            Status::unauthenticated(e.to_string())
                        }
                    })?,
            ),
            None => None,
        };
        let path = call.path.as_str();
        // After the certificate and organisation were read: a revocation or disable that
        // those reads missed has a newer epoch, and a blocked set older than this one may
        // predate a re-enable that they saw.
        let epoch = registry::access_epoch(&self.store)
            .await
            .map_err(crate::api::internal)?;
        let admitted = |caller| Admitted {
            fingerprint: cert.fingerprint.clone(),
            organisation: org.id.clone(),
            caller,
            epoch,
        };
        // Health and reflection need only a valid, registered certificate.
        if !path.starts_with("/fenghuo.") {
            return Ok(admitted(None));
        }
        let rpc = rpc_name(path).unwrap_or_else(|| path.to_owned());
        let rule = self.policy.rule_for_path(path).ok_or_else(|| {
            Status::permission_denied(format!("{rpc} has no row in the authorization matrix"))
        })?;
        let roles = org.roles();
        let scope = rule.best_scope(&roles);
        if scope == Scope::Deny {
            return Err(Status::permission_denied(format!(
                "role {} may not call {rpc} (docs/authorization.md)",
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if rule.officer_token && officer.is_none() {
            return Err(Status::unauthenticated(format!(
                "{rpc} is a decision: it needs an officer token in `authorization: Bearer <JWT>`"
            )));
        }
        Ok(admitted(Some(Caller {
            organisation_id: org.id.clone(),
            roles,
            province: org.province.clone(),
            certificate_fingerprint: cert.fingerprint.clone(),
            officer,
            rpc,
            scope,
        })))
    }
}

/// What the layer needs of a request, taken before any await (the body is not `Sync`).
struct CallFacts {
    peer_certs: Option<Arc<Vec<tonic::transport::CertificateDer<'static>>>>,
    path: String,
    authorization: Option<http::HeaderValue>,
}

impl CallFacts {
    fn of(req: &http::Request<Body>) -> Self {
        CallFacts {
            peer_certs: req
                .extensions()
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|info| info.peer_certs()),
            path: req.uri().path().to_owned(),
            authorization: req.headers().get(http::header::AUTHORIZATION).cloned(),
        }
    }
}

fn bearer(value: Option<&http::HeaderValue>) -> Result<Option<&str>, Status> {
    let Some(value) = value else { return Ok(None) };
    let value = value
        .to_str()
        .map_err(|_| Status::unauthenticated("authorization header is not ASCII"))?;
    value
        .strip_prefix("Bearer ")
        .map(|t| Some(t.trim()))
        .ok_or_else(|| Status::unauthenticated("authorization header must be `Bearer <JWT>`"))
}

pin_project_lite::pin_project! {
    /// A response body that ends with UNAUTHENTICATED once its caller is blocked,
    /// and with UNAVAILABLE when the server shuts down.
    struct Revocable {
        #[pin]
        inner: Body,
        blocked: WatchStream<Arc<Blocked>>,
        stopping: WatchStream<bool>,
        fingerprint: String,
        organisation: String,
        admitted_epoch: i64,
        cut: bool,
    }
}

/// A frame with its trailers' status within [`crate::api::trailers`]'s limits.
fn capped(frame: Frame<Bytes>) -> Frame<Bytes> {
    match frame.into_trailers() {
        Ok(mut trailers) => {
            crate::api::trailers::cap(&mut trailers);
            Frame::trailers(trailers)
        }
        Err(frame) => frame,
    }
}

/// The trailers that end a stream with `status`.
fn end_with(status: Status) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
    let mut trailers = http::HeaderMap::new();
    Poll::Ready(Some(match status.add_header(&mut trailers) {
        Ok(()) => Ok(Frame::trailers(trailers)),
        Err(e) => Err(e),
    }))
}

impl http_body::Body for Revocable {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        if *this.cut {
            return Poll::Ready(None);
        }
        while let Poll::Ready(Some(blocked)) = this.blocked.poll_next_unpin(cx) {
            if blocked.ends(this.fingerprint, this.organisation, *this.admitted_epoch) {
                *this.cut = true;
                return end_with(Status::unauthenticated(
                    "the certificate was revoked or its organisation disabled",
                ));
            }
        }
        while let Poll::Ready(Some(stopping)) = this.stopping.poll_next_unpin(cx) {
            if stopping {
                *this.cut = true;
                return end_with(Status::unavailable(
                    "the server is shutting down; reconnect and resume from your last cursor",
                ));
            }
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(capped(frame)))),
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.cut || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
