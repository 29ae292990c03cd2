//! The stdio transport: frames travel over the child's stdin and stdout.
//!
//! The simplest channel and the default: no names, no sockets, nothing to
//! clean up. Both halves live here: the parent's ([`StdioTransport`], the
//! `parent` feature, on by default) and the child's ([`StdioChild`], the
//! `child` feature, which `bulkhead-child` registers). The child's half
//! moves the protocol off descriptors 0 and 1 into private duplicates; the
//! child runtime then points stdout at stderr, so a capability's stray
//! `println!` lands there instead of corrupting the frames.
//!
#![cfg_attr(feature = "parent", doc = "```no_run")]
#![cfg_attr(not(feature = "parent"), doc = "```ignore")]
//! # async fn demo() -> Result<(), bulkhead::WorkerError> {
//! let worker = bulkhead::Worker::builder("target/release/my-child")
//!     .transport(bulkhead_stdio::StdioTransport)
//!     .spawn()
//!     .await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

#[cfg(feature = "child")]
mod child;

/// The parent's half. It is defined in `bulkhead`, where it is every
/// builder's default transport, and re-exported here.
#[cfg(feature = "parent")]
pub use bulkhead::transport::StdioTransport;
#[cfg(feature = "child")]
pub use child::StdioChild;

/// The value of [`BULKHEAD_TRANSPORT`](bulkhead_protocol::env::TRANSPORT)
/// for this transport.
pub const NAME: &str = bulkhead_protocol::env::STDIO_TRANSPORT;
