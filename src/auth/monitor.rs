//! Every replica polls the shared `access_epoch`; when a certificate is revoked
//! or an organisation disabled anywhere, it reloads the blocked set within one
//! poll interval and open streams of the blocked callers end.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::store::{Store, registry};

#[derive(Debug, Default)]
pub struct Blocked {
    pub certificates: HashSet<String>,
    pub organisations: HashSet<String>,
}

impl Blocked {
    pub fn blocks(&self, fingerprint: &str, organisation: &str) -> bool {
        self.certificates.contains(fingerprint) || self.organisations.contains(organisation)
    }
}

#[derive(Clone, Debug)]
pub struct AccessMonitor {
    rx: watch::Receiver<Arc<Blocked>>,
}

/// Well under the 1 s within which revocation must end streams on every replica.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

impl AccessMonitor {
    /// Loads the blocked set, then keeps it current until `shutdown` resolves.
    pub async fn start(
        store: Store,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<AccessMonitor> {
        let mut epoch = registry::access_epoch(&store).await?;
        let (tx, rx) = watch::channel(Arc::new(load(&store).await?));
        let mut shutdown = shutdown;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL_INTERVAL);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.changed() => return,
                }
                match registry::access_epoch(&store).await {
                    Ok(now) if now != epoch => match load(&store).await {
                        Ok(blocked) => {
                            epoch = now;
                            tx.send_replace(Arc::new(blocked));
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "reloading revoked certificates failed")
                        }
                    },
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "polling the access epoch failed"),
                }
            }
        });
        Ok(AccessMonitor { rx })
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Blocked>> {
        self.rx.clone()
    }
}

async fn load(store: &Store) -> Result<Blocked, sqlx::Error> {
    let (certs, orgs) = registry::blocked(store).await?;
    Ok(Blocked {
        certificates: certs.into_iter().collect(),
        organisations: orgs.into_iter().collect(),
    })
}
