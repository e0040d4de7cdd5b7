//! Intake (Art. 2, 6, 11): what a report must contain ([`report`], with each category's
//! contents in `categories`), its routing to the units responsible for its resources
//! (Art. 9), and the group commit that stores it.
//!
//! Group commit: every stream and unary call of this replica hands its validated items to
//! one writer, which commits whatever has queued up as a single transaction. Fewer, larger
//! transactions are what makes `synchronous=FULL` fast, and a single writer is what SQLite
//! wants anyway. A submission is acknowledged only after that commit.

mod categories;
pub mod report;
pub mod tlp;

use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};

use crate::auth::Caller;
use crate::domain::clock::SharedClock;
use crate::domain::policy::DeadlinePolicy;
use crate::domain::routing::RoutingTable;
use crate::domain::threat::Submission;
use crate::store::Store;
use crate::store::threats::{self, IngestItem, IngestOutcome};

/// The units responsible for a submission's resources (Art. 9): AMBER reaches them; and the
/// provinces those resources lie in (Art. 6: their provincial regulators see the report).
fn responsible_units(table: &RoutingTable, submission: &Submission) -> (Vec<String>, Vec<String>) {
    let routes: Vec<_> = submission
        .resources
        .iter()
        .filter_map(|r| table.route(r))
        .collect();
    let mut orgs: Vec<String> = routes.iter().map(|r| r.owner.clone()).collect();
    orgs.sort();
    orgs.dedup();
    let mut provinces: Vec<String> = routes
        .into_iter()
        .map(|r| r.province)
        .filter(|p| !p.is_empty() && p != "national")
        .collect();
    provinces.sort();
    provinces.dedup();
    (orgs, provinces)
}

/// A validated submission of `caller`'s, routed (Art. 9), as the intake stores it.
pub fn item(caller: &Caller, table: &RoutingTable, submission: Submission) -> IngestItem {
    let (responsible, provinces) = responsible_units(table, &submission);
    IngestItem {
        actor: caller.actor(),
        province: caller.province.clone(),
        reader: caller.reader(),
        responsible,
        provinces,
        submission,
    }
}

/// Largest number of items committed in one transaction.
pub const MAX_BATCH: usize = 2048;

struct Job {
    items: Vec<IngestItem>,
    reply: oneshot::Sender<Result<Vec<IngestOutcome>, IntakeError>>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum IntakeError {
    #[error("storing the batch failed: {0}")]
    Storage(String),
    #[error("the server is shutting down")]
    Closed,
}

#[derive(Clone)]
pub struct IntakeQueue {
    jobs: mpsc::Sender<Job>,
    committed: Arc<Notify>,
}

impl IntakeQueue {
    /// Starts the writer; `policy` gives each first report its deadline (reporting
    /// measures Art. 13).
    pub fn start(store: Store, clock: SharedClock, policy: Arc<DeadlinePolicy>) -> IntakeQueue {
        let (jobs, rx) = mpsc::channel(1024);
        let committed = Arc::new(Notify::new());
        tokio::spawn(writer(store, clock, policy, rx, committed.clone()));
        IntakeQueue { jobs, committed }
    }

    /// Queues items; the returned receiver answers once they are committed (or refused).
    pub async fn enqueue(
        &self,
        items: Vec<IngestItem>,
    ) -> Result<oneshot::Receiver<Result<Vec<IngestOutcome>, IntakeError>>, IntakeError> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job { items, reply })
            .await
            .map_err(|_| IntakeError::Closed)?;
        Ok(rx)
    }

    pub async fn submit(&self, items: Vec<IngestItem>) -> Result<Vec<IngestOutcome>, IntakeError> {
        self.enqueue(items)
            .await?
            .await
            .map_err(|_| IntakeError::Closed)?
    }

    /// Woken after each commit on this replica (feeds poll for the others).
    pub fn committed(&self) -> Arc<Notify> {
        self.committed.clone()
    }
}

async fn writer(
    store: Store,
    clock: SharedClock,
    policy: Arc<DeadlinePolicy>,
    mut rx: mpsc::Receiver<Job>,
    committed: Arc<Notify>,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut count = jobs[0].items.len();
        while count < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.items.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let items: Vec<IngestItem> = jobs.iter().flat_map(|j| j.items.iter().cloned()).collect();
        let result = threats::ingest(&store, &policy, clock.now(), &items).await;
        match result {
            Ok(mut outcomes) => {
                committed.notify_waiters();
                crate::metrics::record_intake(&outcomes);
                for job in jobs.into_iter().rev() {
                    let mine = outcomes.split_off(outcomes.len() - job.items.len());
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, items = items.len(), "threat intake batch failed; nothing of it was stored");
                metrics::counter!("fenghuo_intake_batches_failed_total").increment(1);
                for job in jobs {
                    let _ = job.reply.send(Err(IntakeError::Storage(e.to_string())));
                }
            }
        }
    }
}
