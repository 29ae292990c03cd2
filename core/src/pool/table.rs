//! The pool's bookkeeping: slots, the wait queue and the counters. Pure
//! state under one lock; the async work happens outside it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::rss::Rss;
use crate::worker::WorkerStats;

use super::parked::{Parked, Probe};
use super::seat::Seat;
use super::{PoolError, PoolSnapshot, SessionKey};

/// A slot handed to an acquirer: its index and its worker, if it has one.
pub(super) type Grant<K> = (usize, Option<Box<Parked<K>>>);

/// Where a queued acquirer is sent its slot, or the reason it gets none.
pub(super) type Reply<K> = oneshot::Sender<Result<Seat<K>, PoolError>>;

/// A worker taken out of slot `.0` to be shut down.
pub(super) type Stopping<K> = (usize, Box<Parked<K>>);

/// An answer for a queued acquirer, to send once the lock is released.
pub(super) type Answer<K> = (Reply<K>, Result<Grant<K>, PoolError>);

/// One place for a worker.
#[derive(Debug)]
pub(super) enum Slot<K> {
    /// No child.
    Empty,
    /// A worker waiting for a lease.
    Idle(Box<Parked<K>>),
    /// A worker out with a lease, or being made ready for one.
    Out(Out<K>),
    /// Granted to an acquirer that is starting its worker.
    Starting,
    /// A worker being shut down.
    Stopping(Probe),
}

/// What the table keeps of a worker that is out.
#[derive(Debug)]
pub(super) struct Out<K> {
    probe: Option<Probe>,
    key: Option<K>,
    stats: WorkerStats,
}

/// How an acquirer is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    /// An idle worker warm for the key.
    Warm(usize),
    /// An idle worker without a session.
    Cold(usize),
    /// An empty slot, for a new worker.
    Spawn(usize),
    /// The least recently used idle worker of another key.
    Evict(usize),
}

/// Someone waiting for a slot.
#[derive(Debug)]
struct Waiter<K: SessionKey> {
    ticket: u64,
    key: K,
    reply: Reply<K>,
}

/// Lease counters over the pool's life.
#[derive(Debug, Default, Clone)]
pub(super) struct Counters {
    pub(super) granted: u64,
    pub(super) refused: u64,
    pub(super) timed_out: u64,
    pub(super) failed: u64,
    pub(super) warm_hits: u64,
    pub(super) sessions_opened: u64,
    pub(super) evictions: u64,
    pub(super) retired_idle: u64,
}

/// The pool's state.
#[derive(Debug)]
pub(super) struct Table<K: SessionKey> {
    slots: Vec<Slot<K>>,
    queue: VecDeque<Waiter<K>>,
    next_ticket: u64,
    max_queue: usize,
    budget: Option<u64>,
    /// Set by shutdown: nothing more is granted.
    pub(super) closing: bool,
    pub(super) counters: Counters,
    /// Stats of workers that left the pool.
    retired: WorkerStats,
    /// The largest RSS a fresh child had, the estimate for the next one.
    largest_startup: u64,
}

impl<K: SessionKey> Table<K> {
    pub(super) fn new(max_workers: usize, max_queue: usize, budget: Option<u64>) -> Self {
        Self {
            slots: (0..max_workers).map(|_| Slot::Empty).collect(),
            queue: VecDeque::new(),
            next_ticket: 0,
            max_queue,
            budget,
            closing: false,
            counters: Counters::default(),
            retired: WorkerStats::default(),
            largest_startup: 0,
        }
    }

    /// Serves `key` at once if a slot allows and nobody waits before it.
    pub(super) fn try_grant(&mut self, key: &K) -> Option<Grant<K>> {
        if self.queue.is_empty() {
            self.pick(key).map(|pick| self.take(pick))
        } else {
            None
        }
    }

