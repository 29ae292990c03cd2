//! Choosing the transport per platform or per deployment.
//!
//! ```text
//! cargo run --release --example choose_transport                 # the platform's default
//! BULKHEAD_EXAMPLE_TRANSPORT=stdio cargo run --release --example choose_transport
//! BULKHEAD_EXAMPLE_TRANSPORT=local-socket cargo run --release --example choose_transport
//! ```
//!
//! The rest of the stack does not know which transport runs: the same
//! worker code and the same child binary serve both. The child picks its end
//! from the environment the transport sets, so the capability needs no
//! change. Like the other examples, this executable is its own child.

use std::error::Error;
use std::sync::Arc;

use bulkhead::{Transport, Worker};
use bulkhead_fixture::{Count, Echo, Item};

/// The transport named by `BULKHEAD_EXAMPLE_TRANSPORT`, or the platform's
/// default: named pipes on Windows, where they are the native IPC of
/// services, stdio pipes elsewhere.
fn transport() -> Result<Arc<dyn Transport>, Box<dyn Error>> {
    let default = if cfg!(windows) {
        "local-socket"
    } else {
        "stdio"
    };
    let choice = std::env::var("BULKHEAD_EXAMPLE_TRANSPORT").unwrap_or_else(|_| default.to_owned());
    Ok(match choice.as_str() {
        "stdio" => Arc::new(bulkhead_stdio::StdioTransport),
        "local-socket" => Arc::new(bulkhead_local_socket::LocalSocketTransport::new()),
        other => {
            return Err(format!("unknown transport {other:?}: use stdio or local-socket").into());
        }
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    bulkhead_child::run_if_child(bulkhead_fixture::capability);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Box<dyn Error>> {
    let transport = transport()?;
    println!("transport: {}", transport.name());
    let mut worker = Worker::builder(std::env::current_exe()?)
        .shared_transport(transport)
        .spawn()
        .await?;
    let reply = worker
        .call(&Echo {
            text: "over the chosen channel".into(),
        })
        .await?;
    println!("echo:      {reply:?}");
    let mut rows: Vec<bulkhead::Row<Item>> = Vec::new();
    let request = Count {
        n: 10_000,
        progress_every: 0,
        diagnostic_every: 0,
    };
    let summary = worker.stream(&request, &mut rows).await?;
    println!("count:     {} rows in {:?}", summary.rows, summary.elapsed);
    println!("shutdown:  {}", worker.shutdown().await);
    Ok(())
}
