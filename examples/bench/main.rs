//! Benchmarks of the worker against raw baselines measured in the same run.
//!
//! ```text
//! cargo run --release --example bench [-- --quick] [-- --only rows|rtt|spawn|failure|local-socket|pool|plan|memory|python]
//! ```
//!
//! Every child is this same executable: with `BULKHEAD_CHILD=1` (set by the
//! worker) it serves the fixture capability, and with `--raw-rows N`,
//! `--raw-pong` or `--raw-ready` it runs a baseline harness from
//! `bulkhead_fixture::raw` that writes the same bytes without bulkhead.
//!
//! - `rows_typed_ratio`: rows/s of `Worker::stream` of `Count`, in a
//!   spawned task, into a counting sink (rows are still decoded into `Row<Item>`) over rows/s of
//!   a plain reader that splits length-prefixed frames and decodes each body
//!   into the same `Item`. Best of 5 interleaved runs after a warm-up, for each side.
//! - `unary_rtt_ratio`: median round trip of `worker.call(&Ping {})`, in a
//!   spawned task, over the median of a 64-byte ping-pong with a raw child,
//!   whichever is faster of the same loop in a spawned task and on a
//!   blocking thread (`raw_rtt_task_median_us`, `raw_rtt_blocking_median_us`).
//! - `spawn_ready_ratio`: median time from spawn to a ready worker over the
//!   median of a raw spawn plus one handshake-sized frame read.
//!
//! The `failure` section measures how fast the worker gets out of trouble,
//! median of 20 repetitions (5 with `--quick`) after 3 warm-up ones:
//!
//! - `cancel_cooperative_us`: a `SleepRows` stream (one row per millisecond,
//!   cancellation seen at each row) whose sink triggers the request's
//!   `CancellationToken` at the first row; time from the trigger to the
//!   `stream` future returning `WorkerError::Cancelled`. The generation must
//!   not change. Target <= 1000 us.
//! - `timeout_replace_ms`: `Hang { check_cancel: false }` with a 50 ms
//!   request timeout, then `Ping`. Per repetition, (return of the timed-out
//!   call - (start + 50 ms)) + (duration of the `Ping`); the median of that
//!   minus the median raw spawn plus handshake (`--raw-ready`) measured
//!   alongside. Target <= 2 ms. `timeout_kill_reap_ms` is the first part
//!   alone (the call kills and reaps the child, and starts the next
//!   generation meanwhile, before it returns), `timeout_next_ping_ms` the
//!   second,
//!   `timeout_raw_ready_ms` the baseline. `timer_overshoot_ms` is how late
//!   a bare `tokio::time::sleep(50 ms)` fires in the same run: tokio's timer
//!   has millisecond granularity, and that lateness is part of the first
//!   figure, since the request deadline is such a timer.
//! - `crash_recovery_ms`: from just before sending `Abort` (the child aborts)
//!   to the successful return of the next `Ping` on a new generation;
//!   `crash_detect_ms` is the `Abort` call alone, until it returns
//!   `WorkerError::ChildExited` with the child reaped.
//!
//! The timeout and crash workers raise the restart limit and the crash-loop
//! guard to 10 000, since they replace their child dozens of times a second.
//!
//! The `pool` section measures `bulkhead::pool::Pool`:
//!
//! - `pool_items_per_s_1`, `pool_items_per_s_2`: items per second through a
//!   pool of 1 and of 2 workers, each item `acquire` (one key for all, so no
//!   session cost), `Burn { millis: 20 }`, drop, from 2 submitter tasks (so
//!   that with 1 worker one of them waits in the queue). 60 items (20 with
//!   `--quick`); both pools are warmed first (every worker started and its
//!   session opened, untimed); best of 3 interleaved runs (1 with
//!   `--quick`). `pool_scaling_ratio` is the second over the first (target
//!   at least 1.8 on two cores). `Burn` runs for a fixed wall time however
//!   much CPU it gets, so items/s shows whether leases run in parallel;
//!   `pool_cpu_scaling_ratio`, the same ratio of the burn loop's iterations
//!   per second over all runs, shows whether they also got a core each
//!   (other load on the machine pulls it down first).
//! - `warm_reuse_speedup`: 40 items (20 with `--quick`) through a pool of
//!   one worker whose session open costs 20 ms, one after another, each
//!   `acquire`, `Echo`, drop. Warm reuse: all items share one key, so the
//!   worker opens it once and serves the rest warm
//!   (`warm_reuse_ms_per_item`, that one open included). Baseline: each
//!   item has a key of its own, so every acquire opens a session
//!   (`session_per_item_ms`). The speedup is the baseline's time over the
//!   warm one's; the worker is started before either is timed. Best of 3
//!   interleaved runs (1 with `--quick`) for each side.
//!
//! The `plan` section (`plan.rs`) runs a shuffled workload over 20 keys as
//! it comes and as planned (`naive_session_opens`, `plan_session_opens`,
//! `plan_speedup`); the `memory` section (`memory.rs`) watches the
//! parent's RSS over a long stream into a slow sink
//! (`parent_memory_growth_mib`).
//!
//! The `python` section (`python.rs`) runs the Python child of
//! `children/python` and the fixture on the same conformance commands:
//! round trip, rows per second and start-up of each, and their ratios.
//!
//! Each ratio prints as a `RESULT name value unit` line after human-readable
//! ones; targets are printed, never asserted.

