//! One place for a worker, and what the table knows of it in each state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::rss::Rss;
use crate::worker::{WorkerError, WorkerStats};

use super::parked::{Parked, Probe};

/// One place for a worker.
#[derive(Debug)]
pub(super) enum Slot<K> {
    /// No worker.
    Empty,
    /// A worker with a running child, waiting for a lease.
    Idle(Box<Parked<K>>),
    /// A worker out with a lease, or being made ready for one.
    Out(Out<K>),
    /// Granted to an acquirer that is starting a new worker.
    Starting,
    /// A worker whose child is gone, being replaced in the background.
    Recovering(Recovery),
    /// A worker being shut down.
    Stopping(Probe),
}

/// What the table keeps of a worker that is out.
#[derive(Debug)]
pub(super) struct Out<K> {
    pub(super) probe: Option<Probe>,
    pub(super) key: Option<K>,
    pub(super) stats: WorkerStats,
}

/// What the table keeps of a worker being replaced in the background.
#[derive(Debug)]
pub(super) struct Recovery {
    pub(super) stats: WorkerStats,
    /// Set while the worker backs off after a guard tripped.
    pub(super) backoff: Option<BackedOff>,
}

/// A worker's back-off, as the table sees it.
#[derive(Debug, Clone)]
pub(super) struct BackedOff {
    /// When the worker tries a fresh child.
    pub(super) until: Instant,
    /// Whether its children fail to start (the crash-loop guard), rather
    /// than die in requests (the restart limit).
    pub(super) crash_loop: bool,
    /// The refusal the worker gave.
    pub(super) error: Arc<WorkerError>,
}

impl<K> Slot<K> {
    /// Whether the slot is taken by something that will give it back.
    pub(super) fn is_busy(&self) -> bool {
        matches!(
            self,
            Slot::Out(_) | Slot::Starting | Slot::Recovering(_) | Slot::Stopping(_)
        )
    }

    /// The slot's back-off, if its worker is backing off.
    pub(super) fn backoff(&self) -> Option<&BackedOff> {
        match self {
            Slot::Recovering(Recovery { backoff, .. }) => backoff.as_ref(),
            _ => None,
        }
    }

    /// What the slot counts against the memory budget: its child's RSS;
    /// `estimate` for a child being started; `None` when it cannot be
    /// measured.
    pub(super) fn charge(&mut self, estimate: u64) -> Option<u64> {
        match self {
            Slot::Empty
            | Slot::Out(Out { probe: None, .. })
            | Slot::Recovering(Recovery {
                backoff: Some(_), ..
            }) => Some(0),
            Slot::Starting | Slot::Recovering(Recovery { backoff: None, .. }) => Some(estimate),
            Slot::Idle(parked) => parked.probe.charge(),
            Slot::Out(Out {
                probe: Some(probe), ..
            })
            | Slot::Stopping(probe) => probe.charge(),
        }
    }

    /// The RSS of the slot's child for a snapshot; `None` without a child.
    pub(super) fn sample(&mut self) -> Option<Rss> {
        match self {
            Slot::Idle(parked) => Some(parked.probe.sample()),
            Slot::Out(out) => Some(out.probe.as_mut().map_or(Rss::Unavailable, Probe::sample)),
            Slot::Stopping(probe) => Some(probe.sample()),
            Slot::Empty | Slot::Starting | Slot::Recovering(_) => None,
        }
    }

    /// The slot's counters, if it has a worker the table knows of.
    pub(super) fn stats(&self) -> Option<&WorkerStats>
    where
        K: PartialEq,
    {
        match self {
            Slot::Idle(parked) => Some(parked.stats()),
            Slot::Out(out) => Some(&out.stats),
            Slot::Recovering(recovery) => Some(&recovery.stats),
            Slot::Empty | Slot::Starting | Slot::Stopping(_) => None,
        }
    }
}

impl BackedOff {
    /// How long from `now` until the worker tries again.
    pub(super) fn left(&self, now: Instant) -> Duration {
        self.until.saturating_duration_since(now)
    }
}
