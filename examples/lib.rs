//! Runnable programs for bulkhead; this library holds what they share.
//!
//! - `cargo run --release --example capability_runner`: the demo: a checked
//!   child streams typed rows, then a pool serves a batch with hostile
//!   items ([`demo`]), each contained, named and replaced.
//! - `cargo run --release --example bench [-- --quick]`: throughput, round
//!   trip, startup and failure recovery against raw baselines measured in
//!   the same run; `--only pool` measures the pool's scaling and warm reuse.
//! - `cargo run --release --example worker_pool`: many items keyed by
//!   session through a pool of warm workers, with a progress bar.
//! - `cargo run --release --example custom_policy`: a user-written restart
//!   policy driven by a counter the capability reports.
//! - `cargo run --release --example choose_transport`: stdio or a local
//!   socket per platform or per configuration, with the same worker code.
//! - `cargo run --release --example rss_sample`: the cost of one RSS sample
//!   against reopening `/proc/<pid>/statm` each time.
//!
//! The examples that run workers are their own child: they call
//! `bulkhead_child::run_if_child` first thing and point the worker at
//! `std::env::current_exe()`.

pub mod demo;

/// The pool's snapshot once no replacement is under way: children that a
/// request ended are replaced in the background. Waits at most 10 s, then
/// returns the snapshot as it is.
pub async fn settled<K: bulkhead::pool::SessionKey>(
    pool: &bulkhead::Pool<K>,
) -> bulkhead::PoolSnapshot<K> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let snapshot = pool.snapshot();
        if snapshot.replacing + snapshot.starting == 0 || tokio::time::Instant::now() >= deadline {
            return snapshot;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Counts by name as `name 2, other 1`, for the examples' tables.
pub fn counts<N: std::fmt::Display>(
    counts: &std::collections::BTreeMap<&'static str, N>,
) -> String {
    let listed: Vec<String> = counts
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    listed.join(", ")
}
