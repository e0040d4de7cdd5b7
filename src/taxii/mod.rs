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

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::layer::AuthLayer;
use crate::domain::clock::SharedClock;
use crate::intake::IntakeQueue;
use crate::ownership::OwnershipRouter;
use crate::store::Store;

pub use crate::https::{Listening, PeerCerts};

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

/// Binds `addr` and serves TAXII until `stop` turns true; returns the task and the bound
/// address (port 0 works).
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    listening: Listening,
    state: impl FnOnce(SocketAddr) -> Taxii,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<(JoinHandle<()>, SocketAddr)> {
    crate::https::serve(
        "TAXII 2.1",
        addr,
        listening,
        |bound| routes::router(Arc::new(state(bound))),
        stop,
    )
    .await
}
