//! The application: finds its child binary, checks it, and uses it.
//!
//! ```text
//! cargo run -p bulkhead-template-counter --bin counter
//! ```

use std::process::ExitCode;

use bulkhead::sink::Counting;
use bulkhead::{Child, ChildLocator};
use bulkhead_template_counter::{CHILD_BINARY, CHILD_OVERRIDE, Count, Crash, NAME};

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("counter: no async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("counter: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Next to this executable (as shipped), in cargo's target directories
    // (during development), or where $COUNTER_CHILD says.
    let locator = ChildLocator::new(CHILD_BINARY).env_override(CHILD_OVERRIDE);
    let mut worker = Child::located(locator)
        .expect_name(NAME)
        .expect_version(concat!("=", env!("CARGO_PKG_VERSION")))
        .require_stream::<Count>()
        .worker()
        .await?;
    let summary = worker
        .stream(&Count { n: 1_000 }, Counting::default())
        .await?;
    println!("counted {} numbers", summary.rows);
    // The child crashes; the application does not.
    match worker.call(&Crash {}).await {
        Ok(()) => println!("the child did not crash"),
        Err(crash) => println!("the child crashed: {crash}"),
    }
    let summary = worker.stream(&Count { n: 10 }, Counting::default()).await?;
    println!(
        "counted {} numbers in generation {}",
        summary.rows,
        worker.generation()
    );
    worker.shutdown().await;
    Ok(())
}