use std::error::Error;
use std::io::Read;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bulkhead::sink::Counting;
use bulkhead::{Worker, WorkerBuilder};
use bulkhead_fixture::raw::PING_BYTES;
use bulkhead_fixture::{Count, Item, Ping};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod failure;
mod memory;
mod plan;
mod pool;
mod python;

use failure::failure;
use memory::memory;
use plan::plan;
use pool::pool;
use python::python;

type BoxError = Box<dyn Error + Send + Sync>;

/// How much work each benchmark does.
struct Scale {
    rows: u64,
    calls: usize,
    spawns: usize,
    failures: usize,
    /// Items of each pool scaling run.
    pool_items: usize,
    /// Items of each warm reuse run.
    reuse_items: usize,
    /// Interleaved runs of each pool benchmark.
    pool_rounds: usize,
    /// Rows of the memory benchmark's stream.
    memory_rows: u64,
    /// Items of the plan benchmark.
    plan_items: usize,
}

const FULL: Scale = Scale {
    rows: 1_000_000,
    calls: 5_000,
    spawns: 30,
    failures: 20,
    pool_items: 60,
    reuse_items: 40,
    pool_rounds: 3,
    memory_rows: 10_000_000,
    plan_items: 2_000,
};

const QUICK: Scale = Scale {
    rows: 100_000,
    calls: 500,
    spawns: 5,
    failures: 5,
    pool_items: 20,
    reuse_items: 20,
    pool_rounds: 1,
    memory_rows: 1_000_000,
    plan_items: 200,
};

fn main() -> Result<(), BoxError> {
    // Launched by a worker: serve the fixture and exit.
    bulkhead_child::run_if_child(bulkhead_fixture::capability);
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Launched by a baseline: run the raw harness and exit.
    match (args.first().map(String::as_str), args.get(1)) {
        (Some("--raw-rows"), Some(n)) => return Ok(bulkhead_fixture::raw::rows(n.parse()?)?),
        (Some("--raw-pong"), _) => return Ok(bulkhead_fixture::raw::pong()?),
        (Some("--raw-ready"), _) => return Ok(bulkhead_fixture::raw::ready()?),
        _ => {}
    }

    let scale = if args.iter().any(|arg| arg == "--quick") {
        QUICK
    } else {
        FULL
    };
    let only = args
        .iter()
        .position(|arg| arg == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // First, while nothing else has run: the parent's RSS is the figure.
        if only.is_none_or(|name| name == "memory") {
            memory(scale.memory_rows).await?;
        }
        if only.is_none_or(|name| name == "rows") {
            rows(scale.rows).await?;
        }
        if only.is_none_or(|name| name == "rtt") {
            rtt(scale.calls).await?;
        }
        if only.is_none_or(|name| name == "spawn") {
            spawn_ready(scale.spawns).await?;
        }
        if only.is_none_or(|name| name == "failure") {
            failure(scale.failures).await?;
        }
        if only.is_none_or(|name| name == "local-socket") {
            LOCAL_SOCKET.store(true, Ordering::Relaxed);
            println!("local socket: rows and rtt again over LocalSocketTransport (the raw baselines stay on pipes)");
            rows(scale.rows).await?;
            rtt(scale.calls).await?;
            LOCAL_SOCKET.store(false, Ordering::Relaxed);
        }
        if only.is_none_or(|name| name == "pool") {
            pool(&scale).await?;
        }
        if only.is_none_or(|name| name == "plan") {
            plan(scale.plan_items).await?;
        }
        if only.is_none_or(|name| name == "python") {
            python(scale.calls, scale.rows / 10).await?;
        }

        Ok(())
    })
}

