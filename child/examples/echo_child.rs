//! The smallest child: one command that echoes its text. For measuring what
//! a child binary costs (its size, its dependencies, its start), and as a
//! model for an app's own child.
//!
//! ```text
//! cargo build --release -p bulkhead-child --example echo_child
//! ```

use bulkhead_child::{Capability, HandlerError};
use serde::{Deserialize, Serialize};

/// Returns its text.
#[derive(Serialize, Deserialize, bulkhead_protocol::Command)]
#[command(response = String)]
struct Echo {
    text: String,
}

fn main() -> std::process::ExitCode {
    let capability = Capability::new("echo", "1.0.0")
        .unary(|request: Echo, _cx| Ok::<_, HandlerError>(request.text));
    bulkhead_child::run(capability)
}
