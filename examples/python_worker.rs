//! A Rust parent supervising Python workers.
//!
//! ```text
//! cargo run --release --example python_worker
//! ```
//!
//! The child is `children/python/examples/conformance_child.py`, run by the
//! machine's `python3`. Two of its commands are hazards: `leak` keeps 24 MiB
//! for the life of the process on every request, `spin` loops for ever. A
//! pool of two workers with an RSS ceiling and a request timeout serves a
//! batch of both among ordinary echoes: leaking children are cycled before
//! they pass the ceiling, the spinning one is killed at the timeout and
//! replaced, and every other item succeeds.

use std::process::ExitCode;
use std::time::Duration;

use bulkhead::Worker;
use bulkhead::describe::Bytes;
use bulkhead::policy::RssCeiling;
use bulkhead::pool::Pool;
// The Python child serves these under the same names and shapes.
use bulkhead_fixture::conformance::ConformanceEcho;
use bulkhead_fixture::{Leak, Spin};

const PYTHON_CHILD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../children/python/examples/conformance_child.py"
);
const MIB: u64 = 1024 * 1024;

#[derive(Clone, Copy)]
enum Item {
    Leak,
    Spin,
    Echo(&'static str),
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("python_worker: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("python_worker: {err} (is python3 on PATH?)");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let worker = Worker::builder("python3")
        .arg(PYTHON_CHILD)
        .request_timeout(Duration::from_secs(2))
        .policy(RssCeiling::new(96 * MIB));
    let pool: Pool<String> = Pool::builder(worker).max_workers(2).build()?;
    let mut items = vec![Item::Echo("first")];
    items.extend([Item::Leak; 8]);
    items.extend([Item::Spin, Item::Echo("after the spin"), Item::Echo("last")]);
    let report = pool
        .batch(items.iter().map(|item| (String::new(), *item)))
        .concurrency(2)
        .run(|lease, item| {
            Box::pin(async move {
                match item {
                    Item::Leak => lease
                        .call(&Leak { mib: 24 })
                        .await
                        .map(|kept| format!("leak: the child now keeps {kept} MiB")),
                    Item::Spin => lease.call(&Spin {}).await.map(|()| "spin returned".into()),
                    Item::Echo(text) => lease
                        .call(&ConformanceEcho {
                            value: (*text).into(),
                        })
                        .await
                        .map(|echoed| format!("echo: {echoed}")),
                }
            })
        })
        .await;
    let mut as_expected = true;
    for (item, outcome) in items.iter().zip(&report.outcomes) {
        let fine = match (item, outcome) {
            (Item::Spin, Err(err)) => err.to_string().contains("timed out"),
            (Item::Spin, Ok(_)) => false,
            (_, outcome) => outcome.is_ok(),
        };
        as_expected &= fine;
        match outcome {
            Ok(text) => println!("  ok       {text}"),
            Err(err) => println!("  failed   {err}"),
        }
    }
    // The child killed at the timeout is replaced in the background.
    let snapshot = bulkhead_examples::settled(&pool).await;
    let restarts = bulkhead_examples::counts(&snapshot.totals.restarts_by_reason);
    println!("\n  {}", report.totals);
    println!("  replaced: {}", restarts);
    let rss: Vec<String> = snapshot
        .rss
        .iter()
        .filter_map(|rss| rss.bytes().map(|bytes| Bytes(bytes).to_string()))
        .collect();
    println!("  children now: {}", rss.join(", "));
    pool.shutdown().await;
    let cycled = snapshot
        .totals
        .restarts_by_reason
        .contains_key("rss_ceiling");
    if !cycled {
        println!("  no child was cycled by its RSS ceiling");
    }
    Ok(as_expected && cycled)
}
