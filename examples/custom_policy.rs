//! A restart policy of your own: cycle the child once a counter that the
//! capability itself reports crosses a threshold.
//!
//! ```text
//! cargo run --release --example custom_policy
//! ```
//!
//! The fixture's `leak` command answers how many MiB its process has leaked
//! so far. The parent copies that figure into a shared counter after each
//! reply, and the policy below reads it: a pure decision from the facts and
//! the counter, carried out by the worker before the next request, so no
//! request is cut short. Like the other examples, this executable is its own
//! child (see `capability_runner`).

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bulkhead::Worker;
use bulkhead::policy::{Decision, GenerationFacts, RestartPolicy, RestartReason};
use bulkhead_fixture::Leak;

/// Cycles the child once the capability reports `limit_mib` leaked MiB.
/// Clones share the counter.
#[derive(Debug, Clone)]
struct LeakedMemory {
    /// The latest figure the capability reported, for the current child.
    reported_mib: Arc<AtomicU64>,
    limit_mib: u64,
}

impl RestartPolicy for LeakedMemory {
    fn decide(&self, _facts: &GenerationFacts) -> Decision {
        if self.reported_mib.load(Ordering::Relaxed) >= self.limit_mib {
            Decision::Cycle(RestartReason::Policy("leaked_memory"))
        } else {
            Decision::Keep
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    bulkhead_child::run_if_child(bulkhead_fixture::capability);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Box<dyn Error>> {
    let reported_mib = Arc::new(AtomicU64::new(0));
    let policy = LeakedMemory {
        reported_mib: Arc::clone(&reported_mib),
        limit_mib: 100,
    };
    let mut worker: Worker = Worker::builder(std::env::current_exe()?)
        .transport(bulkhead_stdio::StdioTransport)
        .policy(policy)
        .spawn()
        .await?;
    println!("leaking 30 MiB per request; the policy cycles the child at 100 MiB");
    for request in 1..=10 {
        // The policy runs before the request; after a cycle, the reply
        // already comes from the fresh child.
        let leaked = worker.call(&Leak { mib: 30 }).await?;
        reported_mib.store(leaked, Ordering::Relaxed);
        println!(
            "request {request:>2}: generation {}, child reports {leaked:>3} MiB leaked",
            worker.generation()
        );
    }
    let stats = worker.stats();
    println!(
        "restarts: {} ({:?})",
        stats.restarts, stats.restarts_by_reason
    );
    println!("shutdown: {}", worker.shutdown().await);
    Ok(())
}
