//! Environment variables the parent sets for its children.
//!
//! The child runtime reads these to pick its channel; a capability needs no
//! code to serve any transport. See `docs/protocol.md`.

/// Set to `"1"` in every child the parent launches. Lets one binary act as
/// both parent and child (`bulkhead_child::run_if_child`).
pub const CHILD: &str = "BULKHEAD_CHILD";

/// Names the transport the child must use, such as `"stdio"`.
pub const TRANSPORT: &str = "BULKHEAD_TRANSPORT";

/// The parent's process id, so that a child can tell whether the parent
/// that started it has died (Unix: compare with `getppid()` after setting
/// the parent-death signal). A parent running as PID 1 is still alive.
pub const PARENT_PID: &str = "BULKHEAD_PARENT_PID";

/// Where a child of the `"local-socket"` transport connects: the listener's
/// address, prefixed with its kind. [`SOCKET_NAMESPACED`] followed by a name
/// in the platform's socket namespace (an abstract Unix socket on Linux, a
/// named pipe under `\\.\pipe\` on Windows), or [`SOCKET_PATH`] followed by
/// the path of a Unix socket file. Always UTF-8. Set only for that
/// transport.
pub const SOCKET: &str = "BULKHEAD_SOCKET";

/// The prefix of a namespaced name in [`SOCKET`]: `"ns:bulkhead-…"`.
pub const SOCKET_NAMESPACED: &str = "ns:";

/// The prefix of a socket file path in [`SOCKET`]: `"path:/tmp/…/socket"`.
pub const SOCKET_PATH: &str = "path:";

/// The one-time token a child of the `"local-socket"` transport presents
/// when it connects to [`SOCKET`]: 64 lowercase hex digits (256 random
/// bits), fresh for every child.
///
/// The child's first bytes on the connection are the token's length as a
/// 4-byte big-endian unsigned integer, then the token's ASCII bytes. The
/// parent answers nothing: it compares the token in constant time and either
/// goes on with the protocol's hello on that connection or closes it. A
/// connection with any other first bytes is closed and the parent keeps
/// waiting for the right one, until its startup timeout.
pub const TOKEN: &str = "BULKHEAD_TOKEN";
