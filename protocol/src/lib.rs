//! What both processes of bulkhead share: the wire protocol (frames, the
//! one frame reader and the encoder, payloads), the environment contract,
//! the [`Command`] traits, and the child's half of a transport.
//!
//! A parent uses it through the `bulkhead` crate, which re-exports it; a
//! child runtime (`bulkhead-child`), a transport's child half, and a crate
//! of command types shared by both sides depend on this crate alone, with
//! few dependencies: serde, serde_json, bytes and thiserror (tokio's I/O
//! traits only with the `async` feature, for the parent's reader).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, bulkhead_protocol::Command)]
//! #[command(response = u64)]
//! struct Add {
//!     a: u64,
//!     b: u64,
//! }
//!
//! use bulkhead_protocol::Command;
//! assert_eq!(Add::NAME, "add");
//! ```
//!
//! The format is specified in `docs/protocol.md`.

#![warn(missing_docs)]

extern crate self as bulkhead_protocol;

pub mod command;
pub mod env;
pub mod panic;
pub mod transport;
pub mod wire;

pub use bulkhead_macros::ProtocolCommand as Command;
pub use command::{Command, StreamCommand, UnaryCommand};

/// Paths used by code that `#[derive(Command)]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
}
