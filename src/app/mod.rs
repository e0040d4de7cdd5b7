//! Start-up: storage, PKI, the access monitor, then the mTLS gRPC server.
//! [`Application::build`] binds first, so tests can listen on port 0 and ask
//! for the address.
//!
//! This module holds the [`Application`] and the helpers other commands share; `build.rs`
//! starts it, `running.rs` serves and stops it.

mod build;
mod running;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::domain::policy::DeadlinePolicy;
use crate::store::Store;
use crate::timers::{Scheduler, TimerHandlers};

pub struct Application {
    local_addr: SocketAddr,
    /// The plain health port, when configured.
    health_addr: Option<SocketAddr>,
    health_server: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
    metrics_addr: Option<SocketAddr>,
    metrics_server: Option<JoinHandle<()>>,
    taxii_addr: Option<SocketAddr>,
    taxii_server: Option<JoinHandle<()>>,
    console_addr: Option<SocketAddr>,
    console_server: Option<JoinHandle<()>>,
    store: Store,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    timers: Arc<Scheduler>,
    scheduler: JoinHandle<()>,
    statistics_folder: JoinHandle<()>,
    timers_caught_up: watch::Receiver<bool>,
    policy: Arc<DeadlinePolicy>,
    /// Held for the server's life: one SQLite server per data directory.
    _lock: Option<std::fs::File>,
}

/// The process-wide rustls provider; both tonic and our own code use ring.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The platform's timer handlers by kind (the scheduler's, and `fenghuo calendar load`'s).
pub fn timer_handlers(store: &Store) -> TimerHandlers {
    crate::compliance::timers::handlers(store.dialect())
        .merge(crate::appeals::timers::handlers(store.clone()))
        .merge(crate::identification::tasks::handlers(store.dialect()))
}

/// Every gRPC service name of the contract, for health and the tests.
pub const SERVICE_NAMES: &[&str] = &[
    "fenghuo.v1.ThreatService",
    "fenghuo.v1.IdentificationService",
    "fenghuo.v1.DisposalService",
    "fenghuo.v1.AppealService",
    "fenghuo.v1.RegistryService",
    "fenghuo.v1.CalendarService",
    "fenghuo.v1.AuditService",
    "fenghuo.v1.OperationsService",
    "fenghuo.v1.StatisticsService",
];

/// The data directory's exclusive lock, held by a serving replica (and by `fenghuo restore`).
pub fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use fs4::fs_std::FileExt;
    let path = dir.join("fenghuo.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock_exclusive() {
        Ok(true) => Ok(file),
        _ => anyhow::bail!(
            "another fenghuo server is using {} (SQLite serves one replica; use PostgreSQL for several)",
            dir.display()
        ),
    }
}
