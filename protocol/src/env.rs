//! Environment variables every parent sets for its children.
//!
//! The child runtime reads these to pick its channel; a capability needs no
//! code to serve any transport. A transport adds variables of its own (the
//! local-socket transport's address and token live in that crate). See
//! `docs/protocol.md`.

/// Set to `"1"` in every child the parent launches. Lets one binary act as
/// both parent and child (`bulkhead_child::run_if_child`).
pub const CHILD: &str = "BULKHEAD_CHILD";

/// Names the transport the child must use, such as `"stdio"`.
pub const TRANSPORT: &str = "BULKHEAD_TRANSPORT";

/// The value of [`TRANSPORT`] for the stdio transport, the default.
pub const STDIO_TRANSPORT: &str = "stdio";

/// The parent's process id, so that a child can tell whether the parent
/// that started it has died (Unix: compare with `getppid()` after setting
/// the parent-death signal). A parent running as PID 1 is still alive.
pub const PARENT_PID: &str = "BULKHEAD_PARENT_PID";
