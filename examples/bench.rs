//! Benchmarks of the worker against raw baselines measured in the same run.
//!
//! ```text
//! cargo run --release --example bench [-- --quick] [-- --only rows|rtt|spawn|failure|local-socket|pool]
//! ```
//!
//! Every child is this same executable: with `BULKHEAD_CHILD=1` (set by the
//! worker) it serves the fixture capability, and with `--raw-rows N`,
//! `--raw-pong` or `--raw-ready` it runs a baseline harness from
//! `bulkhead_fixture::raw` that writes the same bytes without bulkhead.
//!
//! - `rows_typed_ratio`: rows/s of `Worker::stream` of `Count` into a
//!   counting sink (rows are still decoded into `Row<Item>`) over rows/s of
//!   a plain reader that splits length-prefixed frames and decodes each body
//!   into the same `Item`. Best of 5 interleaved runs after a warm-up, for each side.
//! - `unary_rtt_ratio`: median round trip of `worker.call(&Ping {})` over
//!   the median of a 64-byte tokio ping-pong with a raw child.
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
//!   call - (start + 50 ms)) + (duration of the `Ping`, which spawns and
//!   handshakes the new generation); the median of that minus the median raw
//!   spawn plus handshake (`--raw-ready`) measured alongside. Target <= 2 ms.
//!   `timeout_kill_reap_ms` is the first part alone (the call kills and reaps
//!   the child before it returns), `timeout_next_ping_ms` the second,
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
//! Each ratio prints as a `RESULT name value unit` line after human-readable
//! ones; targets are printed, never asserted.

use std::error::Error;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bulkhead::pool::Pool;
use bulkhead::sink::{Counting, from_fn};
use bulkhead::{CancellationToken, Row, Worker, WorkerBuilder, WorkerError};
use bulkhead_fixture::raw::PING_BYTES;
use bulkhead_fixture::{Abort, Burn, Count, Echo, Hang, Item, Ping, SleepRows};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;

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
}

const FULL: Scale = Scale {
    rows: 1_000_000,
    calls: 5_000,
    spawns: 30,
    failures: 20,
    pool_items: 60,
    reuse_items: 40,
    pool_rounds: 3,
};

