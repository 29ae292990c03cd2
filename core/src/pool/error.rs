use std::sync::Arc;
use std::time::Duration;

use crate::describe::Span;
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
    #[error("no worker came free within {}", Span(*waited))]
    QueueTimeout {
        /// The queue wait timeout.
        waited: Duration,
    },
    /// The children's memory left no room for another worker, and no
    /// worker came free within the queue wait timeout.
    #[error("the memory budget of {} is exhausted: the children hold {in_use}; waited {}", Rss::Bytes(*budget), Span(*waited))]
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
    /// Every worker is backing off after a guard tripped, and none will
    /// serve the acquirer in time: their children fail to start, or the
    /// earliest back-off ends after the acquirer's queue timeout.
    #[error(
        "all {workers} workers are backing off; the first tries a fresh child in {}: {last}",
        Span(*retry_after)
    )]
    BackingOff {
        /// Workers in the pool.
        workers: usize,
        /// How long until the first of them tries again.
        retry_after: Duration,
        /// That worker's refusal: [`WorkerError::CrashLoop`] with the last
        /// start-up failure, or [`WorkerError::RestartLimit`].
        last: Arc<WorkerError>,
    },
    /// The session key could not be encoded as JSON.
    #[error("the session key does not encode: {0}")]
    Key(#[source] serde_json::Error),
    /// The child refused or failed to open the session; the worker went
    /// back to the pool without it.
    #[error("could not open the session: {0}")]
    SessionOpen(#[source] WorkerError),
    /// The worker granted could not be started or made ready (spawn
    /// failure, restart limit, crash loop, ...); the pool replaces it in
    /// the background. Displays as the worker's error.
    #[error(transparent)]
    Worker(WorkerError),
}

impl PoolError {
    /// A short, stable name for the kind of refusal, in `snake_case`
    /// (`"queue_timeout"`, `"backing_off"`, ...); a refusal that carries a
    /// worker's error is named after it (see [`WorkerError::kind`]).
    pub fn kind(&self) -> &'static str {
        match self {
            PoolError::Config { .. } => "pool_config",
            PoolError::Exhausted { .. } => "exhausted",
            PoolError::QueueTimeout { .. } => "queue_timeout",
            PoolError::MemoryBudget { .. } => "memory_budget",
            PoolError::ShuttingDown => "shutting_down",
            PoolError::BackingOff { .. } => "backing_off",
            PoolError::Key(_) => "key",
            PoolError::SessionOpen(_) => "session_open",
            PoolError::Worker(error) => error.kind(),
        }
    }
}

/// Why a request run on the pool in one call ([`Pool::call`](super::Pool::call),
/// [`Pool::stream`](super::Pool::stream), a batch's item) failed: no lease
/// was granted, or the request on it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No lease: see [`PoolError`].
    #[error(transparent)]
    Acquire(#[from] PoolError),
    /// The request on the lease failed: see [`WorkerError`].
    #[error(transparent)]
    Request(#[from] WorkerError),
}

impl CallError {
    /// The kind of the refusal or of the request's error.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Acquire(error) => error.kind(),
            CallError::Request(error) => error.kind(),
        }
    }
}
