use std::time::Duration;

use crate::rss::Rss;
use crate::worker::WorkerStats;

/// What a pool looks like at one moment.
///
/// Counts of workers by state, the sessions they hold, the wait queue,
/// what became of acquirers ([`LeaseCounts`]), and the counters of every
/// worker the pool ran, added up ([`WorkerStats`]). Figures of a leased
/// worker are as of its grant; they are brought up to date when the lease
/// ends. A replacement in the background counts as soon as it happens. No
/// process ids or worker identities appear here.
///
/// Serializes with serde, for dashboards and logs: `next_retry` as
/// `next_retry_ms`, RSS figures as bytes or `null`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct PoolSnapshot<K> {
    /// Workers the pool runs at most.
    pub max_workers: usize,
    /// Workers waiting for a lease.
    pub idle: usize,
    /// Workers out with a lease (or being made ready for one).
    pub leased: usize,
    /// Slots granted to an acquirer that is starting a child for them.
    pub starting: usize,
    /// Workers being shut down.
    pub stopping: usize,
    /// Workers whose child is gone, being replaced in the background.
    pub replacing: usize,
    /// Workers backing off after a guard tripped (see
    /// [`WorkerBuilder::backoff`](crate::WorkerBuilder::backoff)); the
    /// pool restarts each when its back-off ends.
    pub backing_off: usize,
    /// How long until the first of the workers backing off tries again.
    #[serde(rename = "next_retry_ms", serialize_with = "crate::describe::millis")]
    pub next_retry: Option<Duration>,
    /// Session keys held by idle and leased workers, with how many workers
    /// hold each, in no particular order.
    pub warm_keys: Vec<(K, usize)>,
    /// Acquirers waiting now.
    pub queue_depth: usize,
    /// What became of acquirers and leases over the pool's life.
    pub leases: LeaseCounts,
    /// Each running child's resident set size, in no particular order;
    /// `Unavailable` where it could not be sampled.
    pub rss: Vec<Rss>,
    /// The counters of every worker the pool ran, added up: requests, rows,
    /// bytes, replacements by reason, request deaths by command, start-up
    /// failures, back-offs. Its `generation`, `rss` and `peak_rss` are not
    /// kept (see [`rss`](Self::rss) for the children's sizes).
    pub totals: WorkerStats,
}

/// What became of a pool's acquirers and leases.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct LeaseCounts {
    /// Leases handed out.
    pub granted: u64,
    /// Acquirers refused without a lease before their queue timeout: queue
    /// full, the pool shutting down, or every worker backing off.
    pub refused: u64,
    /// Acquirers that waited out the queue timeout (including those kept
    /// out by the memory budget).
    pub timed_out: u64,
    /// Acquirers that got a slot but no lease: the child could not be
    /// started or made ready, or the session did not open.
    pub failed: u64,
    /// Leases served by a worker already warm for their key.
    pub warm_hits: u64,
    /// Sessions opened on children.
    pub sessions_opened: u64,
    /// Idle workers of another key taken over for a new key.
    pub evictions: u64,
    /// Workers shut down after `idle_cycle_after` (idle, or failing for
    /// that long).
    pub retired_idle: u64,
}

impl<K: PartialEq> PoolSnapshot<K> {
    pub(super) fn empty(max_workers: usize) -> Self {
        Self {
            max_workers,
            idle: 0,
            leased: 0,
            starting: 0,
            stopping: 0,
            replacing: 0,
            backing_off: 0,
            next_retry: None,
            warm_keys: Vec::new(),
            queue_depth: 0,
            leases: LeaseCounts::default(),
            rss: Vec::new(),
            totals: WorkerStats::default(),
        }
    }

    /// The total RSS of the running children; `Unavailable` if any one
    /// could not be sampled.
    pub fn rss_total(&self) -> Rss {
        self.rss
            .iter()
            .try_fold(0u64, |sum, rss| rss.bytes().map(|bytes| sum + bytes))
            .map_or(Rss::Unavailable, Rss::Bytes)
    }

    /// Workers in the pool: everything but empty slots.
    pub fn workers(&self) -> usize {
        self.idle + self.leased + self.starting + self.stopping + self.replacing + self.backing_off
    }

    pub(super) fn add_warm(&mut self, key: Option<&K>)
    where
        K: Clone,
    {
        let Some(key) = key else { return };
        match self.warm_keys.iter_mut().find(|(held, _)| held == key) {
            Some((_, count)) => *count += 1,
            None => self.warm_keys.push((key.clone(), 1)),
        }
    }
}
