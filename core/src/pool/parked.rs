//! A worker between leases, with the warm state it holds.

use std::time::Instant;

use crate::rss::{Rss, RssSampler};
use crate::worker::{Worker, WorkerStats};

/// A worker owned by the pool, with what the pool knows about it.
#[derive(Debug)]
pub(super) struct Parked<K> {
    pub(super) worker: Worker,
    /// The session key the current generation opened, if any.
    warm: Option<(K, u64)>,
    /// When the worker last came back from a lease (or was started).
    pub(super) since: Instant,
    /// Samples the current child's RSS from outside the worker, so that the
    /// budget can count leased workers too.
    pub(super) probe: Probe,
}

impl<K: PartialEq> Parked<K> {
    pub(super) fn new(worker: Worker) -> Self {
        let probe = Probe::of(&worker);
        Self {
            worker,
            warm: None,
            since: Instant::now(),
            probe,
        }
    }

    /// Whether the running generation holds the session for `key`.
    pub(super) fn warm_for(&self, key: &K) -> bool {
        self.warm_key() == Some(key)
    }

    /// The session the running generation holds, if any.
    pub(super) fn warm_key(&self) -> Option<&K> {
        match &self.warm {
            Some((key, generation))
                if *generation == self.worker.generation() && self.worker.info().is_some() =>
            {
                Some(key)
            }
            _ => None,
        }
    }

    /// Records that the running generation opened the session for `key`.
    pub(super) fn warmed(&mut self, key: K) {
        self.warm = Some((key, self.worker.generation()));
    }

    /// Forgets the session, if the child holds one.
    pub(super) fn cool(&mut self) {
        self.warm = None;
    }

    /// Points the probe at the current generation.
    pub(super) fn refresh(&mut self) {
        if self.probe.generation != self.worker.generation() {
            self.probe = Probe::of(&self.worker);
        }
    }

    pub(super) fn stats(&self) -> &WorkerStats {
        self.worker.stats()
    }
}

/// An RSS sampler for one generation.
#[derive(Debug)]
pub(super) struct Probe {
    generation: u64,
    sampler: Option<RssSampler>,
    /// Whether a sample ever succeeded: after that, an unavailable sample
    /// means the process is gone, not that it cannot be measured.
    measured: bool,
}

impl Probe {
    /// A probe of `worker`'s current child, sampled once.
    pub(super) fn of(worker: &Worker) -> Self {
        let mut probe = Self {
            generation: worker.generation(),
            sampler: worker.pid().map(RssSampler::new),
            measured: false,
        };
        probe.sample();
        probe
    }

    /// The child's RSS now.
    pub(super) fn sample(&mut self) -> Rss {
        let rss = self
            .sampler
            .as_mut()
            .map_or(Rss::Unavailable, RssSampler::sample);
        self.measured |= rss.bytes().is_some();
        rss
    }

    /// What the child counts against the budget: its RSS; nothing once it
    /// is known to be gone; `None` when it cannot be measured.
    pub(super) fn charge(&mut self) -> Option<u64> {
        match (self.sample(), &self.sampler) {
            (Rss::Bytes(bytes), _) => Some(bytes),
            (Rss::Unavailable, None) => Some(0),
            (Rss::Unavailable, Some(_)) if self.measured => Some(0),
            (Rss::Unavailable, Some(_)) => None,
        }
    }
}
