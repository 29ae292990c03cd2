//! Instruction counts of the request path against raw baselines, measured
//! under valgrind's callgrind, which counts the same on a quiet machine and
//! on a busy one.
//!
//! ```text
//! cargo run --release --example bench_instructions [-- --quick]
//! ```
//!
//! Each scenario runs this executable twice under
//! `valgrind --tool=callgrind`, once with a small and once with a large
//! count of rows or round trips; the difference between the two totals over
//! the difference between the counts is the cost of one row or one round
//! trip, with start-up, spawning and shutdown taken out. The parent's figure
//! comes from the parent's process alone, the child's from the child's
//! (callgrind follows it with `--trace-children=yes`).
//!
//! - `rows_instructions_ratio`: parent instructions per row of
//!   `Worker::stream(&Count)` (rows of the fixture's `Item`, about 120 bytes
//!   of JSON, decoded into `Row<Item>` for a counting sink) over those of a
//!   raw reader of the same JSON (a `BufReader` splitting length-prefixed
//!   frames, `serde_json::from_slice::<Item>` on each). Target <= 1.15.
//! - `rows_instructions_ratio_small`: the same with `Numbers` rows (16 bytes
//!   of JSON, a `u64`). Target <= 1.3.
//! - `rows_child_instructions_ratio` (and `_small`): the child's
//!   instructions per row against the raw writer's (serde_json into a
//!   `BufWriter`); no target, shown because the child is the other half of
//!   a stream's speed.
//! - `rtt_instructions_ratio`: parent instructions per `worker.call(&Ping {})`
//!   over those of the cheaper of two raw round trips of a small JSON
//!   request, encoded, framed, echoed by a raw child and decoded: a tokio
//!   loop in a spawned task, and a blocking loop. Target <= 2.
//! - `rtt_child_instructions_ratio`: the fixture child's instructions per
//!   round trip over those of the raw echo child. Target <= 3.
//!
//! Every figure prints as a `RESULT name value unit` line; targets are
//! printed, never asserted. `docs/performance.md` explains the figures.

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use bulkhead::Worker;
use bulkhead::sink::Counting;
use bulkhead_fixture::{Count, Item, Numbers, Ping};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type BoxError = Box<dyn Error + Send + Sync>;

/// The measured programs, by the name `--measure` takes.
const ROWS: &str = "rows";
const ROWS_RAW: &str = "rows-raw";
const SMALL: &str = "small";
const SMALL_RAW: &str = "small-raw";
const RTT: &str = "rtt";
const RTT_RAW_ASYNC: &str = "rtt-raw-async";
const RTT_RAW_BLOCKING: &str = "rtt-raw-blocking";

fn main() -> Result<(), BoxError> {
    // Launched by a worker: serve the fixture and exit.
    bulkhead_child::run_if_child(bulkhead_fixture::capability);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["--raw-rows", n] => Ok(bulkhead_fixture::raw::rows(n.parse()?)?),
        ["--raw-numbers", n] => Ok(bulkhead_fixture::raw::numbers(n.parse()?)?),
        ["--raw-echo"] => Ok(bulkhead_fixture::raw::echo()?),
        ["--measure", scenario, n] => measure(scenario, n.parse()?),
        _ => drive(args.contains(&"--quick")),
    }
}

// ---------------------------------------------------------------- driver

/// Runs every scenario under callgrind and prints the figures.
fn drive(quick: bool) -> Result<(), BoxError> {
    let version = Command::new("valgrind").arg("--version").output();
    match version {
        Ok(output) if output.status.success() => print!(
            "callgrind from {}",
            String::from_utf8_lossy(&output.stdout)
        ),
        _ => return Err("valgrind is not installed: this benchmark counts instructions with valgrind's callgrind".into()),
    }
    let (rows, calls) = if quick {
        ((5_000, 25_000), (500, 2_500))
    } else {
        ((20_000, 120_000), (2_000, 12_000))
    };

    println!("rows: instructions per row, {} and {} rows", rows.0, rows.1);
    let typed = per_unit(ROWS, rows)?;
    let raw = per_unit(ROWS_RAW, rows)?;
    report_ratio("rows", "Item rows, parent", typed.parent, raw.parent, 1.15)?;
    report_child("Item rows, child", typed.child, raw.child);
    result("rows_parent_instructions", typed.parent, "instructions/row");
    result("rows_raw_instructions", raw.parent, "instructions/row");
    result("rows_instructions_ratio", typed.parent / raw.parent, "x");
    result("rows_child_instructions", typed.child, "instructions/row");
    result("rows_raw_child_instructions", raw.child, "instructions/row");
    result(
        "rows_child_instructions_ratio",
        typed.child / raw.child,
        "x",
    );

    let typed = per_unit(SMALL, rows)?;
    let raw = per_unit(SMALL_RAW, rows)?;
    report_ratio(
        "rows",
        "16-byte rows, parent",
        typed.parent,
        raw.parent,
        1.3,
    )?;
    report_child("16-byte rows, child", typed.child, raw.child);
    result(
        "rows_small_parent_instructions",
        typed.parent,
        "instructions/row",
    );
    result(
        "rows_small_raw_instructions",
        raw.parent,
        "instructions/row",
    );
    result(
        "rows_instructions_ratio_small",
        typed.parent / raw.parent,
        "x",
    );
    result(
        "rows_small_child_instructions",
        typed.child,
        "instructions/row",
    );
    result(
        "rows_small_raw_child_instructions",
        raw.child,
        "instructions/row",
    );
    result(
        "rows_child_instructions_ratio_small",
        typed.child / raw.child,
        "x",
    );

    println!(
        "rtt: instructions per round trip, {} and {} calls",
        calls.0, calls.1
    );
    let typed = per_unit(RTT, calls)?;
    let raw_async = per_unit(RTT_RAW_ASYNC, calls)?;
    let raw_blocking = per_unit(RTT_RAW_BLOCKING, calls)?;
    let raw = raw_async.parent.min(raw_blocking.parent);
    println!(
        "  raw parent: {:.0} in a tokio task, {:.0} blocking",
        raw_async.parent, raw_blocking.parent
    );
    report_ratio("rtt", "parent", typed.parent, raw, 2.0)?;
    let raw_child = raw_async.child.min(raw_blocking.child);
    report_ratio("rtt", "child", typed.child, raw_child, 3.0)?;
    result("rtt_parent_instructions", typed.parent, "instructions/call");
    result(
        "rtt_raw_async_instructions",
        raw_async.parent,
        "instructions/call",
    );
    result(
        "rtt_raw_blocking_instructions",
        raw_blocking.parent,
        "instructions/call",
    );
    result("rtt_instructions_ratio", typed.parent / raw, "x");
    result("rtt_child_instructions", typed.child, "instructions/call");
    result("rtt_raw_child_instructions", raw_child, "instructions/call");
    result("rtt_child_instructions_ratio", typed.child / raw_child, "x");
    Ok(())
}

