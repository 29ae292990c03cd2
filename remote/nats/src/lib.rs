//! bulkhead across machines, over NATS.
//!
//! Supervision stays local: each machine runs a **node agent** ([`NodeAgent`],
//! or the `bulkhead-node` binary) with a bulkhead [`Pool`](bulkhead::Pool)
//! of its children. NATS carries the work between machines:
//!
//! - [`RemotePool`] sends typed commands to the nodes with the shape of the
//!   local pool's bulk API (`call`, `stream`, `run`, `run_plan`). Rows come back in
//!   order, each once, under credit-based flow control: a slow sink slows
//!   the child on its node. A node that stops sending heartbeats fails its
//!   requests with [`RemoteError::NodeLost`]; every failure a local worker
//!   classifies reaches the caller as a typed [`Failure`].
//! - [`DurableQueue`] puts a batch on a JetStream work queue. Nodes take one
//!   item per free worker, record each outcome once and only then
//!   acknowledge it; a dead node's items go to another node; an item that
//!   ends its child on every delivery is recorded as poison.
//!
//! Authentication and TLS are NATS's own ([`NatsOptions`]). The design,
//! subjects, message formats and failure model are in
//! `docs/distributed.md`.

#![warn(missing_docs)]

mod client;
mod connect;
mod durable;
mod error;
mod node;
mod subjects;
pub mod wire;

pub use client::{ClientConfig, RemoteBatchOutcome, RemotePlanReport, RemotePool};
pub use connect::{ConnectError, NatsOptions};
pub use durable::{DurableError, DurableQueue, DurableReport};
pub use error::RemoteError;
pub use node::{DurableConfig, NodeAgent, NodeConfig, NodeError, default_node_id};
pub use subjects::{NameError, Subjects};
pub use wire::{Failure, ItemOutcome, ItemRecord, NodeStatus, WireKey};
