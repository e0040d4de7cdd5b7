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
    /// The access epoch this set was read at (it did not move during the read).
    pub epoch: i64,
}

impl Blocked {
    pub fn blocks(&self, fingerprint: &str, organisation: &str) -> bool {
        self.certificates.contains(fingerprint) || self.organisations.contains(organisation)
    }

    /// Whether this set ends a call admitted on the store's word at `admitted_epoch` (read after
    /// admission's reads). A set older than that may still list an organisation re-enabled
    /// since, as it was published late: only a set at least as new counts.
    pub fn ends(&self, fingerprint: &str, organisation: &str, admitted_epoch: i64) -> bool {
        self.epoch >= admitted_epoch && self.blocks(fingerprint, organisation)
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
        let (mut epoch, blocked) =
            load_stable(&store, registry::access_epoch(&store).await?).await?;
        let (tx, rx) = watch::channel(Arc::new(blocked));
        let mut shutdown = shutdown;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL_INTERVAL);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.changed() => return,
                }
                match registry::access_epoch(&store).await {
                    Ok(now) if now != epoch => match load_stable(&store, now).await {
                        Ok((loaded_at, blocked)) => {
                            epoch = loaded_at;
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

/// The blocked set as of an epoch that did not move while it was read, so that its `epoch`
/// says which changes it includes.
async fn load_stable(store: &Store, mut epoch: i64) -> Result<(i64, Blocked), sqlx::Error> {
    loop {
        let mut blocked = load(store).await?;
        let now = registry::access_epoch(store).await?;
        if now == epoch {
            blocked.epoch = epoch;
            return Ok((epoch, blocked));
        }
        epoch = now;
    }
}

async fn load(store: &Store) -> Result<Blocked, sqlx::Error> {
    let (certs, orgs) = registry::blocked(store).await?;
    Ok(Blocked {
        certificates: certs.into_iter().collect(),
        organisations: orgs.into_iter().collect(),
        epoch: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_set_older_than_the_admission_does_not_end_the_call() {
        let blocked = Blocked {
            organisations: ["vendor-bj".to_owned()].into(),
            epoch: 7,
            ..Default::default()
        };
        // Admitted at epoch 8: the organisation was re-enabled after this set was read.
        assert!(!blocked.ends("f", "vendor-bj", 8));
        // Admitted at epoch 7 or before: the set includes every change the admission saw.
        assert!(blocked.ends("f", "vendor-bj", 7));
        assert!(!blocked.ends("f", "telecom-gd", 7));
    }
}