const QUICK: Scale = Scale {
    rows: 100_000,
    calls: 500,
    spawns: 5,
    failures: 5,
    pool_items: 20,
    reuse_items: 20,
    pool_rounds: 1,
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
    let mut worker = fixture()?.spawn().await?;
    typed_rows(&mut worker, n).await?;
    tokio::task::spawn_blocking(move || raw_rows(n)).await??;
    let (mut typed, mut raw) = (Duration::MAX, Duration::MAX);
    for round in 1..=5 {
        let typed_run = typed_rows(&mut worker, n).await?;
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
    println!("  ratio  {ratio:>12.3}         (target >= 0.8)");
    result("rows_typed_per_s", typed.round(), "rows/s");
    result("rows_raw_per_s", raw.round(), "rows/s");
    result("rows_typed_ratio", round3(ratio), "x");
    Ok(())
}

/// One `Count` stream into a counting sink; rows are decoded all the same.
async fn typed_rows(worker: &mut Worker, n: u64) -> Result<Duration, BoxError> {
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
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut body = Vec::new();
    let mut count = 0u64;
    while !reader.fill_buf()?.is_empty() {
        let mut len = [0u8; 4];
        reader.read_exact(&mut len)?;
        body.resize(u32::from_be_bytes(len) as usize, 0);
        reader.read_exact(&mut body)?;
        let item: Item = serde_json::from_slice(&body)?;
        std::hint::black_box(item);
        count += 1;
    }
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
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--raw-pong")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let ping = [7u8; PING_BYTES];
    let mut pong = [0u8; PING_BYTES];
    let mut typed = Vec::with_capacity(calls);
    let mut raw = Vec::with_capacity(calls);
    let warm_up = calls / 10;
    // Alternating blocks expose both sides to the same machine conditions.
    for block in 0..(calls + warm_up).div_ceil(BLOCK) {
        let keep = block * BLOCK >= warm_up;
        for _ in 0..BLOCK {
            let started = Instant::now();
            worker.call(&Ping {}).await?;
            if keep {
                typed.push(started.elapsed());
            }
        }
        for _ in 0..BLOCK {
            let started = Instant::now();
            stdin.write_all(&ping).await?;
            stdout.read_exact(&mut pong).await?;
            if keep {
                raw.push(started.elapsed());
            }
        }
    }
    worker.shutdown().await;
    drop(stdin);
    child.wait().await?;

    let (typed_median, typed_p99) = (percentile(&mut typed, 50), percentile(&mut typed, 99));
    let (raw_median, raw_p99) = (percentile(&mut raw, 50), percentile(&mut raw, 99));
    let ratio = typed_median / raw_median;
    println!(
        "  typed  median {typed_median:>7.1} us  p99 {typed_p99:>7.1} us  (worker.call(&Ping {{}}))"
    );
    println!(
        "  raw    median {raw_median:>7.1} us  p99 {raw_p99:>7.1} us  (64-byte tokio ping-pong)"
    );
    println!("  ratio  {ratio:.3}  (target <= 1.5)");
    result("unary_rtt_median_us", round1(typed_median), "us");
    result("unary_rtt_p99_us", round1(typed_p99), "us");
    result("raw_rtt_median_us", round1(raw_median), "us");
    result("raw_rtt_p99_us", round1(raw_p99), "us");
    result("unary_rtt_ratio", round3(ratio), "x");
    Ok(())
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

// ---------------------------------------------------------------- failure

/// Request deadline of the timeout benchmark.
const HANG_TIMEOUT: Duration = Duration::from_millis(50);

async fn failure(reps: usize) -> Result<(), BoxError> {
    let warm_up = 3;
    println!("failure: {reps} repetitions of each after {warm_up} warm-up");
    cancel_cooperative(reps, warm_up).await?;
    timeout_replace(reps, warm_up).await?;
    crash_recovery(reps, warm_up).await
}

/// A worker that neither the restart limit nor the crash-loop guard stops
/// while a benchmark replaces its child dozens of times a second. Both stay
/// armed (at 10 000) but never trip here.
async fn tolerant_worker() -> Result<Worker, BoxError> {
    let mut worker = fixture()?
        .restart_limit(10_000, Duration::from_secs(60))
        .crash_loop_limit(10_000)
        .spawn()
        .await?;
    worker.call(&Ping {}).await?;
    Ok(worker)
}

/// Time from triggering the token (in the sink, at the first row) to the
/// `stream` future returning `Cancelled`, with the child kept warm.
async fn cancel_cooperative(reps: usize, warm_up: usize) -> Result<(), BoxError> {
    let mut worker = fixture()?.spawn().await?;
    worker.call(&Ping {}).await?;
    let generation = worker.generation();
    // Sees cancellation at each row, one row per millisecond: never ends
    // by itself within the benchmark.
    let command = SleepRows {
        rows: 1_000_000,
        every_ms: 1,
    };
    let mut samples = Vec::with_capacity(reps);
    for i in 0..warm_up + reps {
        let token = CancellationToken::new();
        let trigger = token.clone();
        let mut triggered = None;
        let sink = from_fn(|_row: Row<Item>| {
            if triggered.is_none() {
                triggered = Some(Instant::now());
                trigger.cancel();
            }
            Ok(())
        });
        let result = worker.request(&command).cancel(token).stream(sink).await;
        let returned = Instant::now();
        match result {
            Err(WorkerError::Cancelled {
                generation: cancelled_in,
                ..
            }) if cancelled_in == generation => {}
            other => return Err(format!("expected Cancelled, got {other:?}").into()),
        }
        check(
            worker.generation() == generation,
            "cancelling replaced the child",
        )?;
        let triggered = triggered.ok_or("the token was never triggered")?;
        if i >= warm_up {
            samples.push(returned - triggered);
        }
    }
    worker.shutdown().await;
    let median = percentile(&mut samples, 50);
    let p90 = percentile(&mut samples, 90);
    println!(
        "  cancel    median {median:>8.1} us  p90 {p90:>8.1} us  (token triggered at the first row of SleepRows every 1 ms -> Cancelled; target <= 1000 us)"
    );
    result("cancel_cooperative_us", round1(median), "us");
    Ok(())
}

/// From the request deadline to a ready new generation: the timed-out call
/// kills and reaps the child before it returns, and the next `Ping` spawns
/// and handshakes the next generation. The raw spawn plus handshake,
/// measured alongside, is subtracted.
async fn timeout_replace(reps: usize, warm_up: usize) -> Result<(), BoxError> {
    // Each timeout is an unplanned replacement: the limits must not trip.
    let mut worker = tolerant_worker().await?;
    let hang = Hang {
        check_cancel: false,
    };
    let mut kill_reap = Vec::with_capacity(reps);
    let mut next_ping = Vec::with_capacity(reps);
    let mut deadline_to_ready = Vec::with_capacity(reps);
    let mut raw = Vec::with_capacity(reps);
    let mut overshoot = Vec::with_capacity(reps);
    for i in 0..warm_up + reps {
        let generation = worker.generation();
        let started = Instant::now();
        let result = worker.request(&hang).timeout(HANG_TIMEOUT).call().await;
        let returned = Instant::now();
        match result {
            Err(WorkerError::Timeout { .. }) => {}
            other => return Err(format!("expected Timeout, got {other:?}").into()),
        }
        let ping_started = Instant::now();
        worker.call(&Ping {}).await?;
        let ping = ping_started.elapsed();
        check(
            worker.generation() == generation + 1,
            "the timeout did not start a new generation",
        )?;
        let raw_elapsed = raw_ready().await?;
        // How late tokio's timer fires on its own: part of the first figure.
        let slept = Instant::now();
        tokio::time::sleep(HANG_TIMEOUT).await;
        let late = slept.elapsed().saturating_sub(HANG_TIMEOUT);
        if i >= warm_up {
            // The deadline timer starts once the request is written, a few
            // microseconds after `started`: the figure errs on the high side.
            let after_deadline = returned.saturating_duration_since(started + HANG_TIMEOUT);
            kill_reap.push(after_deadline);
            next_ping.push(ping);
            deadline_to_ready.push(after_deadline + ping);
            raw.push(raw_elapsed);
            overshoot.push(late);
        }
    }
    worker.shutdown().await;
    let kill_reap = percentile(&mut kill_reap, 50) / 1e3;
    let next_ping = percentile(&mut next_ping, 50) / 1e3;
    let deadline_to_ready = percentile(&mut deadline_to_ready, 50) / 1e3;
    let raw = percentile(&mut raw, 50) / 1e3;
    let overshoot = percentile(&mut overshoot, 50) / 1e3;
    let replace = deadline_to_ready - raw;
    println!("  timeout   kill+reap  median {kill_reap:.3} ms  (deadline -> Timeout returned)");
    println!(
        "            of which   median {overshoot:.3} ms  (a bare tokio::time::sleep(50 ms) firing late)"
    );
    println!("            next Ping  median {next_ping:.3} ms  (spawn + handshake + Ping)");
    println!("            raw ready  median {raw:.3} ms  (spawn + one handshake-sized frame)");
    println!(
        "            replace           {replace:.3} ms  (median of kill+reap + next Ping, minus raw ready; target <= 2 ms)"
    );
    result("timeout_kill_reap_ms", round3(kill_reap), "ms");
    result("timer_overshoot_ms", round3(overshoot), "ms");
    result("timeout_next_ping_ms", round3(next_ping), "ms");
    result("timeout_raw_ready_ms", round3(raw), "ms");
    result("timeout_replace_ms", round3(replace), "ms");
    Ok(())
}

/// From just before sending `Abort` to the return of the next successful
/// `Ping`, which runs on a new generation.
async fn crash_recovery(reps: usize, warm_up: usize) -> Result<(), BoxError> {
    // Each abort is an unplanned replacement: the limits must not trip.
    // The `Ping` that follows each crash is the new generation's first
    // request, so no abort is ever a first-request failure anyway.
    let mut worker = tolerant_worker().await?;
    let abort = Abort {
        message: "bench: aborting on purpose".to_owned(),
    };
    let mut detect = Vec::with_capacity(reps);
    let mut recovery = Vec::with_capacity(reps);
    for i in 0..warm_up + reps {
        let generation = worker.generation();
        let started = Instant::now();
        let result = worker.call(&abort).await;
        let detected = started.elapsed();
        match result {
            Err(WorkerError::ChildExited { .. }) => {}
            other => return Err(format!("expected ChildExited, got {other:?}").into()),
        }
        worker.call(&Ping {}).await?;
        let recovered = started.elapsed();
        check(
            worker.generation() == generation + 1,
            "the crash did not start a new generation",
        )?;
        if i >= warm_up {
            detect.push(detected);
            recovery.push(recovered);
        }
    }
    worker.shutdown().await;
    let detect = percentile(&mut detect, 50) / 1e3;
    let recovery = percentile(&mut recovery, 50) / 1e3;
    println!("  crash     detect     median {detect:.3} ms  (Abort sent -> ChildExited, reaped)");
    println!("            recovery   median {recovery:.3} ms  (Abort sent -> next Ping answered)");
    result("crash_detect_ms", round3(detect), "ms");
    result("crash_recovery_ms", round3(recovery), "ms");
    Ok(())
}

// ---------------------------------------------------------------- pool

/// CPU time of one item of the scaling benchmark, in milliseconds.
const BURN_MILLIS: u64 = 20;
/// Tasks submitting items to the pool concurrently.
const SUBMITTERS: usize = 2;
/// What a session open costs the child in the warm reuse benchmark.
const SESSION_COST_MS: u64 = 20;

async fn pool(scale: &Scale) -> Result<(), BoxError> {
    println!(
        "pool: scaling over {} items, warm reuse over {} items, best of {} runs each",
        scale.pool_items, scale.reuse_items, scale.pool_rounds
    );
    pool_scaling(scale.pool_items, scale.pool_rounds).await?;
    warm_reuse(scale.reuse_items, scale.pool_rounds).await
}

/// A pool of fixture workers keyed by strings that keeps idle workers.
fn fixture_pool(builder: WorkerBuilder, workers: usize) -> Result<Pool<String>, BoxError> {
    Ok(
        Pool::builder(builder.request_timeout(Duration::from_secs(30)))
            .max_workers(workers)
            .queue_wait_timeout(Duration::from_secs(30))
            .keep_idle_workers()
            .build()?,
    )
}

/// Starts every worker of `pool` and opens `key` on each: holds
/// `workers` leases at once, then returns them all.
async fn warm_pool(pool: &Pool<String>, workers: usize, key: &str) -> Result<(), BoxError> {
    let mut leases = Vec::with_capacity(workers);
    for _ in 0..workers {
        let mut lease = pool.acquire(key.to_owned()).await?;
        lease.call(&Ping {}).await?;
        leases.push(lease);
    }
    drop(leases);
    let snapshot = pool.snapshot();
    check(
        snapshot.idle == workers && snapshot.sessions_opened == workers as u64,
        "the pool did not warm every worker",
    )
}

/// One scaling run's outcome.
struct BurnRun {
    elapsed: Duration,
    iterations: u64,
    /// Most leases held at the same moment.
    most_in_flight: usize,
}

/// `items` burns through `pool` from [`SUBMITTERS`] tasks.
async fn burn_through(pool: &Pool<String>, items: usize) -> Result<BurnRun, BoxError> {
    let next = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let sessions = pool.snapshot().sessions_opened;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..SUBMITTERS {
        let (pool, next) = (pool.clone(), Arc::clone(&next));
        let (in_flight, most) = (Arc::clone(&in_flight), Arc::clone(&most));
        tasks.spawn(async move {
            let mut iterations = 0u64;
            while next.fetch_add(1, Ordering::Relaxed) < items {
                let mut lease = pool.acquire("burn".to_owned()).await?;
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let burned = lease
                    .call(&Burn {
                        millis: BURN_MILLIS,
                    })
                    .await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                drop(lease);
                iterations += burned?;
            }
            Ok::<_, BoxError>(iterations)
        });
    }
    let mut iterations = 0;
    while let Some(joined) = tasks.join_next().await {
        iterations += joined??;
    }
    let elapsed = started.elapsed();
    check(
        pool.snapshot().sessions_opened == sessions,
        "a timed scaling run opened a session",
    )?;
    Ok(BurnRun {
        elapsed,
        iterations,
        most_in_flight: most.load(Ordering::SeqCst),
    })
}

/// Scaling runs of one pool, added up.
#[derive(Default)]
struct BurnRuns {
    /// The fastest run.
    best: Option<Duration>,
    elapsed: Duration,
    iterations: u64,
    most_in_flight: usize,
}

impl BurnRuns {
    fn add(&mut self, run: &BurnRun) {
        self.best = Some(self.best.map_or(run.elapsed, |best| best.min(run.elapsed)));
        self.elapsed += run.elapsed;
        self.iterations += run.iterations;
        self.most_in_flight = self.most_in_flight.max(run.most_in_flight);
    }

    /// Items per second of the fastest run.
    fn items_per_s(&self, items: usize) -> f64 {
        self.best
            .map_or(f64::NAN, |best| items as f64 / best.as_secs_f64())
    }

    /// Burn loop iterations per second over all runs.
    fn iterations_per_s(&self) -> f64 {
        self.iterations as f64 / self.elapsed.as_secs_f64()
    }
}

/// Items per second through pools of 1 and 2 workers, fed by
/// [`SUBMITTERS`] tasks.
async fn pool_scaling(items: usize, rounds: usize) -> Result<(), BoxError> {
    let one = fixture_pool(fixture()?, 1)?;
    let two = fixture_pool(fixture()?, 2)?;
    warm_pool(&one, 1, "burn").await?;
    warm_pool(&two, 2, "burn").await?;
    let (mut runs_one, mut runs_two) = (BurnRuns::default(), BurnRuns::default());
    for round in 1..=rounds {
        let run_one = burn_through(&one, items).await?;
        let run_two = burn_through(&two, items).await?;
        println!(
            "  run {round}: 1 worker {:.1} items/s, 2 workers {:.1} items/s",
            items as f64 / run_one.elapsed.as_secs_f64(),
            items as f64 / run_two.elapsed.as_secs_f64()
        );
        runs_one.add(&run_one);
        runs_two.add(&run_two);
    }
    one.shutdown().await;
    two.shutdown().await;
    let ratio = runs_two.items_per_s(items) / runs_one.items_per_s(items);
    let cpu_ratio = runs_two.iterations_per_s() / runs_one.iterations_per_s();
    for (workers, runs) in [(1, &runs_one), (2, &runs_two)] {
        println!(
            "  {workers} worker{} {:>7.1} items/s  {:>6.1} M burn iterations/s  peak leases in flight {}  (Burn {{ millis: {BURN_MILLIS} }}, {SUBMITTERS} submitters)",
            if workers == 1 { " " } else { "s" },
            runs.items_per_s(items),
            runs.iterations_per_s() / 1e6,
            runs.most_in_flight
        );
    }
    println!("  ratio     {ratio:.3}  (items/s of the best runs, 2 workers over 1; target >= 1.8)");
    println!(
        "  cpu ratio {cpu_ratio:.3}  (burn iterations/s over all runs, 2 workers over 1: whether each lease had a core)"
    );
    result(
        "pool_items_per_s_1",
        round1(runs_one.items_per_s(items)),
        "items/s",
    );
    result(
        "pool_items_per_s_2",
        round1(runs_two.items_per_s(items)),
        "items/s",
    );
    result("pool_scaling_ratio", round3(ratio), "x");
    result("pool_cpu_scaling_ratio", round3(cpu_ratio), "x");
    Ok(())
}

/// One warm reuse run's outcome.
struct EchoRun {
    elapsed: Duration,
    /// The time of every item but the first.
    after_first: Duration,
    /// Sessions the run opened.
    opens: u64,
}

/// `items` leases one after another, on the keys `key` gives each item;
/// each runs one `Echo`.
async fn echo_through(
    pool: &Pool<String>,
    items: usize,
    key: impl Fn(usize) -> String,
) -> Result<EchoRun, BoxError> {
    let echo = Echo {
        text: "warm?".to_owned(),
    };
    let sessions = pool.snapshot().sessions_opened;
    let started = Instant::now();
    let mut first = None;
    for item in 0..items {
        let mut lease = pool.acquire(key(item)).await?;
        lease.call(&echo).await?;
        drop(lease);
        first.get_or_insert_with(Instant::now);
    }
    let ended = Instant::now();
    Ok(EchoRun {
        elapsed: ended - started,
        after_first: first.map_or(Duration::ZERO, |first| ended - first),
        opens: pool.snapshot().sessions_opened - sessions,
    })
}

/// Items sharing one key (one session open, then warm leases) against
/// items with a key each (a session open per item).
async fn warm_reuse(items: usize, rounds: usize) -> Result<(), BoxError> {
    let builder = fixture()?.env(
        bulkhead_fixture::SESSION_COST_ENV,
        SESSION_COST_MS.to_string(),
    );
    let pool = fixture_pool(builder, 1)?;
    // Start the worker, untimed; its session is for neither side.
    warm_pool(&pool, 1, "warm-up").await?;
    let (mut warm, mut cold, mut steady) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for round in 1..=rounds {
        let shared = echo_through(&pool, items, |_| format!("shared-{round}")).await?;
        let own = echo_through(&pool, items, |item| format!("own-{round}-{item}")).await?;
        check(shared.opens == 1, "warm reuse opened more than one session")?;
        check(
            own.opens == items as u64,
            "a keyed item did not open its session",
        )?;
        println!(
            "  run {round}: shared key {:.3} ms/item ({} open), key per item {:.3} ms/item ({} opens)",
            shared.elapsed.as_secs_f64() * 1e3 / items as f64,
            shared.opens,
            own.elapsed.as_secs_f64() * 1e3 / items as f64,
            own.opens
        );
        warm = warm.min(shared.elapsed);
        steady = steady.min(shared.after_first);
        cold = cold.min(own.elapsed);
    }
    let snapshot = pool.snapshot();
    pool.shutdown().await;
    let warm_ms = warm.as_secs_f64() * 1e3 / items as f64;
    let steady_ms = steady.as_secs_f64() * 1e3 / items.saturating_sub(1).max(1) as f64;
    let cold_ms = cold.as_secs_f64() * 1e3 / items as f64;
    let speedup = cold.as_secs_f64() / warm.as_secs_f64();
    println!(
        "  warm     {warm_ms:>8.3} ms/item  (one key: acquire + Echo + drop, one {SESSION_COST_MS} ms open amortised over {items} items)"
    );
    println!(
        "           {steady_ms:>8.3} ms/item  (the same after the first item: a warm lease and an Echo)"
    );
    println!(
        "  baseline {cold_ms:>8.3} ms/item  (a key per item: every acquire opens a {SESSION_COST_MS} ms session)"
    );
    println!(
        "  speedup  {speedup:>8.1} x        (bounded by the {items} items sharing one open; {} warm hits, {} sessions opened over the section)",
        snapshot.warm_hits, snapshot.sessions_opened
    );
    result("warm_reuse_ms_per_item", round3(warm_ms), "ms");
    result("session_per_item_ms", round3(cold_ms), "ms");
    result("warm_reuse_speedup", round1(speedup), "x");
    Ok(())
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