/// Set while the `local-socket` section runs: workers use that transport
/// and RESULT names get a `_local_socket` suffix.
static LOCAL_SOCKET: AtomicBool = AtomicBool::new(false);

/// A worker builder for this executable as the fixture child, over stdio
/// (or the local socket, during that section).
fn fixture() -> Result<WorkerBuilder, BoxError> {
    let builder = Worker::builder(std::env::current_exe()?);
    Ok(if LOCAL_SOCKET.load(Ordering::Relaxed) {
        builder.transport(bulkhead_local_socket::LocalSocketTransport::new())
    } else {
        builder.transport(bulkhead_stdio::StdioTransport)
    })
}

fn result(name: &str, value: f64, unit: &str) {
    let suffix = if LOCAL_SOCKET.load(Ordering::Relaxed) {
        "_local_socket"
    } else {
        ""
    };
    println!("RESULT {name}{suffix} {value} {unit}");
}

// ---------------------------------------------------------------- rows

async fn rows(n: u64) -> Result<(), BoxError> {
    println!("rows: {n} Item rows (~120 B of JSON each), warm-up then best of 5");
    let worker = fixture()?.spawn().await?;
    let (mut worker, _warm_up) = typed_rows(worker, n).await?;
    tokio::task::spawn_blocking(move || raw_rows(n)).await??;
    let (mut typed, mut raw) = (Duration::MAX, Duration::MAX);
    for round in 1..=5 {
        let (back, typed_run) = typed_rows(worker, n).await?;
        worker = back;
        let raw_run = tokio::task::spawn_blocking(move || raw_rows(n)).await??;
        println!(
            "  run {round}: typed {:.0} rows/s, raw {:.0} rows/s",
            n as f64 / typed_run.as_secs_f64(),
            n as f64 / raw_run.as_secs_f64()
        );
        typed = typed.min(typed_run);
        raw = raw.min(raw_run);
    }
    worker.shutdown().await;
    let typed = n as f64 / typed.as_secs_f64();
    let raw = n as f64 / raw.as_secs_f64();
    let ratio = typed / raw;
    println!("  typed  {typed:>12.0} rows/s  (Worker::stream into a Counting sink)");
    println!("  raw    {raw:>12.0} rows/s  (BufReader + serde_json::from_slice::<Item>)");
    println!("  ratio  {ratio:>12.3}         (target >= 0.9)");
    result("rows_typed_per_s", typed.round(), "rows/s");
    result("rows_raw_per_s", raw.round(), "rows/s");
    result("rows_typed_ratio", round3(ratio), "x");
    Ok(())
}

/// One `Count` stream into a counting sink, in a task of its own as a
/// caller's would run; rows are decoded all the same.
async fn typed_rows(mut worker: Worker, n: u64) -> Result<(Worker, Duration), BoxError> {
    tokio::spawn(async move {
        let elapsed = typed_rows_here(&mut worker, n).await?;
        Ok::<_, BoxError>((worker, elapsed))
    })
    .await?
}

