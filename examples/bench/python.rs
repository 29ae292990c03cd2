//! The `python` section: the Python child (`children/python`) against the
//! Rust fixture child, on the same conformance commands in the same run:
//! round trip, rows per second, start-up.

use std::time::{Duration, Instant};

use bulkhead::sink::Counting;
use bulkhead::{Worker, WorkerBuilder};
use bulkhead_fixture::conformance::{ConformanceEcho, ConformanceRows};

use super::{BoxError, fixture, result, round3};

/// The Python child that serves the conformance commands.
const PYTHON_CHILD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../children/python/examples/conformance_child.py"
);

pub(super) async fn python(calls: usize, rows: u64) -> Result<(), BoxError> {
    let available = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        println!("python: SKIPPED: no python3 on PATH");
        return Ok(());
    }
    let python = || Worker::builder("python3").arg(PYTHON_CHILD);
    let rust = measure(fixture()?, calls, rows).await?;
    let py = measure(python(), calls, rows).await?;
    println!(
        "python: round trip {:.1} µs (Rust child {:.1} µs), {:.0} rows/s (Rust child {:.0}), start-up {:.1} ms (Rust child {:.1})",
        py.rtt_us, rust.rtt_us, py.rows_per_s, rust.rows_per_s, py.start_ms, rust.start_ms
    );
    result("python_rtt_us", round3(py.rtt_us), "us");
    result("rust_conformance_rtt_us", round3(rust.rtt_us), "us");
    result("python_rtt_ratio", round3(py.rtt_us / rust.rtt_us), "x");
    result("python_rows_per_s", py.rows_per_s.round(), "rows/s");
    result(
        "rust_conformance_rows_per_s",
        rust.rows_per_s.round(),
        "rows/s",
    );
    result(
        "python_rows_ratio",
        round3(py.rows_per_s / rust.rows_per_s),
        "x",
    );
    result("python_spawn_ms", round3(py.start_ms), "ms");
    result("rust_conformance_spawn_ms", round3(rust.start_ms), "ms");
    Ok(())
}

struct Figures {
    rtt_us: f64,
    rows_per_s: f64,
    start_ms: f64,
}

async fn measure(builder: WorkerBuilder, calls: usize, rows: u64) -> Result<Figures, BoxError> {
    let config = builder.build()?;
    let mut starts = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut worker = Worker::start(config.clone()).await?;
        starts.push(started.elapsed());
        worker.shutdown().await;
    }
    let mut worker = Worker::start(config).await?;
    let echo = ConformanceEcho {
        value: serde_json::json!({}),
    };
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        worker.call(&echo).await?;
        times.push(started.elapsed());
    }
    let request = ConformanceRows {
        n: rows,
        stream: None,
        progress: false,
        diagnostics: false,
    };
    let summary = worker.stream(&request, Counting::default()).await?;
    worker.shutdown().await;
    Ok(Figures {
        rtt_us: median(&mut times).as_secs_f64() * 1e6,
        rows_per_s: summary.rows as f64 / summary.elapsed.as_secs_f64(),
        start_ms: median(&mut starts).as_secs_f64() * 1e3,
    })
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}
