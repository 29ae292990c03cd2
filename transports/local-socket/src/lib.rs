//! The local-socket transport: frames travel over a Unix domain socket, or
//! a named pipe on Windows, that the parent opens for one child.
//!
//! Both halves live here: the parent's ([`LocalSocketTransport`], the
//! `parent` feature, on by default) and the child's ([`LocalSocketChild`],
//! the `child` feature, which `bulkhead-child` registers), with the
//! environment variables between them in [`env`](mod@env).
//!
#![cfg_attr(feature = "parent", doc = "```no_run")]
#![cfg_attr(not(feature = "parent"), doc = "```ignore")]
//! # async fn demo() -> Result<(), bulkhead::WorkerError> {
//! let worker = bulkhead::Worker::builder("target/release/my-child")
//!     .transport(bulkhead_local_socket::LocalSocketTransport::new())
//!     .spawn()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! The child binary needs no change: the child runtime reads
//! [`BULKHEAD_TRANSPORT`](bulkhead_protocol::env::TRANSPORT) and connects by itself.
//! It still points its stdout at stderr and its stdin at the null device, so
//! stray prints are captured as with stdio.
//!
//! # How a child connects
//!
//! For each child, before spawning it, [`prepare`](bulkhead::Transport::prepare):
//!
//! 1. binds a listener on a fresh, unguessable name (128 random bits):
//!    - Linux: an abstract socket `bulkhead-<32 hex>`, with no file;
//!    - other Unixes: a socket file `sock` in a new directory
//!      `bulkhead-<32 hex>` of mode 0700 under the temp directory (or under
//!      the directory given to
//!      [`in_directory`](LocalSocketTransport::in_directory), which forces
//!      this mode on Linux too);
//!    - Windows: a named pipe `\\.\pipe\bulkhead-<32 hex>`;
//! 2. makes a one-time token of 256 random bits (64 hex digits);
//! 3. sets [`BULKHEAD_TRANSPORT`](bulkhead_protocol::env::TRANSPORT)`=local-socket`,
//!    [`BULKHEAD_SOCKET`](env::SOCKET) (`ns:NAME` or
//!    `path:PATH`, see [`SocketAddress`]) and
//!    [`BULKHEAD_TOKEN`](env::TOKEN) in the child's environment.
//!
//! After the spawn, the connect step accepts connections until the child's
//! is found. Each peer is checked first by the credentials the kernel
//! attaches to the connection, before anything is read from it:
//!
//! - on Unix, it must run as this process's effective user
//!   (`SO_PEERCRED` on Linux, `getpeereid` and its kin elsewhere);
//! - where the platform names the peer's process (Linux, the BSDs), it
//!   must be the spawned child or a process of the child's process group
//!   (a launcher's own child);
//!   [`any_process_of_this_user`](LocalSocketTransport::any_process_of_this_user)
//!   relaxes this to any process of the user.
//!
//! A peer that fails these checks is closed at once: it costs one
//! `accept` and one `getsockopt`, takes no place among the peers waiting to
//! present a token, and a flood of them is logged once. A peer that passes
//! must then present the token as its first bytes: a 4-byte big-endian
//! length, then the token's ASCII bytes. The parent compares in constant
//! time and answers nothing; the protocol's hello follows on the accepted
//! connection. A peer with a wrong token, a wrong length, garbage, an early
//! close or nothing within [`PRESENT_TIMEOUT`] is logged with
//! `tracing::warn!` and dropped, and accepting goes on. Peers are checked
//! concurrently, so one that connects and stays silent does not hold the
//! child up; at most [`MAX_PENDING`] may wait at once. The whole step runs
//! under the worker's startup timeout, and a child that exits before it
//! connects ends the start at once.
//!
//! Once the child is in, the listener is closed and the socket file and its
//! directory are removed: the established connection stays, the name is
//! gone, and nothing is left behind whatever happens to the child later.
//! A connect step that is dropped (startup timeout, failed spawn) cleans up
//! the same way. A stale socket file at a listener's path is replaced
//! rather than blocking the bind, though fresh names make that practically
//! impossible.
//!
//! # Who can connect
//!
//! - A socket file sits in a directory only the parent's user can enter.
//! - An abstract socket (Linux) has no permissions: any process in the same
//!   network namespace can connect to it, and its name is visible in
//!   `/proc/net/unix`. The peer checks above close such a connection before
//!   it costs anything, and the token keeps out whatever passes them.
//! - A named pipe (Windows) rejects remote clients
//!   (`PIPE_REJECT_REMOTE_CLIENTS`, `interprocess`' default), is created as
//!   the first instance of its name (`FILE_FLAG_FIRST_PIPE_INSTANCE`, so a
//!   squatter makes the bind fail), and carries a protected DACL granting
//!   access to the current user's SID only (instead of the default one,
//!   which also lets Everyone and the anonymous account read).
//!
//! Only a process of the child's own group (or, on platforms that do not
//! name a peer's process, of the same user) could still crowd the
//! listener; a worker counts such a failed start as a start-up failure.
//! On Windows the pipe's DACL is the user check; peers' process ids are
//! not compared with the child's.

#![warn(missing_docs)]

#[cfg(feature = "parent")]
mod accept;
mod address;
#[cfg(feature = "child")]
mod child;
pub mod env;
#[cfg(feature = "parent")]
mod half;
#[cfg(feature = "parent")]
mod listener;
#[cfg(feature = "parent")]
mod platform;
#[cfg(feature = "parent")]
mod token;
#[cfg(feature = "parent")]
mod transport;

#[cfg(feature = "parent")]
pub use accept::{MAX_PENDING, PRESENT_TIMEOUT};
pub use address::{AddressError, SocketAddress};
#[cfg(feature = "child")]
pub use child::LocalSocketChild;
#[cfg(feature = "parent")]
pub use transport::LocalSocketTransport;

/// The value of [`BULKHEAD_TRANSPORT`](bulkhead_protocol::env::TRANSPORT)
/// for this transport.
pub const NAME: &str = "local-socket";
