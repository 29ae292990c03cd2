//! A pool of workers with warm reuse by session key, over a stream of work.
//!
//! ```text
//! cargo run --release --example worker_pool
//! ```
//!
//! Think of a prover service: each item of work (a proof to check) needs
//! its theory imported first, and importing is the expensive part. Here 200
//! items arrive spread over 5 theories; opening a session (importing a
//! theory) costs the child 30 ms, checking an item a few milliseconds of
//! CPU (`Burn`). A [`Pool`] of 3 workers keyed by theory name runs them as
//! one batch ([`Pool::batch`]), 4 at a time: each item gets a lease warm
//! for its theory, and the lease goes back to the pool still warm.
//!
//! The items are grouped by theory (in order of first arrival, each theory's
//! items in arrival order) before the batch takes them, so that consecutive
//! leases ask for the same key and find a worker already warm for it. The
//! summary at the end compares the sessions the pool opened with the number
//! of items (one open per item without a pool), cross-checks that count
//! against what the children themselves report, and shows each child's
//! resident set size and how it was shut down.
//!
//! Like the other examples, this executable is its own child (see
//! `capability_runner`).

use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use bulkhead::Worker;
use bulkhead::pool::Pool;
use bulkhead_fixture::{Burn, Session};

type BoxError = Box<dyn Error + Send + Sync>;

/// The session keys: theories a prover would import.
const THEORIES: [&str; 5] = [
    "Mathlib.Data.Nat.Basic",
    "Mathlib.Algebra.Group.Defs",
    "Mathlib.Order.Lattice",
    "Mathlib.Topology.Basic",
    "Mathlib.Analysis.Calculus.Deriv",
];
/// Items of work.
const ITEMS: usize = 200;
/// What one session open costs the child, in milliseconds.
const SESSION_COST_MS: u64 = 30;
/// Workers (children) in the pool.
const WORKERS: usize = 3;
/// Items running at once: one more than there are workers, so that
/// acquirers also wait in the pool's queue.
const TASKS: usize = 4;

/// One item of work: check something that needs `theory` imported.
#[derive(Debug, Clone)]
struct Item {
    theory: &'static str,
    /// CPU time the check takes, in milliseconds.
    millis: u64,
}

fn main() -> Result<(), BoxError> {
    // In the child: serve the fixture and exit. In the parent: return.
    bulkhead_child::run_if_child(bulkhead_fixture::capability);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), BoxError> {
    let arrivals = arrivals();
    let work = group_by_theory(&arrivals);
    println!(
        "{ITEMS} items over {} theories; {WORKERS} workers, {TASKS} at a time, session open {SESSION_COST_MS} ms",
        THEORIES.len()
    );
    println!(
        "theory switches between consecutive items: {} in arrival order, {} once grouped",
        switches(&arrivals),
        switches(&work)
    );

    let pool: Pool<String> = Pool::builder(
        Worker::builder(std::env::current_exe()?)
            .transport(bulkhead_stdio::StdioTransport)
            .env(
                bulkhead_fixture::SESSION_COST_ENV,
                SESSION_COST_MS.to_string(),
            )
            .request_timeout(Duration::from_secs(10)),
    )
    .max_workers(WORKERS)
    .queue_wait_timeout(Duration::from_secs(10))
    .keep_idle_workers()
    .build()?;

    let items = work
        .iter()
        .map(|item| (item.theory.to_owned(), item.clone()));
    let report = pool
        .batch(items)
        .concurrency(TASKS)
        .progress_bar()
        .run(|lease, item: &Item| {
            Box::pin(async move {
                let iterations = lease
                    .call(&Burn {
                        millis: item.millis,
                    })
                    .await?;
                // The child's own count of the sessions it opened, to check the
                // pool's figure against.
                let state = lease.call(&Session {}).await?;
                Ok((iterations, lease.info().map(|info| info.pid), state.opens))
            })
        })
        .await;
    println!("batch:            {}", report.totals);

    let (mut iterations, mut opens_by_child) = (0, HashMap::new());
    for outcome in report.outcomes {
        let (burnt, pid, opens) = outcome?;
        iterations += burnt;
        if let Some(pid) = pid {
            let seen = opens_by_child.entry(pid).or_insert(0);
            *seen = opens.max(*seen);
        }
    }
    let snapshot = pool.snapshot();
    let items = report.totals.ok;
    let elapsed = report.totals.elapsed.as_secs_f64();
    println!(
        "items done:       {items} in {elapsed:.2} s ({:.0} items/s, {iterations} burn iterations)",
        items as f64 / elapsed
    );
    println!(
        "sessions opened:  {} for {items} items: {:.2} s of opens across the workers, against {:.2} s for one open per item",
        snapshot.leases.sessions_opened,
        (snapshot.leases.sessions_opened * SESSION_COST_MS) as f64 / 1e3,
        (items as u64 * SESSION_COST_MS) as f64 / 1e3
    );
    println!(
        "                  the {} children report {} opens between them",
        opens_by_child.len(),
        opens_by_child.values().sum::<u64>()
    );
    println!("evictions:        {}", snapshot.leases.evictions);
    let per_worker: Vec<String> = snapshot.rss.iter().map(ToString::to_string).collect();
    println!(
        "rss per worker:   {} (total {})",
        per_worker.join(", "),
        snapshot.rss_total()
    );
    let mut warm: Vec<String> = snapshot
        .warm_keys
        .iter()
        .map(|(key, workers)| format!("{key} x{workers}"))
        .collect();
    warm.sort();
    println!("warm at the end:  {}", warm.join(", "));
    for (i, report) in pool.shutdown().await.iter().enumerate() {
        println!("shutdown {}:       {report}", i + 1);
    }
    Ok(())
}

/// The items in arrival order: theories drawn with a skew (the first
/// theories are the popular ones), from a fixed seed so that every run is
/// the same.
fn arrivals() -> Vec<Item> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..ITEMS)
        .map(|_| {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let draw = (state % 15) as usize;
            // Weights 5, 4, 3, 2, 1 out of 15.
            let theory = match draw {
                0..5 => 0,
                5..9 => 1,
                9..12 => 2,
                12..14 => 3,
                _ => 4,
            };
            Item {
                theory: THEORIES[theory],
                millis: 2 + (state >> 32) % 7,
            }
        })
        .collect()
}

/// The items grouped by theory: theories in order of first arrival, each
/// theory's items in arrival order.
fn group_by_theory(arrivals: &[Item]) -> Vec<Item> {
    let mut order: Vec<&'static str> = Vec::new();
    for item in arrivals {
        if !order.contains(&item.theory) {
            order.push(item.theory);
        }
    }
    order
        .iter()
        .flat_map(|theory| arrivals.iter().filter(move |item| item.theory == *theory))
        .cloned()
        .collect()
}

/// How often consecutive items need different theories.
fn switches(items: &[Item]) -> usize {
    items
        .windows(2)
        .filter(|pair| pair[0].theory != pair[1].theory)
        .count()
}
