//! A pool of supervised workers with warm reuse by session key.
//!
//! A *session key* ([`SessionKey`]) names the expensive warm state a child
//! holds: the modules a prover imported, the model an inference worker
//! loaded. [`Pool::acquire`] hands out a [`Lease`] on a worker warm for the
//! key, opening the session on it first when needed (the child serves
//! sessions through `bulkhead_child::Capability::session`). Leases on
//! different workers run in parallel; each worker serves one lease at a
//! time.
//!
//! Admission is bounded: at most `max_workers` children, at most
//! `max_queue` acquirers waiting in arrival order for at most
//! `queue_wait_timeout`, and optionally a total RSS budget over all
//! children. Every refusal is a typed [`PoolError`]. A lease is bound to the
//! child generation it was granted under; once that generation ends (or a
//! request on the lease is cancelled) its requests fail with
//! [`WorkerError::StaleLease`](crate::WorkerError::StaleLease). Dropping a
//! lease returns its worker to the pool, exactly once.
//!
//! [`PoolSnapshot`] shows workers by state, warm keys, queue depth, lease
//! outcomes, restarts by reason, RSS per child and traffic totals.
//!
//! # Glossary
//!
//! The words the code uses, one file each where they are types:
//!
//! - **slot** (`slot.rs`): one place for a worker, `max_workers` of them:
//!   empty, idle, out, starting, recovering or stopping.
//! - **parked** (`parked.rs`): a worker the pool owns between leases, with
//!   the session key it is warm for and a probe sampling its child's RSS.
//! - **table** (`table.rs`): the bookkeeping under the pool's one lock:
//!   the slots, the wait queue, the counters. Pure state; nothing awaits
//!   under the lock.
//! - **pick** and **grant**: the table's choice of a slot for an acquirer
//!   (warm, cold, spawn, evict), and the slot handed over.
//! - **seat** (`seat.rs`): a granted slot in an acquirer's or a lease's
//!   hands; dropping it returns the slot, exactly once.
//! - **waiter** and **ticket**: an acquirer queued in arrival order, and its
//!   place in the queue, given up if it stops waiting.
//! - **lease** (`lease.rs`): a seat whose worker is ready and warm for the
//!   key, bound by a **claim** to the child generation it was granted
//!   under.
//! - **warm**: a worker whose current generation opened the session for a
//!   key; **eviction**: taking over an idle worker warm for another key.
//! - **recovery** (`recovery.rs`): replacing a worker's dead child in the
//!   background; a recovering worker may be **backing off** after one of
//!   its guards tripped.
//! - **bulk** (`bulk.rs`): one request in one call (`call`, `stream`,
//!   `run_on_lease`), with the one retry of a lease that went stale before
//!   its request was sent.
//! - **batch** (`batch.rs`): many `(key, item)` pairs in one call, each on
//!   a lease of its own, with bounded concurrency, outcomes in input order
//!   and totals; **plan run** (`plan_run.rs`): a
//!   [`Plan`](crate::plan::Plan)'s batches, each on one warm lease.
//! - **blocking** (`blocking.rs`): the pool behind blocking calls.

mod batch;
mod blocking;
mod bulk;
mod config;
mod error;
mod key;
mod lease;
mod parked;
mod plan_run;
#[allow(clippy::module_inception)]
mod pool;
mod recovery;
mod seat;
mod slot;
mod snapshot;
mod table;

pub use batch::{Batch, BatchProgress, BatchReport, BatchTotals, ItemError};
pub use blocking::BlockingPool;
pub use bulk::LeaseWork;
pub use config::{PoolBuilder, PoolConfig};
pub use error::{CallError, PoolError};
pub use key::SessionKey;
pub use lease::Lease;
pub use plan_run::{BatchOutcome, ItemOutcome, PlanReport};
pub use pool::Pool;
pub use snapshot::{LeaseCounts, PoolSnapshot};