/// Instructions per unit of work in the parent and (if counted) its children.
struct PerUnit {
    parent: f64,
    child: f64,
}

/// The cost of one unit of `scenario`, from runs of `small` and `large` units.
fn per_unit(scenario: &str, (small, large): (u64, u64)) -> Result<PerUnit, BoxError> {
    let a = counted(scenario, small)?;
    let b = counted(scenario, large)?;
    let units = (large - small) as f64;
    Ok(PerUnit {
        parent: (b.parent as f64 - a.parent as f64) / units,
        child: (b.child as f64 - a.child as f64) / units,
    })
}

/// Total instructions of one run.
struct Totals {
    parent: u64,
    child: u64,
}

/// Runs `scenario` with `n` units under callgrind.
fn counted(scenario: &str, n: u64) -> Result<Totals, BoxError> {
    let dir = std::env::temp_dir().join(format!(
        "bulkhead-callgrind-{}-{}-{n}",
        std::process::id(),
        scenario
    ));
    std::fs::create_dir_all(&dir)?;
    let process = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg("--trace-children=yes")
        .arg(format!("--callgrind-out-file={}/%p.out", dir.display()))
        .arg(std::env::current_exe()?)
        .args(["--measure", scenario, &n.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = process.id();
    let output = process.wait_with_output()?;
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!(
            "scenario {scenario} with {n} units failed under callgrind ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let mut totals = Totals {
        parent: 0,
        child: 0,
    };
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let count = total(&path)?;
        if path.file_stem().and_then(|stem| stem.to_str()) == Some(&pid.to_string()) {
            totals.parent = count;
        } else {
            totals.child += count;
        }
    }
    std::fs::remove_dir_all(&dir)?;
    if totals.parent == 0 {
        return Err(format!("callgrind wrote no count for scenario {scenario}").into());
    }
    Ok(totals)
}

/// The instructions a callgrind output file counted in all.
fn total(path: &Path) -> Result<u64, BoxError> {
    let file = BufReader::new(std::fs::File::open(path)?);
    for line in file.lines() {
        let line = line?;
        if let Some(rest) = line
            .strip_prefix("totals:")
            .or_else(|| line.strip_prefix("summary:"))
        {
            let first = rest.split_whitespace().next().unwrap_or_default();
            return Ok(first.parse()?);
        }
    }
    Err(format!("{} has no totals line", path.display()).into())
}

fn report_ratio(
    section: &str,
    what: &str,
    typed: f64,
    raw: f64,
    target: f64,
) -> Result<(), BoxError> {
    if !(typed.is_finite() && raw > 0.0) {
        return Err(
            format!("{section} {what}: the counts make no sense ({typed} over {raw})").into(),
        );
    }
    println!(
        "  {what}: bulkhead {typed:.0}, raw {raw:.0}, ratio {:.3} (target <= {target})",
        typed / raw
    );
    Ok(())
}

/// A figure without a target: the child's side of a row stream.
fn report_child(what: &str, typed: f64, raw: f64) {
    println!(
        "  {what}: bulkhead {typed:.0}, raw writer {raw:.0}, ratio {:.3}",
        typed / raw
    );
}

fn result(name: &str, value: f64, unit: &str) {
    let value = if value >= 100.0 {
        value.round()
    } else {
        (value * 1e3).round() / 1e3
    };
    println!("RESULT {name} {value} {unit}");
}

// ---------------------------------------------------------------- measured programs

/// Runs one scenario with `n` units, as callgrind's guest.
fn measure(scenario: &str, n: u64) -> Result<(), BoxError> {
    match scenario {
        ROWS_RAW => raw_rows("--raw-rows", n, |body| {
            std::hint::black_box(serde_json::from_slice::<Item>(body)?);
            Ok(())
        }),
        SMALL_RAW => raw_rows("--raw-numbers", n, |body| {
            std::hint::black_box(serde_json::from_slice::<u64>(body)?);
            Ok(())
        }),
        RTT_RAW_BLOCKING => raw_rtt_blocking(n),
        _ => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let scenario = scenario.to_owned();
            // In a task of its own, as a caller's requests would run.
            runtime.block_on(async move {
                tokio::spawn(async move {
                    match scenario.as_str() {
                        ROWS => typed_rows(n).await,
                        SMALL => typed_numbers(n).await,
                        RTT => typed_rtt(n).await,
                        RTT_RAW_ASYNC => raw_rtt_async(n).await,
                        other => Err(format!("no scenario is called {other}").into()),
                    }
                })
                .await?
            })
        }
    }
}

