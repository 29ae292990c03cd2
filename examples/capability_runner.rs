//! A tour of bulkhead against the fixture capability.
//!
//! ```text
//! cargo run --release --example capability_runner
//! ```
//!
//! This one executable is both parent and child: `main` first asks
//! `bulkhead_child::run_if_child` whether a bulkhead parent launched it (the
//! worker sets `BULKHEAD_CHILD=1` for every child) and, if so, serves the
//! fixture capability and exits. Otherwise it is the parent and starts itself
//! as the child. An application usually ships a separate child binary whose
//! `main` is `bulkhead_child::run(capability)`.
//!
//! The parent then walks through the request path: the handshake, a typed
//! unary call, a streamed command with live progress and diagnostics, a typed
//! handler error, the worker's counters and a clean shutdown.

use std::error::Error;
use std::time::Duration;

use bulkhead::sink::from_fn;
use bulkhead::wire::{Diagnostic, Progress};
use bulkhead::{Row, Worker, WorkerError};
use bulkhead_fixture::{Count, Echo, Fail, FailDetail, Item};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Rows the streamed `Count` request emits.
const ROWS: u64 = 200_000;

fn main() -> Result<(), Box<dyn Error>> {
    // In the child: serve the fixture and exit. In the parent: return.
    bulkhead_child::run_if_child(bulkhead_fixture::capability);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> Result<(), Box<dyn Error>> {
    // 1. Spawn one child over stdio and wait for its handshake.
    let mut worker = Worker::builder(std::env::current_exe()?)
        .transport(bulkhead_stdio::StdioTransport)
        .startup_timeout(Duration::from_secs(5))
        .spawn()
        .await?;
    if let Some(info) = worker.info() {
        let commands: Vec<String> = info
            .commands
            .iter()
            .map(|command| {
                let kind = if command.streaming { "stream" } else { "unary" };
                format!("{} ({kind})", command.name)
            })
            .collect();
        println!(
            "child:    {} {} (pid {})",
            info.name, info.version, info.pid
        );
        println!("commands: {}", commands.join(", "));
    }

    // 2. A typed unary call: `Echo`'s response type is `String`.
    let reply = worker
        .call(&Echo {
            text: "hello, child".into(),
        })
        .await?;
    println!("echo:     {reply:?}");

    // 3. A streamed command. Rows arrive decoded as `Row<Item>`; progress and
    //    diagnostics go to sinks of their own. Any `FnMut(T) -> Result<(),
    //    SinkError>` becomes a sink with `from_fn`.
    let bar = ProgressBar::with_draw_target(Some(ROWS), ProgressDrawTarget::stdout());
    bar.set_style(ProgressStyle::with_template(
        "count:    [{bar:40}] {human_pos}/{human_len} rows, eta {eta}",
    )?);
    let mut progress = from_fn(|progress: Progress| {
        if let Some(total) = progress.total {
            bar.set_length(total);
        }
        bar.set_position(progress.done);
        Ok(())
    });
    let mut diagnostics = from_fn(|diagnostic: Diagnostic| {
        log(
            &bar,
            format!("  [{:?}] {}", diagnostic.level, diagnostic.message),
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
    let seconds = summary.elapsed.as_secs_f64();
    println!(
        "count:    {} rows ({even} even), child says {} emitted",
        summary.rows, summary.value.emitted
    );
    println!("          per stream {:?}", summary.streams);
    println!(
        "          {:.1} ms, {:.0} rows/s",
        seconds * 1e3,
        summary.rows as f64 / seconds
    );

    // 4. A handler error comes back typed, with the handler's own detail;
    //    the child stays up for the next request.
    match worker
        .call(&Fail {
            message: "no such record".into(),
            code: 404,
        })
        .await
    {
        Err(WorkerError::Remote {
            command, source, ..
        }) => {
            let detail = source.detail_as::<FailDetail>();
            println!("fail:     command {command:?}: {source}, detail {detail:?}");
        }
        other => println!("fail:     unexpected outcome {other:?}"),
    }

    // 5. Counters across every generation, then a clean shutdown.
    let stats = worker.stats();
    println!(
        "stats:    generation {}, {} ok, {} failed, {} rows, {} B received, {} B sent, {} restarts",
        stats.generation,
        stats.requests_ok,
        stats.requests_failed,
        stats.rows,
        stats.bytes_received,
        stats.bytes_sent,
        stats.restarts
    );
    println!("shutdown: {}", worker.shutdown().await);
    Ok(())
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
