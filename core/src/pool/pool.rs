//! The pool handle: acquiring leases, snapshots, shutdown.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::wire::SESSION_COMMAND;
use crate::worker::{Claim, ShutdownReport, Worker, WorkerBuilder, WorkerStats};

use super::parked::Parked;
use super::recovery::recover;
use super::seat::Seat;
use super::table::{Answer, Grant, Stopping, Table};
use super::{Lease, PoolBuilder, PoolConfig, PoolError, PoolSnapshot, SessionKey};

/// Several supervised workers, handed out one lease at a time each, with
/// warm reuse by [`SessionKey`].
///
/// [`acquire`](Pool::acquire) prefers an idle worker already warm for the
/// key; else an idle worker holding no session; else starts a new worker if
/// `max_workers` and the memory budget allow; else takes over the least
/// recently used idle worker of another key; else waits in a FIFO queue.
/// Only workers with a running child are granted: a worker whose child
/// died is replaced in the background, and one backing off after a guard
/// tripped is restarted when its back-off ends, while the others serve.
/// Leases on different workers run in parallel. Cloning a `Pool` gives
/// another handle to the same pool.
///
/// ```no_run
/// # async fn demo(transport: impl bulkhead::Transport) -> Result<(), Box<dyn std::error::Error>> {
/// use bulkhead::pool::Pool;
/// # #[derive(serde::Serialize, serde::Deserialize, bulkhead::Command)]
/// # #[command(response = String)]
/// # struct Prove { goal: String }
///
/// let pool: Pool<String> =
///     Pool::builder(bulkhead::Worker::builder("my-child").transport(transport))
///         .max_workers(2)
///         .build()?;
/// let mut lease = pool.acquire("Mathlib.Data.Nat".to_owned()).await?;
/// let proof = lease.call(&Prove { goal: "1 + 1 = 2".into() }).await?;
/// drop(lease); // the worker goes back to the pool, still warm
/// pool.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub struct Pool<K: SessionKey> {
    shared: Arc<Shared<K>>,
}

/// What the pool's handles, seats and idle-retirement task share.
pub(super) struct Shared<K: SessionKey> {
    table: Mutex<Table<K>>,
    pub(super) config: PoolConfig,
    /// Generation numbers, unique across the pool's workers.
    numbering: Arc<AtomicU64>,
    /// Notified whenever a slot comes back or a worker finished stopping.
    returned: Notify,
    /// Where replacements run in the background.
    runtime: Handle,
    /// Cancelled when the pool starts shutting down.
    pub(super) closing: CancellationToken,
}

impl<K: SessionKey> Pool<K> {
    /// A builder for a pool whose workers are configured by `worker`.
    pub fn builder(worker: WorkerBuilder) -> PoolBuilder<K> {
        PoolBuilder::new(worker)
    }

    /// A pool from a checked configuration. Must be called within a tokio
    /// runtime: replacements and idle retirement run as tasks on it.
    pub fn new(config: PoolConfig) -> Result<Self, PoolError> {
        if config.max_workers == 0 {
            return Err(PoolError::Config {
                reason: "max_workers must be at least 1",
            });
        }
        let runtime = Handle::try_current().map_err(|_| PoolError::Config {
            reason: "the pool must be built within a tokio runtime",
        })?;
        let table = Table::new(config.max_workers, config.max_queue, config.rss_budget);
        let shared = Arc::new(Shared {
            table: Mutex::new(table),
            config,
            numbering: Arc::new(AtomicU64::new(0)),
            returned: Notify::new(),
            runtime,
            closing: CancellationToken::new(),
        });
        if let Some(after) = shared.config.idle_cycle_after {
            shared
                .runtime
                .spawn(retire_idle(Arc::downgrade(&shared), after));
        }
        Ok(Self { shared })
    }

    /// A lease on a worker warm for `key`: waits in the queue if need be,
    /// starts the worker or opens the session on it if need be.
    pub async fn acquire(&self, key: K) -> Result<Lease<K>, PoolError> {
        let span = tracing::info_span!(
            "acquire",
            key = ?key,
            queue_wait_ms = tracing::field::Empty,
            generation = tracing::field::Empty,
        );
        self.acquire_in(key, &span).instrument(span.clone()).await
    }

