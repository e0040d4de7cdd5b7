//! A built [`Application`]: its addresses and parts for the tests, serving until a signal,
//! and stopping.

use std::net::SocketAddr;
use std::sync::Arc;

use super::Application;
use crate::domain::policy::DeadlinePolicy;
use crate::store::Store;
use crate::timers::Scheduler;

impl Application {
    /// The timer scheduler of this replica (tests step it under the manual clock).
    pub fn timers(&self) -> &Scheduler {
        &self.timers
    }

    /// Resolves once the start-up run has fired every timer that was due at start.
    pub async fn timers_caught_up(&self) {
        let mut rx = self.timers_caught_up.clone();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// The deadline policy in force.
    pub fn policy(&self) -> &Arc<DeadlinePolicy> {
        &self.policy
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the plain `grpc.health.v1` port, when `health_listen` is set.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health_addr
    }

    /// The address of the Prometheus endpoint, when `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The address of the web console, when `console_listen` is set.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console_addr
    }

    /// The address of the TAXII 2.1 server, when `taxii_listen` is set.
    pub fn taxii_addr(&self) -> Option<SocketAddr> {
        self.taxii_addr
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until the process is asked to stop (Ctrl-C or SIGTERM).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            let _ = shutdown.send(true);
        });
        self.server.await??;
        if let Some(health) = self.health_server {
            health.await??;
        }
        if let Some(metrics) = self.metrics_server {
            let _ = metrics.await;
        }
        if let Some(taxii) = self.taxii_server {
            let _ = taxii.await;
        }
        if let Some(console) = self.console_server {
            let _ = console.await;
        }
        let _ = self.scheduler.await;
        let _ = self.statistics_folder.await;
        self.store.close().await;
        Ok(())
    }

    /// Stops accepting calls, lets open ones finish, closes storage.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.server.await??;
        if let Some(health) = self.health_server {
            health.await??;
        }
        if let Some(metrics) = self.metrics_server {
            let _ = metrics.await;
        }
        if let Some(taxii) = self.taxii_server {
            let _ = taxii.await;
        }
        if let Some(console) = self.console_server {
            let _ = console.await;
        }
        let _ = self.scheduler.await;
        let _ = self.statistics_folder.await;
        self.store.close().await;
        Ok(())
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
