//! The child side of bulkhead.
//!
//! A child binary registers typed handlers on a [`Capability`] and hands it to
//! [`run`]; its `main` is one call:
//!
//! ```no_run
//! use bulkhead_child::{Capability, HandlerError};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, bulkhead::Command)]
//! #[command(response = String)]
//! struct Echo {
//!     text: String,
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let capability = Capability::new("echo", "1.0.0")
//!         .unary(|request: Echo, _cx| Ok::<_, HandlerError>(request.text));
//!     bulkhead_child::run(capability)
//! }
//! ```
//!
//! The runtime answers the parent's hello, dispatches requests by command
//! name one at a time, turns handler errors and panics into typed terminal
//! errors, answers unknown commands with a typed error, and exits when the
//! channel closes. It keeps the protocol on descriptors of its own, so a
//! capability that prints to stdout writes to stderr instead of corrupting
//! frames. Rows are written through a buffer that is flushed when full, at
//! the end of each request, and at most [`LINGER`] after a row was written, so
//! rows stay live without one system call per row.

#![warn(missing_docs)]

mod capability;
mod channel;
mod context;
mod error;
mod input;
mod output;
mod runtime;
mod stdio;

pub use capability::Capability;
pub use context::{Context, DEFAULT_STREAM, StreamContext};
pub use error::HandlerError;
pub use output::LINGER;
pub use runtime::{run, run_if_child};

#[cfg(feature = "fault-injection")]
pub use runtime::run_with_protocol;
