//! Rows as the parent receives them.

use std::sync::Arc;

/// One row of a streaming command, decoded into the caller's type.
///
/// Rows are tentative: they reach the sink live, but only a terminal success
/// makes them committable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<R> {
    /// The stream the row belongs to. Cheap to clone: shared by every row of
    /// the stream within a request.
    pub stream: Arc<str>,
    /// Position within its stream, from 0.
    pub seq: u64,
    /// The decoded row.
    pub value: R,
}

/// A row kept as its JSON text, for tools that have no schema.
pub type RawRow = Row<Box<serde_json::value::RawValue>>;
