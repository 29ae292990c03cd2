use std::collections::BTreeMap;
use std::time::Duration;

use crate::rss::Rss;
use crate::worker::WorkerStats;

use super::table::Counters;

/// What a pool looks like at one moment.
///
/// Counts of workers by state, the sessions they hold, the wait queue,
/// lease outcomes, and totals over every worker the pool ran. Figures of a
/// leased worker are as of its grant; they are brought up to date when the
/// lease ends. A replacement in the background counts as soon as it
/// happens. No process ids or worker identities appear here.
#[derive(Debug, Clone, PartialEq)]
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
    pub next_retry: Option<Duration>,
    /// Session keys held by idle and leased workers, with how many workers
    /// hold each, in no particular order.
    pub warm_keys: Vec<(K, usize)>,
    /// Acquirers waiting now.
    pub queue_depth: usize,
    /// Leases handed out.
    pub leases_granted: u64,
    /// Acquirers refused without a lease before their queue timeout: queue
    /// full, the pool shutting down, or every worker backing off.
    pub leases_refused: u64,
    /// Acquirers that waited out the queue timeout (including those kept
    /// out by the memory budget).
    pub leases_timed_out: u64,
    /// Acquirers that got a slot but no lease: the child could not be
    /// started or made ready, or the session did not open.
    pub leases_failed: u64,
    /// Leases served by a worker already warm for their key.
    pub warm_hits: u64,
    /// Sessions opened on children.
    pub sessions_opened: u64,
    /// Idle workers of another key taken over for a new key.
    pub evictions: u64,
    /// Idle workers shut down after `idle_cycle_after`.
    pub retired_idle: u64,
    /// Child replacements by the stable name of their reason.
    pub restarts: BTreeMap<&'static str, u64>,
    /// Requests that ended their child, by command name.
    pub request_deaths: BTreeMap<String, u64>,
    /// Children that failed before taking a request.
    pub start_failures: u64,
    /// Times a worker's guard tripped and it backed off.
    pub backoffs: u64,
    /// Each running child's resident set size, in no particular order;
    /// `Unavailable` where it could not be sampled.
    pub rss: Vec<Rss>,
    /// Requests that ended in terminal success.
    pub requests_ok: u64,
    /// Requests that ended in any other outcome.
    pub requests_failed: u64,
    /// Rows delivered to sinks.
    pub rows: u64,
    /// Frame bytes received from children.
    pub bytes_received: u64,
    /// Frame bytes sent to children.
    pub bytes_sent: u64,
    /// Times a row sink was not ready, pausing a child (backpressure).
    pub backpressure_waits: u64,
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
            leases_granted: 0,
            leases_refused: 0,
            leases_timed_out: 0,
            leases_failed: 0,
            warm_hits: 0,
            sessions_opened: 0,
            evictions: 0,
            retired_idle: 0,
            restarts: BTreeMap::new(),
            request_deaths: BTreeMap::new(),
            start_failures: 0,
            backoffs: 0,
            rss: Vec::new(),
            requests_ok: 0,
            requests_failed: 0,
            rows: 0,
            bytes_received: 0,
            bytes_sent: 0,
            backpressure_waits: 0,
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

    pub(super) fn set_counters(&mut self, counters: &Counters) {
        self.leases_granted = counters.granted;
        self.leases_refused = counters.refused;
        self.leases_timed_out = counters.timed_out;
        self.leases_failed = counters.failed;
        self.warm_hits = counters.warm_hits;
        self.sessions_opened = counters.sessions_opened;
        self.evictions = counters.evictions;
        self.retired_idle = counters.retired_idle;
    }

    pub(super) fn set_totals(&mut self, totals: &WorkerStats) {
        self.requests_ok = totals.requests_ok;
        self.requests_failed = totals.requests_failed;
        self.rows = totals.rows;
        self.bytes_received = totals.bytes_received;
        self.bytes_sent = totals.bytes_sent;
        self.backpressure_waits = totals.backpressure_waits;
        self.restarts = totals.restarts_by_reason.clone();
        self.request_deaths = totals.request_deaths.clone();
        self.start_failures = totals.start_failures;
        self.backoffs = totals.backoffs;
    }
}
