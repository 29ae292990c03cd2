//! The demo: what bulkhead is for, in under a minute.
//!
//! ```text
//! cargo run --release --example capability_runner
//! ```
//!
//! A pool of supervised children serves a batch in which some items are
//! hostile: one aborts, one segfaults, one hangs past its timeout, one
//! balloons past the memory limit, one writes garbage into the channel.
//! Each is contained, named and replaced; every good item succeeds; a final
//! table shows outcomes, replacements by reason and each child's memory.
//! Before that, one checked child streams 200,000 typed rows with live
//! progress.
//!
//! This one executable is both parent and child: `main` first asks
//! `bulkhead_child::run_if_child` whether a bulkhead parent launched it (the
//! worker sets `BULKHEAD_CHILD=1` for every child) and, if so, serves the
//! fixture capability and exits. An application usually ships a separate
//! child binary (see `docs/recipes/ship-a-child.md`).
//!
//! The demo checks its own claims and exits with code 1 if one fails.

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use bulkhead::describe::{Bytes, Span};
use bulkhead::pool::{CallError, ItemError, Pool};
use bulkhead::sink::from_fn;
use bulkhead::wire::{Diagnostic, Progress};
use bulkhead::{Child, Row};
use bulkhead_examples::demo::{Hazard, Verdict};
use bulkhead_fixture::{Count, Item};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Rows the streamed `Count` request emits.
const ROWS: u64 = 200_000;
/// Workers in the pool.
const WORKERS: usize = 3;
/// Each request's time limit.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Each child's memory limit, enforced by the kernel.
const MEMORY_LIMIT: u64 = 256 * 1024 * 1024;

fn main() -> ExitCode {
    // In the child: serve the fixture and exit. In the parent: return.
    bulkhead_child::run_if_child(bulkhead_fixture::capability);

    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Box::<dyn Error>::from)
        .and_then(|runtime| runtime.block_on(run()));
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            println!("\nSome of the demo's claims did not hold; see the lines marked MISMATCH.");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("demo: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, Box<dyn Error>> {
    // The child is this executable, checked against what the parent expects.
    let child = Child::program(std::env::current_exe()?)
        .expect_name(bulkhead_fixture::NAME)
        .require_stream::<Count>()
        .configure(|worker| worker.request_timeout(TIMEOUT).memory_limit(MEMORY_LIMIT));

    println!("1. One checked child streams typed rows\n");
    let streamed = stream(child.clone()).await?;

    println!("\n2. A pool of {WORKERS} children serves a batch with hostile items\n");
    let pool: Pool<String> = child.pool(|pool| pool.max_workers(WORKERS)).await?;
    let hazards = Hazard::batch();
    let report = pool
        .batch(hazards.iter().map(|hazard| (String::new(), *hazard)))
        .run(|lease, hazard| Box::pin(hazard.run(lease)))
        .await;
    let mut claims_hold = streamed;
    println!("  {:<24} outcome", "item");
    for (hazard, outcome) in hazards.iter().zip(&report.outcomes) {
        let verdict = hazard.judge(outcome);
        let (outcome, last_words) = match outcome {
            Ok(answer) => (format!("ok: {answer}"), None),
            Err(err) if hazard.ends_child() => {
                (format!("contained, child replaced: {err}"), last_words(err))
            }
            Err(err) => (format!("typed error, child kept: {err}"), None),
        };
        let mark = match verdict {
            Verdict::AsExpected => "",
            Verdict::Mismatch => {
                claims_hold = false;
                "  MISMATCH"
            }
        };
        println!("  {:<24} {outcome}{mark}", hazard.label());
        if let Some(line) = last_words {
            println!("  {:<24}   its stderr ended with: {line}", "");
        }
    }

    // Replacements run in the background; wait until the pool is whole.
    let snapshot = bulkhead_examples::settled(&pool).await;
    let totals = &report.totals;
    println!("\n3. What happened\n");
    println!(
        "  items      {} ok, {} failed, none lost, in {}",
        totals.ok,
        totals.failed_count(),
        Span(totals.elapsed)
    );
    let by_kind = bulkhead_examples::counts(&totals.failed);
    println!("  failures   {by_kind}");
    let restarts = bulkhead_examples::counts(&snapshot.totals.restarts_by_reason);
    println!("  replaced   {}", restarts);
    let rss: Vec<String> = snapshot
        .rss
        .iter()
        .map(|rss| {
            rss.bytes()
                .map_or("unknown".to_owned(), |b| Bytes(b).to_string())
        })
        .collect();
    println!(
        "  children   {} running, resident {}",
        snapshot.idle + snapshot.leased,
        rss.join(", ")
    );
    if totals.ok + totals.failed_count() != hazards.len() {
        println!("  MISMATCH: an item has no outcome");
        claims_hold = false;
    }
    pool.shutdown().await;
    Ok(claims_hold)
}