    /// Queues an acquirer for `key`; refused when the queue is full.
    pub(super) fn enqueue(&mut self, key: K, reply: Reply<K>) -> Result<u64, PoolError> {
        if self.queue.len() >= self.max_queue {
            return Err(PoolError::Exhausted {
                workers: self.slots.len(),
                queued: self.queue.len(),
            });
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.queue.push_back(Waiter { ticket, key, reply });
        Ok(ticket)
    }

    /// Takes `ticket` out of the queue; false if it was already served.
    pub(super) fn dequeue(&mut self, ticket: u64) -> bool {
        let before = self.queue.len();
        self.queue.retain(|waiter| waiter.ticket != ticket);
        self.queue.len() != before
    }

    /// Serves queued acquirers in arrival order while slots allow. The
    /// grants are to be sent after the lock is released.
    pub(super) fn dispatch(&mut self) -> Vec<Answer<K>> {
        let mut grants = Vec::new();
        while let Some(head) = self.queue.pop_front() {
            if head.reply.is_closed() {
                // Its acquirer stopped waiting and is taking it out.
                continue;
            }
            let Some(pick) = self.pick(&head.key) else {
                self.queue.push_front(head);
                break;
            };
            let grant = self.take(pick);
            grants.push((head.reply, Ok(grant)));
        }
        grants
    }

    /// Refuses every queued acquirer: the pool is closing.
    pub(super) fn close(&mut self) -> Vec<Answer<K>> {
        self.closing = true;
        self.queue
            .drain(..)
            .map(|waiter| (waiter.reply, Err(PoolError::ShuttingDown)))
            .collect()
    }

    /// How `key` can be served now, if at all.
    fn pick(&mut self, key: &K) -> Option<Pick> {
        if self.closing {
            return None;
        }
        let mut warm: Option<(usize, Instant)> = None;
        let mut cold = None;
        let mut empty = None;
        let mut lru: Option<(usize, Instant)> = None;
        let mut refusing = None;
        for (index, slot) in self.slots.iter().enumerate() {
            match slot {
                Slot::Idle(parked) if parked.worker.is_crash_looping() => {
                    refusing = refusing.or(Some(index));
                }
                Slot::Idle(parked) => match parked.warm_key() {
                    Some(warm_key) if warm_key == key => {
                        // The most recently used warm worker.
                        if warm.is_none_or(|(_, since)| parked.since > since) {
                            warm = Some((index, parked.since));
                        }
                    }
                    Some(_) => {
                        if lru.is_none_or(|(_, since)| parked.since < since) {
                            lru = Some((index, parked.since));
                        }
                    }
                    None => cold = cold.or(Some(index)),
                },
                Slot::Empty => empty = empty.or(Some(index)),
                Slot::Out(_) | Slot::Starting | Slot::Stopping(_) => {}
            }
        }
        if let Some((index, _)) = warm {
            return Some(Pick::Warm(index));
        }
        if let Some(index) = cold {
            return Some(Pick::Cold(index));
        }
        if let Some(index) = empty
            && self.room_for_one()
        {
            return Some(Pick::Spawn(index));
        }
        if let Some((index, _)) = lru {
            return Some(Pick::Evict(index));
        }
        // Last, a worker in its crash loop: its acquirer gets the typed
        // error at once instead of waiting for a slot that cannot serve.
        refusing.map(Pick::Cold)
    }

    /// Moves the picked slot out to its acquirer.
    fn take(&mut self, pick: Pick) -> Grant<K> {
        let index = match pick {
            Pick::Evict(index) => {
                self.counters.evictions += 1;
                index
            }
            Pick::Warm(index) | Pick::Cold(index) | Pick::Spawn(index) => index,
        };
        // A worker warm for another key keeps its session until the
        // acquirer opens the new one: should the acquirer give up first,
        // the worker comes back still warm.
        let parked = match std::mem::replace(&mut self.slots[index], Slot::Starting) {
            Slot::Idle(parked) => Some(parked),
            _ => None,
        };
        if let Some(parked) = &parked {
            self.slots[index] = Slot::Out(Out {
                probe: Some(Probe::of(&parked.worker)),
                key: None,
                stats: parked.stats().clone(),
            });
        }
        (index, parked)
    }

    /// Records what the acquirer of slot `index` now holds.
    pub(super) fn update(&mut self, index: usize, parked: &mut Parked<K>) {
        parked.refresh();
        if let Rss::Bytes(bytes) = parked.worker.startup_rss() {
            self.largest_startup = self.largest_startup.max(bytes);
        }
        self.slots[index] = Slot::Out(Out {
            probe: Some(Probe::of(&parked.worker)),
            key: parked.warm_key().cloned(),
            stats: parked.stats().clone(),
        });
    }

    /// Takes slot `index` back from a lease or an acquirer.
    pub(super) fn put_back(&mut self, index: usize, parked: Option<Box<Parked<K>>>) {
        self.slots[index] = match parked {
            Some(mut parked) => {
                parked.since = Instant::now();
                parked.refresh();
                Slot::Idle(parked)
            }
            None => Slot::Empty,
        };
    }

    /// Takes out every worker idle for at least `after` at `now`, for
    /// retirement; also returns when the next one will be due.
    pub(super) fn expired(
        &mut self,
        after: Duration,
        now: Instant,
    ) -> (Vec<Stopping<K>>, Option<Instant>) {
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for index in 0..self.slots.len() {
            let Slot::Idle(parked) = &self.slots[index] else {
                continue;
            };
            let deadline = parked.since + after;
            if deadline <= now {
                due.push(index);
            } else if next.is_none_or(|next| deadline < next) {
                next = Some(deadline);
            }
        }
        let taken = due
            .into_iter()
            .filter_map(|index| self.stop(index).map(|parked| (index, parked)))
            .collect();
        (taken, next)
    }

    /// Takes out every idle worker, for shutdown. `None` while some worker
    /// is still out or starting.
    pub(super) fn drained(&mut self) -> Option<Vec<Stopping<K>>> {
        let busy = self
            .slots
            .iter()
            .any(|slot| matches!(slot, Slot::Out(_) | Slot::Starting | Slot::Stopping(_)));
        if busy {
            return None;
        }
        Some(
            (0..self.slots.len())
                .filter_map(|index| self.stop(index).map(|parked| (index, parked)))
                .collect(),
        )
    }

    /// Marks idle slot `index` as stopping and hands its worker over.
    fn stop(&mut self, index: usize) -> Option<Box<Parked<K>>> {
        match std::mem::replace(&mut self.slots[index], Slot::Empty) {
            Slot::Idle(mut parked) => {
                parked.refresh();
                self.slots[index] = Slot::Stopping(Probe::of(&parked.worker));
                Some(parked)
            }
            other => {
                self.slots[index] = other;
                None
            }
        }
    }

    /// Empties slot `index` after its worker was shut down.
    pub(super) fn stopped(&mut self, index: usize, stats: &WorkerStats) {
        self.slots[index] = Slot::Empty;
        add_stats(&mut self.retired, stats);
    }

    /// Whether the budget leaves room for one more child.
    fn room_for_one(&mut self) -> bool {
        match (self.budget, self.in_use()) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(budget), Some(in_use)) => in_use.saturating_add(self.largest_startup) <= budget,
        }
    }

    /// Whether an empty slot is kept empty by the budget alone.
    pub(super) fn memory_bound(&mut self) -> Option<(u64, Rss)> {
        let budget = self.budget?;
        let has_empty = self.slots.iter().any(|slot| matches!(slot, Slot::Empty));
        if has_empty && !self.room_for_one() {
            Some((budget, self.in_use().map_or(Rss::Unavailable, Rss::Bytes)))
        } else {
            None
        }
    }

    /// The children's RSS added up; `None` when one cannot be measured.
    fn in_use(&mut self) -> Option<u64> {
        let estimate = self.largest_startup;
        self.slots.iter_mut().try_fold(0u64, |sum, slot| {
            let charge = match slot {
                Slot::Empty | Slot::Out(Out { probe: None, .. }) => Some(0),
                Slot::Starting => Some(estimate),
                Slot::Idle(parked) => parked.probe.charge(),
                Slot::Out(Out {
                    probe: Some(probe), ..
                })
                | Slot::Stopping(probe) => probe.charge(),
            };
            charge.map(|charge| sum.saturating_add(charge))
        })
    }

    /// What the pool looks like now.
    pub(super) fn snapshot(&mut self) -> PoolSnapshot<K> {
        let mut snapshot = PoolSnapshot::empty(self.slots.len());
        snapshot.queue_depth = self.queue.len();
        let counters = self.counters.clone();
        snapshot.leases_granted = counters.granted;
        snapshot.leases_refused = counters.refused;
        snapshot.leases_timed_out = counters.timed_out;
        snapshot.leases_failed = counters.failed;
        snapshot.warm_hits = counters.warm_hits;
        snapshot.sessions_opened = counters.sessions_opened;
        snapshot.evictions = counters.evictions;
        snapshot.retired_idle = counters.retired_idle;
        let mut totals = self.retired.clone();
        for slot in &mut self.slots {
            match slot {
                Slot::Empty => {}
                Slot::Starting => snapshot.starting += 1,
                Slot::Stopping(probe) => {
                    snapshot.stopping += 1;
                    snapshot.rss.push(probe.sample());
                }
                Slot::Idle(parked) => {
                    snapshot.idle += 1;
                    snapshot.rss.push(parked.probe.sample());
                    snapshot.add_warm(parked.warm_key());
                    add_stats(&mut totals, parked.stats());
                }
                Slot::Out(out) => {
                    snapshot.leased += 1;
                    snapshot.rss.push(
                        out.probe
                            .as_mut()
                            .map_or(Rss::Unavailable, |probe| probe.sample()),
                    );
                    snapshot.add_warm(out.key.as_ref());
                    add_stats(&mut totals, &out.stats);
                }
            }
        }
        snapshot.set_totals(&totals);
        snapshot
    }
}

/// Adds `from`'s counters to `into`'s.
fn add_stats(into: &mut WorkerStats, from: &WorkerStats) {
    into.requests_ok += from.requests_ok;
    into.requests_failed += from.requests_failed;
    into.rows += from.rows;
    into.bytes_received += from.bytes_received;
    into.bytes_sent += from.bytes_sent;
    into.backpressure_waits += from.backpressure_waits;
    into.restarts += from.restarts;
    for (reason, count) in &from.restarts_by_reason {
        *into.restarts_by_reason.entry(reason).or_default() += count;
    }
}
