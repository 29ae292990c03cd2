//! The environment variables this transport adds to a child's: where to
//! connect and what to present. See `docs/protocol.md`.

/// Where the child connects: the listener's address, prefixed with its
/// kind. [`SOCKET_NAMESPACED`] followed by a name in the platform's socket
/// namespace (an abstract Unix socket on Linux, a named pipe under
/// `\\.\pipe\` on Windows), or [`SOCKET_PATH`] followed by the path of a
/// Unix socket file. Always UTF-8.
pub const SOCKET: &str = "BULKHEAD_SOCKET";

/// The prefix of a namespaced name in [`SOCKET`]: `"ns:bulkhead-…"`.
pub const SOCKET_NAMESPACED: &str = "ns:";

/// The prefix of a socket file path in [`SOCKET`]: `"path:/tmp/…/socket"`.
pub const SOCKET_PATH: &str = "path:";

/// The one-time token the child presents when it connects to [`SOCKET`]:
/// 64 lowercase hex digits (256 random bits), fresh for every child.
///
/// The child's first bytes on the connection are the token's length as a
/// 4-byte big-endian unsigned integer, then the token's ASCII bytes. The
/// parent answers nothing: it compares the token in constant time and either
/// goes on with the protocol's hello on that connection or closes it. A
/// connection with any other first bytes is closed and the parent keeps
/// waiting for the right one, until its startup timeout.
pub const TOKEN: &str = "BULKHEAD_TOKEN";
