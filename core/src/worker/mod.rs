//! The supervised worker: one child process at a time, serial requests.
//!
//! A [`Worker`] owns one child *generation* at a time. It spawns the child
//! through a [`Transport`](crate::Transport), checks the handshake within the
//! startup timeout, runs one request at a time, and replaces the child when it
//! dies, breaks the protocol, asks to be replaced or a restart policy says so.
//! Every request ends in exactly one outcome: `Ok` only for a terminal success
//! frame, otherwise a [`WorkerError`] saying what happened.
//!
//! [`BlockingWorker`] serves callers without an async runtime.

mod backoff;
mod blocking;
mod channel;
mod claim;
mod config;
mod doctor;
mod error;
mod exchange;
mod exit;
mod generation;
mod intensity;
pub mod limits;
mod process;
mod request;
mod restart;
mod rows;
mod settle;
mod shutdown;
mod state;
mod stats;
mod stderr;
mod supervisor;

pub use backoff::Backoff;
pub use blocking::BlockingWorker;
pub(crate) use claim::Claim;
pub use claim::StaleCause;
pub use config::{WorkerBuilder, WorkerConfig};
pub use error::WorkerError;
pub use exit::{ChildExit, Oom};
pub use limits::{LimitHit, MemoryEnforcer, MemoryLimit};
pub use request::{Request, StreamSummary};
pub use shutdown::{ShutdownReport, ShutdownStep};
pub use stats::WorkerStats;
pub use supervisor::Worker;