async fn typed_rows_here(worker: &mut Worker, n: u64) -> Result<Duration, BoxError> {
    let count = Count {
        n,
        progress_every: 0,
        diagnostic_every: 0,
    };
    let mut sink = Counting::default();
    let started = Instant::now();
    let summary = worker.stream(&count, &mut sink).await?;
    let elapsed = started.elapsed();
    check(sink.count == n && summary.rows == n, "typed rows lost")?;
    Ok(elapsed)
}

/// A raw child writes `n` length-prefixed rows; read and decode each one.
fn raw_rows(n: u64) -> Result<Duration, BoxError> {
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["--raw-rows", &n.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let started = Instant::now();
    let count = bulkhead_fixture::raw::read_frames(stdout, |body| {
        let item: Item = serde_json::from_slice(body).map_err(std::io::Error::other)?;
        std::hint::black_box(item);
        Ok(())
    })?;
    let elapsed = started.elapsed();
    child.wait()?;
    check(count == n, "raw rows lost")?;
    Ok(elapsed)
}

// ---------------------------------------------------------------- rtt

async fn rtt(calls: usize) -> Result<(), BoxError> {
    const BLOCK: usize = 100;
    println!(
        "rtt: {calls} round trips each, in alternating blocks of {BLOCK}, after {} warm-up",
        calls / 10
    );
    let mut worker = fixture()?.spawn().await?;
    let mut pong = AsyncPong::start()?;
    let mut blocking = BlockingPong::start()?;
    let mut typed = Vec::with_capacity(calls);
    let mut raw_task = Vec::with_capacity(calls);
    let mut raw_blocking = Vec::with_capacity(calls);
    let warm_up = calls / 10;
    // Alternating blocks expose every side to the same machine conditions.
    // Each block runs in a task of its own (or on a blocking thread), as a
    // caller's requests would, not on the `block_on` thread.
    for block in 0..(calls + warm_up).div_ceil(BLOCK) {
        let keep = block * BLOCK >= warm_up;
        let (back, times) = tokio::spawn(async move {
            let mut times = Vec::with_capacity(BLOCK);
            for _ in 0..BLOCK {
                let started = Instant::now();
                worker.call(&Ping {}).await?;
                times.push(started.elapsed());
            }
            Ok::<_, BoxError>((worker, times))
        })
        .await??;
        worker = back;
        let (back, pong_times) = tokio::spawn(pong.block(BLOCK)).await??;
        pong = back;
        let (back, blocking_times) =
            tokio::task::spawn_blocking(move || blocking.block(BLOCK)).await??;
        blocking = back;
        if keep {
            typed.extend(times);
            raw_task.extend(pong_times);
            raw_blocking.extend(blocking_times);
        }
    }
    worker.shutdown().await;
    pong.stop().await?;
    blocking.stop()?;

    let (typed_median, typed_p99) = (percentile(&mut typed, 50), percentile(&mut typed, 99));
    let task_median = percentile(&mut raw_task, 50);
    let blocking_median = percentile(&mut raw_blocking, 50);
    // The baseline is the faster of the two raw loops.
    let (raw_median, raw_p99) = if task_median <= blocking_median {
        (task_median, percentile(&mut raw_task, 99))
    } else {
        (blocking_median, percentile(&mut raw_blocking, 99))
    };
    let ratio = typed_median / raw_median;
    println!(
        "  typed  median {typed_median:>7.1} us  p99 {typed_p99:>7.1} us  (worker.call(&Ping {{}}) in a task)"
    );
    println!(
        "  raw    median {task_median:>7.1} us in a task, {blocking_median:>7.1} us blocking (64-byte ping-pong); the faster is the baseline"
    );
    println!("  ratio  {ratio:.3}  (target <= 1.5)");
    result("unary_rtt_median_us", round1(typed_median), "us");
    result("unary_rtt_p99_us", round1(typed_p99), "us");
    result("raw_rtt_median_us", round1(raw_median), "us");
    result("raw_rtt_p99_us", round1(raw_p99), "us");
    result("raw_rtt_task_median_us", round1(task_median), "us");
    result("raw_rtt_blocking_median_us", round1(blocking_median), "us");
    result("unary_rtt_ratio", round3(ratio), "x");
    Ok(())
}

/// A raw child echoing 64-byte messages, driven from a tokio task.
struct AsyncPong {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::process::ChildStdout,
}

impl AsyncPong {
    fn start() -> Result<Self, BoxError> {
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .arg("--raw-pong")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin pipe")?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    /// `n` timed round trips.
    async fn block(mut self, n: usize) -> Result<(Self, Vec<Duration>), BoxError> {
        let (ping, mut pong) = ([7u8; PING_BYTES], [0u8; PING_BYTES]);
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            self.stdin.write_all(&ping).await?;
            self.stdout.read_exact(&mut pong).await?;
            times.push(started.elapsed());
        }
        Ok((self, times))
    }

    async fn stop(self) -> Result<(), BoxError> {
        let Self {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        child.wait().await?;
        Ok(())
    }
}

/// The same raw child, driven from a plain blocking thread.
struct BlockingPong {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::process::ChildStdout,
}

impl BlockingPong {
    fn start() -> Result<Self, BoxError> {
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .arg("--raw-pong")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin pipe")?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    /// `n` timed round trips.
    fn block(mut self, n: usize) -> Result<(Self, Vec<Duration>), BoxError> {
        use std::io::Write;
        let (ping, mut pong) = ([7u8; PING_BYTES], [0u8; PING_BYTES]);
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            self.stdin.write_all(&ping)?;
            self.stdout.read_exact(&mut pong)?;
            times.push(started.elapsed());
        }
        Ok((self, times))
    }

    fn stop(self) -> Result<(), BoxError> {
        let Self {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        child.wait()?;
        Ok(())
    }
}

// ---------------------------------------------------------------- spawn

async fn spawn_ready(runs: usize) -> Result<(), BoxError> {
    let warm_up = 3;
    println!("spawn: {runs} runs after {warm_up} warm-up");
    let mut typed = Vec::with_capacity(runs);
    let mut raw = Vec::with_capacity(runs);
    for i in 0..runs + warm_up {
        let builder = fixture()?;
        let started = Instant::now();
        let mut worker = builder.spawn().await?;
        let elapsed = started.elapsed();
        worker.shutdown().await;
        let raw_elapsed = raw_ready().await?;
        if i >= warm_up {
            typed.push(elapsed);
            raw.push(raw_elapsed);
        }
    }
    let typed_median = percentile(&mut typed, 50) / 1e3;
    let raw_median = percentile(&mut raw, 50) / 1e3;
    let ratio = typed_median / raw_median;
    println!("  typed  median {typed_median:.3} ms  (builder.spawn() until ready)");
    println!("  raw    median {raw_median:.3} ms  (spawn + read one handshake-sized frame)");
    println!("  ratio  {ratio:.3}  (target <= 1.5)");
    result("spawn_ready_median_ms", round3(typed_median), "ms");
    result("raw_ready_median_ms", round3(raw_median), "ms");
    result("spawn_ready_ratio", round3(ratio), "x");
    Ok(())
}

/// Spawns a raw child and reads its one frame; the wait is not timed.
async fn raw_ready() -> Result<Duration, BoxError> {
    let program = std::env::current_exe()?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(program)
        .arg("--raw-ready")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut len = [0u8; 4];
    stdout.read_exact(&mut len).await?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stdout.read_exact(&mut body).await?;
    let elapsed = started.elapsed();
    drop(child.stdin.take());
    child.wait().await?;
    Ok(elapsed)
}

// ---------------------------------------------------------------- helpers

/// The `p`th percentile of `samples`, in microseconds.
fn percentile(samples: &mut [Duration], p: usize) -> f64 {
    samples.sort_unstable();
    let index = (samples.len() * p / 100).min(samples.len().saturating_sub(1));
    samples
        .get(index)
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
}

fn check(ok: bool, what: &'static str) -> Result<(), BoxError> {
    if ok { Ok(()) } else { Err(what.into()) }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn round3(value: f64) -> f64 {
    (value * 1e3).round() / 1e3
}
