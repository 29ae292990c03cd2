//! bulkhead runs crashy, hanging or memory-hungry work in supervised worker
//! processes.
//!
//! The parent (your application) starts a child process through a
//! [`Transport`], sends it typed [`Command`]s, receives rows, diagnostics and
//! progress live through [`Sink`]s, and gets exactly one terminal outcome per
//! request. Whatever the child does, the parent survives and is told why.
//!
//! ```no_run
//! # async fn demo(transport: impl bulkhead::Transport) -> Result<(), bulkhead::WorkerError> {
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, bulkhead::Command)]
//! #[command(response = String)]
//! struct Echo {
//!     text: String,
//! }
//!
//! let mut worker = bulkhead::Worker::builder("path/to/child")
//!     .transport(transport)
//!     .spawn()
//!     .await?;
//! let reply = worker.call(&Echo { text: "hi".into() }).await?;
//! assert_eq!(reply, "hi");
//! worker.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The child side lives in the `bulkhead-child` crate; the stdio transport in
//! `bulkhead-stdio`. What both sides share (the wire format, the [`Command`]
//! traits, the environment contract) is the `bulkhead-protocol` crate,
//! re-exported here as [`wire`], [`command`] and [`env`](mod@env); the format is
//! specified in `docs/protocol.md`.

#![warn(missing_docs)]

extern crate self as bulkhead;

pub mod child;
pub mod describe;
mod locate;
mod metrics;
pub mod plan;
pub mod policy;
pub mod pool;
pub mod row;
pub mod rss;
pub mod sink;
pub mod transport;
pub mod worker;

pub use bulkhead_protocol::{command, env, wire};

pub use bulkhead_macros::Command;

/// Paths used by code that `#[derive(Command)]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
}
pub use child::Child;
pub use command::{Command, StreamCommand, UnaryCommand};
pub use locate::{ChildLocator, LocateError, NotUsable};
pub use policy::{Decision, GenerationFacts, RestartPolicy, RestartReason};
pub use pool::{Lease, Pool, PoolError, PoolSnapshot, SessionKey};
pub use row::{RawRow, Row};
pub use rss::Rss;
pub use sink::{Sink, SinkError};
pub use tokio_util::sync::CancellationToken;
pub use transport::{ChildPipes, Connect, Connection, Transport, TransportError};
pub use worker::{Worker, WorkerBuilder, WorkerConfig, WorkerError};
