use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Severity of a [`Diagnostic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fine-grained detail.
    Trace,
    /// Detail for debugging.
    Debug,
    /// Normal information.
    Info,
    /// Something looks wrong but the request goes on.
    Warn,
    /// Something failed but the request goes on.
    Error,
    /// A level this build does not know, sent by a newer peer. Logged at
    /// info level.
    #[serde(other)]
    Unknown,
}

/// A message from a running request that is neither a row nor its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Severity.
    pub level: Level,
    /// Human-readable text.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `level`.
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Self {
            level,
            message: message.into(),
        }
    }
}

/// How far a running request has come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Units done so far.
    pub done: u64,
    /// Units in all, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// What is being done now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Progress {
    /// `done` of `total` units.
    pub fn new(done: u64, total: Option<u64>) -> Self {
        Self {
            done,
            total,
            message: None,
        }
    }

    /// The same progress with a message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// Payload of a terminal success frame.
///
/// `rows` holds the child's own count of rows per stream; the parent checks it
/// against the rows it delivered. `value` is the unary response or the
/// streaming summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Success<T> {
    /// Rows sent per stream, as counted by the child; left out when no
    /// stream has any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rows: BTreeMap<String, u64>,
    /// Response or summary.
    pub value: T,
}
