//! The pool's bookkeeping: slots, the wait queue and the counters. Pure
//! state under one lock; the async work happens outside it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::rss::Rss;
use crate::worker::WorkerStats;

use super::parked::{Parked, Probe};
use super::seat::Seat;
use super::slot::{BackedOff, Out, Recovery, Slot};
use super::{LeaseCounts, PoolError, PoolSnapshot, SessionKey};

/// A slot handed to an acquirer, with its worker if it has one.
#[derive(Debug)]
pub(super) struct Grant<K> {
    pub(super) index: usize,
    pub(super) parked: Option<Box<Parked<K>>>,
}

/// Where a queued acquirer is sent its slot, or the reason it gets none.
pub(super) type Reply<K> = oneshot::Sender<Result<Seat<K>, PoolError>>;

/// An answer for a queued acquirer, to send once the lock is released.
#[derive(Debug)]
pub(super) struct Answer<K: SessionKey> {
    pub(super) reply: Reply<K>,
    pub(super) grant: Result<Grant<K>, PoolError>,
}

/// A worker taken out of its slot to be shut down.
#[derive(Debug)]
pub(super) struct Stopping<K: SessionKey> {
    pub(super) index: usize,
    pub(super) parked: Box<Parked<K>>,
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
    /// When the acquirer stops waiting.
    deadline: Instant,
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
    pub(super) leases: LeaseCounts,
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
            leases: LeaseCounts::default(),
            retired: WorkerStats::default(),
            largest_startup: 0,
        }
    }

    /// Serves `key` at once if a slot allows and nobody waits before it;
    /// `Ok(None)` when the acquirer should wait until `deadline`; an error
    /// when no slot can serve it by then.
    pub(super) fn try_grant(
        &mut self,
        key: &K,
        deadline: Instant,
    ) -> Result<Option<Grant<K>>, PoolError> {
        if let Some(refusal) = self.hopeless(deadline) {
            return Err(refusal);
        }
        if !self.queue.is_empty() {
            return Ok(None);
        }
        Ok(self.pick(key).map(|pick| self.take(pick)))
    }

    /// Queues an acquirer for `key` until `deadline`; refused when the
    /// queue is full.
    pub(super) fn enqueue(
        &mut self,
        key: K,
        reply: Reply<K>,
        deadline: Instant,
    ) -> Result<u64, PoolError> {
        if self.queue.len() >= self.max_queue {
            return Err(PoolError::Exhausted {
                workers: self.slots.len(),
                queued: self.queue.len(),
            });
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.queue.push_back(Waiter {
            ticket,
            key,
            reply,
            deadline,
        });
        Ok(ticket)
    }

    /// Takes `ticket` out of the queue; false if it was already served.
    pub(super) fn dequeue(&mut self, ticket: u64) -> bool {
        let before = self.queue.len();
        self.queue.retain(|waiter| waiter.ticket != ticket);
        self.queue.len() != before
    }

    /// Serves queued acquirers in arrival order while slots allow, then
    /// refuses those no slot can serve before their deadline. The answers
    /// are to be sent after the lock is released.
    pub(super) fn dispatch(&mut self) -> Vec<Answer<K>> {
        let mut answers = Vec::new();
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
            answers.push(Answer {
                reply: head.reply,
                grant: Ok(grant),
            });
        }
        let mut waiting = VecDeque::with_capacity(self.queue.len());
        while let Some(waiter) = self.queue.pop_front() {
            match self.hopeless(waiter.deadline) {
                Some(refusal) => {
                    self.leases.refused += 1;
                    answers.push(Answer {
                        reply: waiter.reply,
                        grant: Err(refusal),
                    });
                }
                None => waiting.push_back(waiter),
            }
        }
        self.queue = waiting;
        answers
    }

    /// Refuses every queued acquirer: the pool is closing.
    pub(super) fn close(&mut self) -> Vec<Answer<K>> {
        self.closing = true;
        self.queue
            .drain(..)
            .map(|waiter| Answer {
                reply: waiter.reply,
                grant: Err(PoolError::ShuttingDown),
            })
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
        for (index, slot) in self.slots.iter().enumerate() {
            match slot {
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
                // Out, starting, being replaced, backing off or stopping:
                // nothing to grant now.
                _ => {}
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
        lru.map(|(index, _)| Pick::Evict(index))
    }

    /// The refusal for an acquirer waiting until `deadline` when every slot
    /// is backing off and none will serve it: because their children fail
    /// to start, or because the earliest back-off ends after the deadline.
    fn hopeless(&self, deadline: Instant) -> Option<PoolError> {
        let earliest = self.all_backing_off()?;
        let crash_loops = self
            .slots
            .iter()
            .all(|slot| slot.backoff().is_some_and(|backoff| backoff.crash_loop));
        (crash_loops || earliest.until > deadline).then(|| backing_off(self.slots.len(), earliest))
    }

    /// The earliest back-off, when every slot is backing off.
    fn all_backing_off(&self) -> Option<&BackedOff> {
        self.slots
            .iter()
            .try_fold(None, |earliest: Option<&BackedOff>, slot| {
                let backoff = slot.backoff()?;
                Some(Some(match earliest {
                    Some(earliest) if earliest.until <= backoff.until => earliest,
                    _ => backoff,
                }))
            })?
    }

    /// Why an acquirer that waited out its queue timeout got nothing.
    pub(super) fn timeout_error(&mut self, waited: Duration) -> PoolError {
        if let Some(earliest) = self.all_backing_off() {
            return backing_off(self.slots.len(), earliest);
        }
        match self.memory_bound() {
            Some((budget, in_use)) => PoolError::MemoryBudget {
                budget,
                in_use,
                waited,
            },
            None => PoolError::QueueTimeout { waited },
        }
    }

    /// Moves the picked slot out to its acquirer.
    fn take(&mut self, pick: Pick) -> Grant<K> {
        let index = match pick {
            Pick::Evict(index) => {
                self.leases.evictions += 1;
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
        Grant { index, parked }
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

    /// Takes slot `index` back from a lease, an acquirer or a replacement.
    /// A worker whose child is gone is handed back for replacement in the
    /// background (unless the pool is closing), and its slot marked so.
    pub(super) fn put_back(
        &mut self,
        index: usize,
        parked: Option<Box<Parked<K>>>,
    ) -> Option<Box<Parked<K>>> {
        let (slot, replace) = match parked {
            // Its acquirer gave up before the first start: nothing to keep.
            Some(parked) if parked.worker.generation() == 0 => (Slot::Empty, None),
            Some(parked) if parked.worker.info().is_none() && !self.closing => {
                let recovery = Recovery {
                    stats: parked.stats().clone(),
                    backoff: None,
                };
                (Slot::Recovering(recovery), Some(parked))
            }
            Some(mut parked) => {
                parked.since = Instant::now();
                parked.refresh();
                if let Rss::Bytes(bytes) = parked.worker.startup_rss() {
                    self.largest_startup = self.largest_startup.max(bytes);
                }
                (Slot::Idle(parked), None)
            }
            None => (Slot::Empty, None),
        };
        self.slots[index] = slot;
        replace
    }

    /// Records the latest of a worker being replaced in slot `index`:
    /// its counters, and its back-off if it is backing off.
    pub(super) fn recovering(
        &mut self,
        index: usize,
        stats: &WorkerStats,
        backoff: Option<BackedOff>,
    ) {
        self.slots[index] = Slot::Recovering(Recovery {
            stats: stats.clone(),
            backoff,
        });
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
            .filter_map(|index| self.stop(index))
            .collect();
        (taken, next)
    }

    /// Takes out every idle worker, for shutdown. `None` while some worker
    /// is still out, starting, being replaced or stopping.
    pub(super) fn drained(&mut self) -> Option<Vec<Stopping<K>>> {
        if self.slots.iter().any(Slot::is_busy) {
            return None;
        }
        Some(
            (0..self.slots.len())
                .filter_map(|index| self.stop(index))
                .collect(),
        )
    }

    /// Marks idle slot `index` as stopping and hands its worker over.
    fn stop(&mut self, index: usize) -> Option<Stopping<K>> {
        match std::mem::replace(&mut self.slots[index], Slot::Empty) {
            Slot::Idle(mut parked) => {
                parked.refresh();
                self.slots[index] = Slot::Stopping(Probe::of(&parked.worker));
                Some(Stopping { index, parked })
            }
            other => {
                self.slots[index] = other;
                None
            }
        }
    }

    /// Empties slot `index` after its worker left the pool (shut down, or
    /// given up while being replaced).
    pub(super) fn stopped(&mut self, index: usize, stats: &WorkerStats) {
        self.slots[index] = Slot::Empty;
        self.retired.add(stats);
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
    fn memory_bound(&mut self) -> Option<(u64, Rss)> {
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
            slot.charge(estimate)
                .map(|charge| sum.saturating_add(charge))
        })
    }

    /// What the pool looks like now.
    pub(super) fn snapshot(&mut self) -> PoolSnapshot<K> {
        let mut snapshot = PoolSnapshot::empty(self.slots.len());
        snapshot.queue_depth = self.queue.len();
        snapshot.leases = self.leases.clone();
        let now = Instant::now();
        let mut totals = WorkerStats::default();
        totals.add(&self.retired);
        for slot in &mut self.slots {
            if let Some(rss) = slot.sample() {
                snapshot.rss.push(rss);
            }
            if let Some(stats) = slot.stats() {
                totals.add(stats);
            }
            match slot {
                Slot::Empty => {}
                Slot::Starting => snapshot.starting += 1,
                Slot::Stopping(_) => snapshot.stopping += 1,
                Slot::Idle(parked) => {
                    snapshot.idle += 1;
                    snapshot.add_warm(parked.warm_key());
                }
                Slot::Out(out) => {
                    snapshot.leased += 1;
                    snapshot.add_warm(out.key.as_ref());
                }
                Slot::Recovering(Recovery { backoff: None, .. }) => snapshot.replacing += 1,
                Slot::Recovering(Recovery {
                    backoff: Some(backoff),
                    ..
                }) => {
                    snapshot.backing_off += 1;
                    let left = backoff.left(now);
                    snapshot.next_retry =
                        Some(snapshot.next_retry.map_or(left, |next| next.min(left)));
                }
            }
        }
        snapshot.totals = totals;
        snapshot
    }
}

/// The refusal naming the earliest of the back-offs of all `workers`.
fn backing_off(workers: usize, earliest: &BackedOff) -> PoolError {
    PoolError::BackingOff {
        workers,
        retry_after: earliest.left(Instant::now()),
        last: Arc::clone(&earliest.error),
    }
}

#[cfg(test)]
mod tests;
