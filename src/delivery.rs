//! Wakes notice subscribers when a notice commits, on this replica and on every
//! other one (Art. 8 electronic delivery); the same mechanism, on its own channel with
//! one key, wakes the feed's readers when feed events commit.
//!
//! Each subscriber waits on its addressee's own wake-up, so a notice wakes only
//! the streams of the organisation it is addressed to: with a thousand units
//! subscribed, one notice costs one store read, not a thousand. The issuing
//! transaction runs `pg_notify` with the addressees on PostgreSQL, delivered at
//! commit; each replica LISTENs and wakes those addressees' subscribers, who
//! then read the store from their cursor. The store stays the truth: a missed
//! wake-up costs at most [`FALLBACK_POLL`], never a notice.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::store::{Dialect, Tx};

pub const CHANNEL: &str = "fenghuo_notices";
/// Feed events; the payload is always empty: every reader of the replica re-reads.
pub const FEED_CHANNEL: &str = "fenghuo_feed";
/// Subscribers re-read the store at least this often.
pub const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// PostgreSQL refuses payloads of 8000 bytes or more; a longer list wakes everyone.
const MAX_PAYLOAD: usize = 7900;

#[derive(Clone)]
pub struct NoticeSignal {
    /// One wake-up per addressee with an open stream on this replica.
    addressees: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
    channel: &'static str,
}

impl Default for NoticeSignal {
    fn default() -> Self {
        NoticeSignal {
            addressees: Arc::default(),
            channel: CHANNEL,
        }
    }
}

/// An open stream's hold on its addressee's wake-up; dropped with the stream.
pub struct Subscription {
    addressees: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
    addressee: String,
    notify: Arc<Notify>,
}

impl Subscription {
    /// Resolves at the next wake-up for this addressee after the call, even if
    /// polled only later: take it before reading the store.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut map = self.addressees.lock().expect("notice signal lock");
        // The map's and ours: no other stream of this addressee remains.
        if Arc::strong_count(&self.notify) == 2 {
            map.remove(&self.addressee);
        }
    }
}

impl NoticeSignal {
    /// Starts listening on PostgreSQL; SQLite has one server, so the local wake-up suffices.
    pub fn start(database_url: &str, dialect: Dialect, shutdown: watch::Receiver<bool>) -> Self {
        Self::start_on(CHANNEL, database_url, dialect, shutdown)
    }

    /// [`NoticeSignal::start`] on another channel (the feed's).
    pub fn start_on(
        channel: &'static str,
        database_url: &str,
        dialect: Dialect,
        mut shutdown: watch::Receiver<bool>,
    ) -> Self {
        let signal = NoticeSignal {
            addressees: Arc::default(),
            channel,
        };
        if dialect == Dialect::Postgres {
            let url = database_url.to_owned();
            let listening = signal.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = shutdown.wait_for(|s| *s) => return,
                        r = listen(&url, &listening) => {
                            if let Err(e) = r {
                                tracing::warn!(error = %e, channel, "LISTEN connection lost; reconnecting");
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        }
        signal
    }

    /// The wake-up of `addressee`'s streams on this replica.
    pub fn subscribe(&self, addressee: &str) -> Subscription {
        let notify = self
            .addressees
            .lock()
            .expect("notice signal lock")
            .entry(addressee.to_owned())
            .or_default()
            .clone();
        Subscription {
            addressees: self.addressees.clone(),
            addressee: addressee.to_owned(),
            notify,
        }
    }

    /// After a local commit: wakes these addressees' streams.
    pub fn wake<'a>(&self, addressees: impl IntoIterator<Item = &'a str>) {
        let map = self.addressees.lock().expect("notice signal lock");
        for a in addressees {
            if let Some(n) = map.get(a) {
                n.notify_waiters();
            }
        }
    }

    /// Every stream re-reads: after the LISTEN connection was lost, or a payload too long.
    pub fn wake_all(&self) {
        for n in self.addressees.lock().expect("notice signal lock").values() {
            n.notify_waiters();
        }
    }

    /// Inside the issuing transaction: other replicas wake these addressees when it commits.
    pub async fn announce(
        tx: &mut Tx,
        dialect: Dialect,
        addressees: &[&str],
    ) -> Result<(), sqlx::Error> {
        announce_on(tx, dialect, CHANNEL, &payload(addressees)).await
    }
}

/// Inside a transaction that writes feed events: every replica's feed readers wake at commit.
pub async fn announce_feed(tx: &mut Tx, dialect: Dialect) -> Result<(), sqlx::Error> {
    announce_on(tx, dialect, FEED_CHANNEL, "").await
}

async fn announce_on(
    tx: &mut Tx,
    dialect: Dialect,
    channel: &str,
    payload: &str,
) -> Result<(), sqlx::Error> {
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_notify($1, $2) IS NULL")
            .bind(channel)
            .bind(payload)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The addressees, comma-separated (organisation ids have no commas); empty means everyone.
fn payload(addressees: &[&str]) -> String {
    let unique: BTreeSet<&str> = addressees.iter().copied().collect();
    let joined = unique.into_iter().collect::<Vec<_>>().join(",");
    if joined.len() > MAX_PAYLOAD {
        String::new()
    } else {
        joined
    }
}

async fn listen(url: &str, signal: &NoticeSignal) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(signal.channel).await?;
    // Anything committed while we were not listening is read now.
    signal.wake_all();
    loop {
        // `None`: the connection dropped and is re-established on the next call; what was
        // notified meanwhile is lost, so every stream re-reads.
        match listener.try_recv().await? {
            None => signal.wake_all(),
            Some(n) => match n.payload() {
                "" => signal.wake_all(),
                p => signal.wake(p.split(',')),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_names_each_addressee_once_and_an_oversized_one_means_everyone() {
        assert_eq!(payload(&["b", "a", "b"]), "a,b");
        let many: Vec<String> = (0..1000).map(|i| format!("unit-{i:05}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(payload(&many), "");
    }

    #[tokio::test]
    async fn a_wake_reaches_only_the_addressee_and_the_last_stream_leaves_no_entry() {
        let signal = NoticeSignal::default();
        let a = signal.subscribe("telecom-gd");
        let b = signal.subscribe("vendor-bj");
        let (woken_a, woken_b) = (a.notified(), b.notified());
        signal.wake(["telecom-gd"]);
        tokio::time::timeout(Duration::from_secs(1), woken_a)
            .await
            .expect("the addressee wakes");
        assert!(
            tokio::time::timeout(Duration::from_millis(20), woken_b)
                .await
                .is_err(),
            "another organisation's stream stays asleep"
        );
        let a2 = signal.subscribe("telecom-gd");
        drop(a);
        assert!(signal.addressees.lock().unwrap().contains_key("telecom-gd"));
        drop(a2);
        drop(b);
        assert!(signal.addressees.lock().unwrap().is_empty());
    }
}
