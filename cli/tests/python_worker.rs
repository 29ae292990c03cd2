//! A Rust parent supervising Python workers (`children/python`): one leaks
//! memory on every request and is cycled by an RSS ceiling; one loops for
//! ever and is killed by the request timeout while the pool goes on.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bulkhead::policy::RssCeiling;
use bulkhead::pool::Pool;
use bulkhead::{Worker, WorkerError};
use serde::{Deserialize, Serialize};

/// Keeps `mib` MiB in the Python child for its life; answers the MiB kept.
#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(name = "leak", response = u64)]
struct Leak {
    mib: u64,
}

/// Loops for ever, never looking at cancellation.
#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(name = "spin", response = ())]
struct Spin {}

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(name = "conformance.echo", response = String)]
#[serde(transparent)]
struct Echo {
    text: String,
}

fn python_child() -> bulkhead::WorkerBuilder {
    Worker::builder("python3").arg(common::python("examples/conformance_child.py"))
}

fn run(test: impl Future<Output = ()>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        tokio::time::timeout(common::WATCHDOG, test)
            .await
            .expect("watchdog: the test took too long");
    });
}

const MIB: u64 = 1024 * 1024;

#[test]
fn a_leaking_python_worker_is_cycled_by_its_rss_ceiling() {
    run(async {
        let pool: Pool<String> = Pool::builder(python_child().policy(RssCeiling::new(96 * MIB)))
            .max_workers(1)
            .build()
            .unwrap();
        let mut kept = Vec::new();
        for _ in 0..10 {
            kept.push(pool.call(String::new(), &Leak { mib: 24 }).await.unwrap());
        }
        // Each answer is what the child answering it has kept: it grows
        // by 24 MiB a request, and starts again after each cycle.
        assert!(
            kept.windows(2).any(|pair| pair[1] < pair[0]),
            "never cycled: {kept:?}"
        );
        assert!(kept.iter().all(|&mib| mib <= 96 + 24), "{kept:?}");
        let snapshot = pool.snapshot();
        let cycles = snapshot
            .totals
            .restarts_by_reason
            .get("rss_ceiling")
            .copied();
        assert!(
            cycles.unwrap_or(0) >= 2,
            "{:?}",
            snapshot.totals.restarts_by_reason
        );
        pool.shutdown().await;
    });
}

#[test]
fn a_python_handler_that_never_returns_is_killed_and_the_pool_goes_on() {
    run(async {
        let worker = python_child().request_timeout(Duration::from_secs(2));
        let pool: Pool<String> = Pool::builder(worker).max_workers(2).build().unwrap();
        let err = pool.call(String::new(), &Spin {}).await.unwrap_err();
        assert_eq!(err.kind(), "timeout", "{err}");
        assert!(
            matches!(
                err,
                bulkhead::pool::CallError::Request(WorkerError::Timeout { .. })
            ),
            "{err}"
        );
        for text in ["after", "the", "hang"] {
            let echo = Echo { text: text.into() };
            assert_eq!(pool.call(String::new(), &echo).await.unwrap(), text);
        }
        let totals = pool.snapshot().totals;
        assert_eq!(totals.request_deaths.get("spin"), Some(&1), "{totals:?}");
        assert_eq!(totals.requests_failed, 1, "{totals:?}");
        pool.shutdown().await;
    });
}
