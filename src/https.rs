//! HTTPS/1.1 side listeners of `fenghuo serve` (TAXII 2.1, the web console): the gRPC port's
//! certificate, client-certificate verification and connection limits (`crate::listener`),
//! an axum router per listener, and the verified chain handed to every request as
//! [`PeerCerts`] so that the routes admit callers with the gRPC auth layer's own checks.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::Connected;
use tower::ServiceExt;

use crate::config::ConnectionLimits;

/// The verified client certificate chain of the connection a request came on.
#[derive(Clone)]
pub struct PeerCerts(pub Option<Arc<Vec<tonic::transport::CertificateDer<'static>>>>);

/// The TLS material and limits a side listener shares with the gRPC one.
pub struct Listening {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub limits: ConnectionLimits,
    pub cap: usize,
}

/// Binds `addr` and serves the router made by `app` (given the bound address; port 0 works)
/// until `stop` turns true; returns the task and the bound address.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    what: &'static str,
    addr: SocketAddr,
    listening: Listening,
    app: impl FnOnce(SocketAddr) -> axum::Router,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<(JoinHandle<()>, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} port {addr}"))?;
    let bound = listener.local_addr()?;
    let app = app(bound);
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
    tracing::info!(%bound, "{what} (HTTPS, client certificate required) is serving");
    Ok((task, bound))
}