async fn worker() -> Result<Worker, BoxError> {
    Ok(Worker::builder(std::env::current_exe()?)
        .transport(bulkhead_stdio::StdioTransport)
        .spawn()
        .await?)
}

async fn typed_rows(n: u64) -> Result<(), BoxError> {
    let mut worker = worker().await?;
    let count = Count {
        n,
        progress_every: 0,
        diagnostic_every: 0,
    };
    let mut sink = Counting::default();
    worker.stream(&count, &mut sink).await?;
    worker.shutdown().await;
    check(sink.count == n, "typed rows lost")
}

async fn typed_numbers(n: u64) -> Result<(), BoxError> {
    let mut worker = worker().await?;
    let mut sink = Counting::default();
    worker.stream(&Numbers { n }, &mut sink).await?;
    worker.shutdown().await;
    check(sink.count == n, "typed rows lost")
}

async fn typed_rtt(n: u64) -> Result<(), BoxError> {
    let mut worker = worker().await?;
    for _ in 0..n {
        worker.call(&Ping {}).await?;
    }
    worker.shutdown().await;
    Ok(())
}

/// A raw child writes `n` length-prefixed rows; `decode` each body.
fn raw_rows(
    flag: &str,
    n: u64,
    decode: impl Fn(&[u8]) -> Result<(), BoxError>,
) -> Result<(), BoxError> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([flag, &n.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let count = bulkhead_fixture::raw::read_frames(stdout, |body| {
        decode(body).map_err(std::io::Error::other)
    })?;
    child.wait()?;
    check(count == n, "raw rows lost")
}

/// What a raw round trip sends and gets back: about what a bulkhead request
/// frame for `Ping` carries.
#[derive(Serialize, Deserialize)]
struct RawRequest {
    id: u64,
    command: String,
    args: serde_json::Map<String, serde_json::Value>,
}

fn raw_request(id: u64) -> Result<Vec<u8>, BoxError> {
    let request = RawRequest {
        id,
        command: "ping".to_owned(),
        args: serde_json::Map::new(),
    };
    let mut frame = vec![0u8; 4];
    serde_json::to_writer(&mut frame, &request)?;
    let len = u32::try_from(frame.len() - 4)?;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    Ok(frame)
}

fn raw_reply(id: u64, body: &[u8]) -> Result<(), BoxError> {
    let reply: RawRequest = serde_json::from_slice(body)?;
    check(reply.id == id, "raw reply for another request")
}

fn raw_echo_child() -> Result<std::process::Child, BoxError> {
    Ok(Command::new(std::env::current_exe()?)
        .arg("--raw-echo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?)
}

/// `n` raw round trips from a tokio task.
async fn raw_rtt_async(n: u64) -> Result<(), BoxError> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--raw-echo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut body = Vec::new();
    for id in 0..n {
        stdin.write_all(&raw_request(id)?).await?;
        let mut len = [0u8; 4];
        stdout.read_exact(&mut len).await?;
        body.resize(u32::from_be_bytes(len) as usize, 0);
        stdout.read_exact(&mut body).await?;
        raw_reply(id, &body)?;
    }
    drop(stdin);
    child.wait().await?;
    Ok(())
}

/// `n` raw round trips from a plain thread.
fn raw_rtt_blocking(n: u64) -> Result<(), BoxError> {
    let mut child = raw_echo_child()?;
    let mut stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut body = Vec::new();
    for id in 0..n {
        stdin.write_all(&raw_request(id)?)?;
        let mut len = [0u8; 4];
        stdout.read_exact(&mut len)?;
        body.resize(u32::from_be_bytes(len) as usize, 0);
        stdout.read_exact(&mut body)?;
        raw_reply(id, &body)?;
    }
    drop(stdin);
    child.wait()?;
    Ok(())
}

fn check(ok: bool, what: &'static str) -> Result<(), BoxError> {
    if ok { Ok(()) } else { Err(what.into()) }
}
