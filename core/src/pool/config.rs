use std::marker::PhantomData;
use std::time::Duration;

use crate::policy::{PolicyFactory, RssCeiling, UnavailablePolicy, any};
use crate::worker::{WorkerBuilder, WorkerConfig};

use super::{Pool, PoolError, SessionKey};

/// Everything a [`Pool`] needs: how to run each worker, and the pool's own
/// limits. Built with [`PoolBuilder`]; each setter there documents its
/// default.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// How each worker runs its children. The pool's per-worker RSS
    /// ceiling, if any, is already part of its restart policy.
    pub worker: WorkerConfig,
    /// Workers (children) at most; each serves one lease at a time.
    pub max_workers: usize,
    /// Acquirers waiting at most; one more is refused.
    pub max_queue: usize,
    /// How long an acquirer may wait in the queue.
    pub queue_wait_timeout: Duration,
    /// Idle workers are shut down after this long without a lease.
    pub idle_cycle_after: Option<Duration>,
    /// Total resident set size of all children above which no worker is
    /// added.
    pub rss_budget: Option<u64>,
    /// Resident set size above which a worker is cycled before its next
    /// request, a grant included.
    pub worker_rss_ceiling: Option<u64>,
}

/// Builds a [`Pool`].
///
/// ```no_run
/// # async fn demo(transport: impl bulkhead::Transport) -> Result<(), bulkhead::pool::PoolError> {
/// use std::time::Duration;
/// use bulkhead::pool::Pool;
///
/// let pool: Pool<String> = Pool::builder(
///     bulkhead::Worker::builder("target/release/my-child").transport(transport),
/// )
/// .max_workers(4)
/// .queue_wait_timeout(Duration::from_secs(10))
/// .rss_budget(8 << 30)
/// .build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct PoolBuilder<K> {
    worker: WorkerBuilder,
    max_workers: usize,
    max_queue: usize,
    queue_wait_timeout: Duration,
    idle_cycle_after: Option<Duration>,
    rss_budget: Option<u64>,
    worker_rss_ceiling: Option<u64>,
    ceiling_unavailable: UnavailablePolicy,
    key: PhantomData<fn(K)>,
}

impl<K: SessionKey> PoolBuilder<K> {
    /// A builder whose workers are configured by `worker`, with every pool
    /// default.
    pub fn new(worker: WorkerBuilder) -> Self {
        Self {
            worker,
            max_workers: std::thread::available_parallelism().map_or(1, usize::from),
            max_queue: 1024,
            queue_wait_timeout: Duration::from_secs(30),
            idle_cycle_after: Some(Duration::from_secs(300)),
            rss_budget: None,
            worker_rss_ceiling: None,
            ceiling_unavailable: UnavailablePolicy::Keep,
            key: PhantomData,
        }
    }

    /// Runs at most `n` workers at once. Default: the machine's available
    /// parallelism. Must be at least 1.
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = n;
        self
    }

    /// Lets at most `n` acquirers wait for a worker; the next one is refused
    /// with [`PoolError::Exhausted`]. Default: 1024. With 0, an acquirer that
    /// cannot be served at once is refused.
    pub fn max_queue(mut self, n: usize) -> Self {
        self.max_queue = n;
        self
    }

    /// How long an acquirer may wait in the queue before it gets
    /// [`PoolError::QueueTimeout`] (or [`PoolError::MemoryBudget`] when the
    /// budget was what kept it waiting). Default: 30 s.
    pub fn queue_wait_timeout(mut self, timeout: Duration) -> Self {
        self.queue_wait_timeout = timeout;
        self
    }

    /// Shuts down workers that have been idle this long, freeing their
    /// memory; the slot is refilled on demand. Default: 5 minutes.
    pub fn idle_cycle_after(mut self, idle: Duration) -> Self {
        self.idle_cycle_after = Some(idle);
        self
    }

    /// Keeps idle workers however long they idle, instead of shutting them
    /// down after [`idle_cycle_after`](Self::idle_cycle_after).
    pub fn keep_idle_workers(mut self) -> Self {
        self.idle_cycle_after = None;
        self
    }

    /// Adds no worker while the children's resident set sizes add up to
    /// `bytes` or more, counting the new child at the largest startup size
    /// seen so far. A child whose size cannot be sampled counts as over
    /// budget. Default: no budget.
    pub fn rss_budget(mut self, bytes: u64) -> Self {
        self.rss_budget = Some(bytes);
        self
    }

    /// Cycles a worker whose child is above `bytes` resident before it is
    /// granted (and before each request of a lease, which then goes stale).
    /// Added to the workers' restart policy as an
    /// [`RssCeiling`](crate::policy::RssCeiling); `on_unavailable` says
    /// what an unsampleable child gets. Default: no ceiling.
    pub fn worker_rss_ceiling(mut self, bytes: u64, on_unavailable: UnavailablePolicy) -> Self {
        self.worker_rss_ceiling = Some(bytes);
        self.ceiling_unavailable = on_unavailable;
        self
    }

    /// The configuration, with the worker settings checked; the pool's own
    /// are checked by [`Pool::new`].
    pub fn config(self) -> Result<PoolConfig, PoolError> {
        let mut worker = self.worker.build().map_err(PoolError::Worker)?;
        if let Some(ceiling) = self.worker_rss_ceiling {
            let ceiling = RssCeiling::new(ceiling).on_unavailable(self.ceiling_unavailable);
            let inner = worker.policy.clone();
            worker.policy = PolicyFactory::new(move || any(inner.make(), ceiling));
        }
        Ok(PoolConfig {
            worker,
            max_workers: self.max_workers,
            max_queue: self.max_queue,
            queue_wait_timeout: self.queue_wait_timeout,
            idle_cycle_after: self.idle_cycle_after,
            rss_budget: self.rss_budget,
            worker_rss_ceiling: self.worker_rss_ceiling,
        })
    }

    /// Builds the pool. No child starts until the first lease is acquired.
    /// Must be called within a tokio runtime: replacements in the
    /// background and idle retirement run as tasks on it.
    pub fn build(self) -> Result<Pool<K>, PoolError> {
        Pool::new(self.config()?)
    }
}