    async fn acquire_in(&self, key: K, span: &tracing::Span) -> Result<Lease<K>, PoolError> {
        let began = Instant::now();
        let admitted = self.admit(&key).await;
        let waited = began.elapsed();
        span.record("queue_wait_ms", waited.as_secs_f64() * 1_000.0);
        crate::metrics::queue_wait(
            waited,
            admitted
                .as_ref()
                .map_or_else(PoolError::kind, |_| "granted"),
        );
        let mut seat = admitted?;
        let prepared = prepare(&mut seat, &key).await;
        if let Ok(claim) = &prepared {
            span.record("generation", claim.generation);
        }
        match prepared {
            Ok(claim) => {
                self.shared.lock().leases.granted += 1;
                Ok(Lease::new(seat, key, claim))
            }
            Err(error) => {
                self.shared.lock().leases.failed += 1;
                Err(error)
            }
        }
    }

    /// Takes a slot for `key`, at once or after waiting in the queue.
    async fn admit(&self, key: &K) -> Result<Seat<K>, PoolError> {
        let shared = &self.shared;
        let (reply, mut granted) = oneshot::channel();
        let waited = shared.config.queue_wait_timeout;
        let deadline = Instant::now() + waited;
        let ticket = {
            let mut table = shared.lock();
            if table.closing {
                table.leases.refused += 1;
                return Err(PoolError::ShuttingDown);
            }
            let refused = match table.try_grant(key, deadline) {
                Ok(Some(Grant { index, parked })) => {
                    return Ok(Seat::new(Arc::clone(shared), index, parked));
                }
                Ok(None) => table.enqueue(key.clone(), reply, deadline),
                Err(refusal) => Err(refusal),
            };
            match refused {
                Ok(ticket) => Ticket { shared, ticket },
                Err(error) => {
                    table.leases.refused += 1;
                    return Err(error);
                }
            }
        };
        let late = match tokio::time::timeout_at(deadline.into(), &mut granted).await {
            Ok(reply) => return reply.unwrap_or(Err(PoolError::ShuttingDown)),
            Err(_elapsed) => {
                let mut table = shared.lock();
                if table.dequeue(ticket.ticket) {
                    table.leases.timed_out += 1;
                    return Err(table.timeout_error(waited));
                }
                // Served as the timer fired: the slot is on its way.
                granted
            }
        };
        late.await.unwrap_or(Err(PoolError::ShuttingDown))
    }

    /// What the pool looks like now.
    pub fn snapshot(&self) -> PoolSnapshot<K> {
        self.shared.lock().snapshot()
    }

    /// The configuration the pool runs with.
    pub fn config(&self) -> &PoolConfig {
        &self.shared.config
    }

    /// Shuts the pool down gracefully: refuses new and queued acquirers
    /// with [`PoolError::ShuttingDown`], waits for every lease to end, then
    /// shuts every worker down (shutdown frame, terminate, kill, reap) and
    /// returns their reports. Waits as long as leases are held; bound it
    /// with a timeout if holders may not let go.
    pub async fn shutdown(&self) -> Vec<ShutdownReport> {
        let answers = self.shared.lock().close();
        self.shared.closing.cancel();
        Shared::send(&self.shared, answers);
        let workers = loop {
            let returned = self.shared.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if let Some(workers) = self.shared.lock().drained() {
                break workers;
            }
            returned.await;
        };
        let stops = workers
            .into_iter()
            .map(|Stopping { index, mut parked }| async move {
                let report = parked.worker.shutdown().await;
                self.shared.lock().stopped(index, parked.stats());
                // Another shutdown may be waiting for the slots to empty.
                self.shared.returned.notify_waiters();
                report
            });
        futures_util::future::join_all(stops).await
    }
}

impl<K: SessionKey> Clone for Pool<K> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K: SessionKey> std::fmt::Debug for Pool<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("program", &self.shared.config.worker.program)
            .field("max_workers", &self.shared.config.max_workers)
            .finish_non_exhaustive()
    }
}

impl<K: SessionKey> std::fmt::Debug for Shared<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl<K: SessionKey> Shared<K> {
    pub(super) fn lock(&self) -> MutexGuard<'_, Table<K>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes slot `index` back, serves the queue with it, and wakes a
    /// waiting shutdown. A worker whose child is gone is replaced in the
    /// background.
    pub(super) fn give_back(this: &Arc<Self>, index: usize, parked: Option<Box<Parked<K>>>) {
        let mut replace = None;
        Self::changed(this, |table| replace = table.put_back(index, parked));
        if let Some(parked) = replace {
            this.runtime
                .spawn(recover(Arc::downgrade(this), index, parked));
        }
    }

