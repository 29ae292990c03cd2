//! The child side of bulkhead.
//!
//! A child binary registers typed handlers on a [`Capability`] and hands it to
//! [`run`]; its `main` is one call:
//!
//! ```no_run
//! use bulkhead_child::{Capability, HandlerError};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, bulkhead_protocol::Command)]
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
//! name one at a time (session opens go to the handler registered with
//! [`Capability::session`]), turns handler errors and panics into typed terminal
//! errors, answers unknown commands with a typed error, and exits when the
//! channel closes. It keeps the protocol on descriptors of its own, so a
//! capability that prints to stdout writes to stderr instead of corrupting
//! frames. Rows are written through a buffer that is flushed when full, at
//! the end of each request, and at most [`LINGER`] after a row was written, so
//! rows stay live without one system call per row.
//!
//! # Never outliving the parent
//!
//! A child ends with its parent, and takes what it started along:
//!
//! - On Linux the runtime arms `PR_SET_PDEATHSIG` (SIGTERM) before the
//!   handshake, and exits at once if the parent named by
//!   `BULKHEAD_PARENT_PID` already died (a parent that is PID 1 counts as
//!   alive). The parent must start the child directly, or through wrappers
//!   that `exec` it.
//! - On Unix, when the child leads its process group (the parent starts it
//!   that way), SIGTERM kills the whole group with SIGKILL, so grandchildren
//!   die with the child. A child that does not lead its group, such as one
//!   started by hand, keeps the default SIGTERM behaviour.
//! - Everywhere the child exits when the channel closes. A handler still
//!   running [1 s](run) after that (or after a shutdown frame) is ended with
//!   the process, and with its process group when the child leads one. A
//!   clean exit leaves the group alone; the parent cleans up after it.
//! - On Windows the parent's job object ends the child and its descendants.

#![warn(missing_docs)]

mod capability;
mod channel;
mod context;
mod error;
mod input;
mod orphan;
mod output;
mod redirect;
mod running;
mod runtime;

pub use capability::Capability;
pub use context::{Context, DEFAULT_STREAM, StreamContext};
pub use error::HandlerError;
pub use output::LINGER;
pub use runtime::{Runtime, run, run_if_child};

#[cfg(feature = "fault-injection")]
pub use runtime::run_with_protocol;
