//! Wakes notice subscribers when a notice commits, on this replica and on every
//! other one (Art. 8 electronic delivery).
//!
//! The issuing transaction runs `NOTIFY fenghuo_notices` on PostgreSQL, which is
//! delivered at commit; each replica LISTENs and wakes its subscribers, who then
//! read the store from their cursor. The store stays the truth: a missed wake-up
//! costs at most [`FALLBACK_POLL`], never a notice.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::store::{Dialect, Tx};

pub const CHANNEL: &str = "fenghuo_notices";
/// Subscribers re-read the store at least this often.
pub const FALLBACK_POLL: Duration = Duration::from_secs(1);

#[derive(Clone, Default)]
pub struct NoticeSignal {
    notify: Arc<Notify>,
}

impl NoticeSignal {
    /// Starts listening on PostgreSQL; SQLite has one server, so the local wake-up suffices.
    pub fn start(
        database_url: &str,
        dialect: Dialect,
        mut shutdown: watch::Receiver<bool>,
    ) -> Self {
        let signal = NoticeSignal::default();
        if dialect == Dialect::Postgres {
            let url = database_url.to_owned();
            let notify = signal.notify.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = shutdown.wait_for(|s| *s) => return,
                        r = listen(&url, &notify) => {
                            if let Err(e) = r {
                                tracing::warn!(error = %e, "notice LISTEN connection lost; reconnecting");
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        }
        signal
    }

    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// After a local commit.
    pub fn wake(&self) {
        self.notify.notify_waiters();
    }

    /// Inside the issuing transaction: other replicas wake when it commits.
    pub async fn announce(tx: &mut Tx, dialect: Dialect) -> Result<(), sqlx::Error> {
        if dialect == Dialect::Postgres {
            sqlx::query(sqlx::AssertSqlSafe(format!("NOTIFY {CHANNEL}")))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

async fn listen(url: &str, notify: &Notify) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    // Anything committed while we were not listening is read now.
    notify.notify_waiters();
    loop {
        listener.recv().await?;
        notify.notify_waiters();
    }
}
