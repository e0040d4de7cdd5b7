//! TAXII 2.1 (OASIS, sections 3-5) in the `fenghuo serve` process, on `taxii_listen`:
//! HTTPS/1.1 on the gRPC port's certificate and client-certificate verification and the same
//! connection limits (`crate::listener`). Every request is admitted by the gRPC auth layer's
//! own checks (`AuthLayer::caller_for`); the STIX workflows are `crate::stix::service`'s.
//!
//! [`routes`] are the endpoints, [`objects`] the feed collection's listing and its cursor,
//! [`http`] the media type and error rules.

pub mod http;
pub mod objects;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::Connected;
use tower::ServiceExt;

use crate::auth::layer::AuthLayer;
use crate::config::ConnectionLimits;
use crate::domain::clock::SharedClock;
use crate::intake::IntakeQueue;
use crate::ownership::OwnershipRouter;
use crate::store::Store;

/// The verified client certificate chain of the connection a request came on.
#[derive(Clone)]
pub struct PeerCerts(pub Option<Arc<Vec<tonic::transport::CertificateDer<'static>>>>);

/// What the endpoints share.
pub struct Taxii {
    pub store: Store,
    pub clock: SharedClock,
    pub queue: IntakeQueue,
    pub router: Arc<OwnershipRouter>,
    pub auth: AuthLayer,
    /// For discovery when a request names no Host.
    pub local_addr: SocketAddr,
}

impl Taxii {
    fn services(&self) -> crate::stix::service::Services<'_> {
        crate::stix::service::Services {
            store: &self.store,
            clock: &self.clock,
            queue: &self.queue,
            router: &self.router,
        }
    }
}

/// The TLS material and limits the TAXII listener shares with the gRPC one.
pub struct Listening {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub limits: ConnectionLimits,
    pub cap: usize,
}

/// Binds `addr` and serves TAXII until `stop` turns true; returns the task and the bound
/// address (port 0 works).
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    listening: Listening,
    state: impl FnOnce(SocketAddr) -> Taxii,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<(JoinHandle<()>, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the TAXII port {addr}"))?;
    let bound = listener.local_addr()?;
    let app = routes::router(Arc::new(state(bound)));
    let mut incoming = crate::listener::incoming(
        listener,
        listening.acceptor,
        listening.limits,
        listening.cap,
    );
    let task = tokio::spawn(async move {
        loop {
            let admitted = tokio::select! {
                a = incoming.next() => a,
                _ = stop.wait_for(|s| *s) => break,
            };
            let Some(Ok(conn)) = admitted else { break };
            let certs = PeerCerts(conn.connect_info().peer_certs());
            let (app, mut stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let mut req = req.map(axum::body::Body::new);
                        req.extensions_mut().insert(certs.clone());
                        app.clone().oneshot(req)
                    },
                );
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(conn), service);
                tokio::pin!(connection);
                let stopping = tokio::select! {
                    _ = connection.as_mut() => false,
                    _ = stop.wait_for(|s| *s) => true,
                };
                if stopping {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            });
        }
    });
    tracing::info!(%bound, "TAXII 2.1 (HTTPS, client certificate required) is serving");
    Ok((task, bound))
}
