use std::time::Duration;

use crate::rss::Rss;
use crate::worker::WorkerError;

/// Why a pool did not grant a lease.
///
/// Every refusal has its own variant, so callers can tell a full pool from
/// a memory shortage from a shutdown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The configuration is unusable.
    #[error("invalid pool configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: &'static str,
    },
    /// Every worker was busy and the wait queue was full.
    #[error("pool exhausted: {workers} workers busy and {queued} acquirers already waiting")]
    Exhausted {
        /// Workers the pool runs at most.
        workers: usize,
        /// Acquirers waiting, the queue's limit.
        queued: usize,
    },
    /// No worker came free within the queue wait timeout.
    #[error("no worker came free within {waited:?}")]
    QueueTimeout {
        /// The queue wait timeout.
        waited: Duration,
    },
    /// The children's memory left no room for another worker, and no
    /// worker came free within the queue wait timeout.
    #[error("memory budget of {} exhausted: children hold {in_use}, waited {waited:?}", Rss::Bytes(*budget))]
    MemoryBudget {
        /// The pool's RSS budget, in bytes.
        budget: u64,
        /// What the children held at the last check; `Unavailable` when a
        /// child could not be sampled.
        in_use: Rss,
        /// The queue wait timeout.
        waited: Duration,
    },
    /// The pool is shutting down (or was shut down).
    #[error("the pool is shutting down")]
    ShuttingDown,
    /// The session key could not be encoded as JSON.
    #[error("the session key does not encode")]
    Key(#[source] serde_json::Error),
    /// The child refused or failed to open the session; the worker went
    /// back to the pool without it.
    #[error("could not open the session")]
    SessionOpen(#[source] WorkerError),
    /// A worker could not be started or made ready (spawn failure, restart
    /// limit, crash loop, ...).
    #[error("worker unavailable")]
    Worker(#[source] WorkerError),
}