/// Streams [`ROWS`] rows from one checked child with a progress bar, and
/// says whether the rows match the child's own count.
async fn stream(child: Child) -> Result<bool, Box<dyn Error>> {
    let mut worker = child.worker().await?;
    if let Some(info) = worker.info() {
        println!(
            "  child      {} {} (pid {}), {} commands, checked against the parent's expectations",
            info.name,
            info.version,
            info.pid,
            info.commands.len()
        );
    }
    let bar = ProgressBar::with_draw_target(Some(ROWS), ProgressDrawTarget::stdout());
    bar.set_style(ProgressStyle::with_template(
        "  count      [{bar:40}] {human_pos}/{human_len} rows, eta {eta}",
    )?);
    let mut progress = from_fn(|progress: Progress| {
        bar.set_position(progress.done);
        Ok(())
    });
    let mut notes = 0u64;
    let mut diagnostics = from_fn(|diagnostic: Diagnostic| {
        notes += 1;
        log(
            &bar,
            format!("  {:<10} {}", diagnostic.level.as_str(), diagnostic.message),
        );
        Ok(())
    });
    let mut even = 0u64;
    let rows = from_fn(|row: Row<Item>| {
        even += u64::from(row.value.even);
        Ok(())
    });
    let request = Count {
        n: ROWS,
        progress_every: 2_000,
        diagnostic_every: 50_000,
    };
    let summary = worker
        .request(&request)
        .progress(&mut progress)
        .diagnostics(&mut diagnostics)
        .stream(rows)
        .await;
    bar.finish_and_clear();
    // Rows are tentative until the terminal success: only now do they count.
    let summary = summary?;
    let per_second = summary.rows as f64 / summary.elapsed.as_secs_f64();
    println!(
        "  count      {} rows ({even} even) in {}, {:.1} million rows/s; the child counted {}",
        summary.rows,
        Span(summary.elapsed),
        per_second / 1e6,
        summary.value.emitted
    );
    let resident = worker.sample_rss().bytes().map(Bytes);
    if let Some(resident) = resident {
        println!("  memory     {resident} resident after the stream");
    }
    println!("  shutdown   {}", worker.shutdown().await);
    let holds = summary.rows == ROWS && summary.value.emitted == ROWS && notes == 4;
    if !holds {
        println!("  MISMATCH: expected {ROWS} rows and 4 diagnostics, got {notes} diagnostics");
    }
    Ok(holds)
}

/// The last line the dead child wrote to stderr, if any.
fn last_words(err: &ItemError) -> Option<String> {
    let ItemError::Call(CallError::Request(err)) = err else {
        return None;
    };
    let tail = err.stderr_tail()?;
    let line = tail.lines().rev().find(|line| !line.trim().is_empty())?;
    Some(line.trim().to_owned())
}

/// Prints a line above the progress bar. A hidden bar (stdout is not a
/// terminal) ignores `println`, so print directly then.
fn log(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}
