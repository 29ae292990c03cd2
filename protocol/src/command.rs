//! Typed commands: what a parent sends and what comes back.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A request type that names a command the child serves.
///
/// The request value is the command's arguments; [`Command::Output`] is what a
/// terminal success carries: the response of a unary command or the summary of
/// a streaming one. Request and output types are shared between parent and
/// child, so both directions of serde are required.
///
/// Usually derived:
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, bulkhead_protocol::Command)]
/// #[command(response = u64)]
/// struct Add {
///     a: u64,
///     b: u64,
/// }
///
/// use bulkhead_protocol::Command;
/// assert_eq!(Add::NAME, "add");
/// ```
pub trait Command: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The command name on the wire.
    const NAME: &'static str;
    /// Response (unary) or summary (streaming).
    type Output: Serialize + DeserializeOwned + Send + 'static;
}

/// A command that answers with one response and emits no rows.
pub trait UnaryCommand: Command {}

/// A command that emits rows, then a summary.
pub trait StreamCommand: Command {
    /// The type of each row.
    type Row: Serialize + DeserializeOwned + Send + 'static;
}
