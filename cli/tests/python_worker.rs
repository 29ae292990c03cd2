//! A Rust parent supervising Python workers (`children/python`): one leaks
//! memory on every request and is cycled by an RSS ceiling; one loops for
//! ever and is killed by the request timeout while the pool goes on; and a
//! Python child dies with its parent (Linux).

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bulkhead::policy::RssCeiling;
use bulkhead::pool::Pool;
use bulkhead::{Worker, WorkerError};
// The Python child serves these under the same names and shapes.
use bulkhead_fixture::conformance::ConformanceEcho;
use bulkhead_fixture::{Leak, Spin};

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
            let echo = ConformanceEcho { value: text.into() };
            assert_eq!(pool.call(String::new(), &echo).await.unwrap(), text);
        }
        let totals = pool.snapshot().totals;
        assert_eq!(totals.request_deaths.get("spin"), Some(&1), "{totals:?}");
        assert_eq!(totals.requests_failed, 1, "{totals:?}");
        pool.shutdown().await;
    });
}

/// A parent that starts the Python child as bulkhead does (a pipe for its
/// input, the environment contract, its own process group), gives a copy
/// of the input pipe's write end to a holder process, so that the child
/// never sees end of input, prints the child's and the holder's pids, and
/// waits to be killed.
const PARENT: &str = r#"
import os, subprocess, sys, time
env = dict(os.environ, BULKHEAD_CHILD="1", BULKHEAD_PARENT_PID=str(os.getpid()), BULKHEAD_TRANSPORT="stdio")
read, write = os.pipe()
child = subprocess.Popen([sys.executable, sys.argv[1]], stdin=read, stdout=subprocess.PIPE, env=env, start_new_session=True)
holder = subprocess.Popen(["sleep", "3600"], pass_fds=(write,), start_new_session=True)
hello = b'{"protocol":1,"max_frame":16777216,"generation":1}'
os.write(write, len(hello + bytes(9)).to_bytes(4, "big") + bytes([1]) + bytes(8) + hello)
length = int.from_bytes(child.stdout.read(4), "big")
child.stdout.read(length)
print(child.pid, holder.pid, flush=True)
time.sleep(3600)
"#;

#[test]
fn a_python_child_dies_with_its_parent_without_end_of_input() {
    use std::io::BufRead;
    let mut parent = std::process::Command::new("python3")
        .args([
            "-c",
            PARENT,
            &common::python("examples/conformance_child.py"),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(parent.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pids: Vec<u32> = line
        .split_whitespace()
        .map(|pid| pid.parse().unwrap())
        .collect();
    let (child, holder) = (pids[0], pids[1]);
    let alive = |pid: u32| std::path::Path::new(&format!("/proc/{pid}")).exists() && !zombie(pid);
    assert!(alive(child), "the child is not running");
    parent.kill().unwrap();
    parent.wait().unwrap();
    // The holder keeps the child's input open: only the child's
    // parent-death handling can end it.
    let deadline = std::time::Instant::now() + common::WATCHDOG;
    let outlived = loop {
        if !alive(child) {
            break false;
        }
        if std::time::Instant::now() > deadline {
            break true;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = std::process::Command::new("kill")
        .args(["-9", &holder.to_string(), &child.to_string()])
        .status();
    assert!(!outlived, "the child outlived its parent");
}

/// Whether `/proc/<pid>/stat` shows a zombie (dead, not yet reaped).
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}