    /// Applies `change` to the table, then serves (or refuses) queued
    /// acquirers and wakes a waiting shutdown.
    pub(super) fn changed(this: &Arc<Self>, change: impl FnOnce(&mut Table<K>)) {
        let answers = {
            let mut table = this.lock();
            change(&mut table);
            let answers = table.dispatch();
            #[cfg(feature = "metrics")]
            crate::metrics::workers(&table.snapshot());
            answers
        };
        this.returned.notify_waiters();
        Self::send(this, answers);
    }

    /// Sends queued acquirers their answers. A slot whose acquirer left
    /// meanwhile comes back through [`give_back`](Self::give_back).
    fn send(this: &Arc<Self>, answers: Vec<Answer<K>>) {
        let mut unclaimed = Vec::new();
        for Answer { reply, grant } in answers {
            let answer =
                grant.map(|Grant { index, parked }| Seat::new(Arc::clone(this), index, parked));
            if let Err(Ok(seat)) = reply.send(answer) {
                unclaimed.push(seat.into_parts());
            }
        }
        for (index, parked) in unclaimed {
            Self::give_back(this, index, parked);
        }
    }

    /// Empties slot `index` after its worker left the pool, and serves
    /// the queue with it.
    pub(super) fn retired(this: &Arc<Self>, index: usize, stats: &WorkerStats) {
        Self::changed(this, |table| {
            table.stopped(index, stats);
            table.leases.retired_idle += 1;
        });
    }
}

/// A place in the queue, given up if the acquirer stops waiting.
struct Ticket<'p, K: SessionKey> {
    shared: &'p Arc<Shared<K>>,
    ticket: u64,
}

impl<K: SessionKey> Drop for Ticket<'_, K> {
    fn drop(&mut self) {
        self.shared.lock().dequeue(self.ticket);
    }
}

/// Makes the seat's worker ready for a lease on `key`: starts it if the
/// slot was empty, lets its restart policy cycle it, opens the session.
/// A worker that fails here goes back to be replaced in the background.
async fn prepare<K: SessionKey>(seat: &mut Seat<K>, key: &K) -> Result<Claim, PoolError> {
    let shared = Arc::clone(seat.shared());
    let index = seat.index();
    let parked = seat.parked.get_or_insert_with(|| {
        let worker = Worker::unstarted(
            shared.config.worker.clone(),
            Some(Arc::clone(&shared.numbering)),
        );
        Box::new(Parked::new(worker))
    });
    parked
        .worker
        .ready(false)
        .await
        .map_err(PoolError::Worker)?;
    let sessions = parked.worker.info().is_some_and(|info| info.sessions);
    if parked.warm_for(key) {
        shared.lock().leases.warm_hits += 1;
    } else if sessions {
        parked.cool();
        let args = serde_json::value::to_raw_value(key).map_err(PoolError::Key)?;
        let span = tracing::info_span!(
            "session_open",
            key = ?key,
            generation = parked.worker.generation()
        );
        parked
            .worker
            .raw_request(SESSION_COMMAND, &args)
            .opens_session()
            .call_raw()
            .instrument(span)
            .await
            .map_err(PoolError::SessionOpen)?;
        parked.warmed(key.clone());
        shared.lock().leases.sessions_opened += 1;
    }
    let claim = Claim::new(parked.worker.generation());
    shared.lock().update(index, parked);
    Ok(claim)
}

/// Shuts down workers idle for `after`, until the pool is gone or closing.
/// Holds the pool only while working, so that dropping the last handle
/// ends it.
async fn retire_idle<K: SessionKey>(pool: Weak<Shared<K>>, after: Duration) {
    let mut wake = Instant::now() + after;
    loop {
        tokio::time::sleep_until(wake.into()).await;
        let Some(shared) = pool.upgrade() else {
            return;
        };
        let (due, next) = {
            let mut table = shared.lock();
            if table.closing {
                return;
            }
            table.expired(after, Instant::now())
        };
        for Stopping { index, mut parked } in due {
            let report = parked.worker.shutdown().await;
            tracing::debug!(step = ?report.step, "idle worker retired");
            Shared::retired(&shared, index, parked.stats());
        }
        // A worker parked later is due no earlier than `after` from now.
        wake = next.unwrap_or_else(|| Instant::now() + after);
    }
}
