use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

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

impl Level {
    /// The level's name on the wire (`"info"`); `"unknown"` for a level this
    /// build does not know.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Unknown => "unknown",
        }
    }
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

impl<'a> Success<&'a RawValue> {
    /// Reads a success payload, the value left as JSON that borrows from
    /// `payload`. The payload of a request without rows is
    /// `{"value":…}`, as the Rust runtime writes it; that one is read
    /// without going through serde's field matching. Any other form is
    /// parsed in full, and so is one that only looks like it.
    ///
    /// ```
    /// use bulkhead_protocol::wire::Success;
    ///
    /// let success = Success::decode(br#"{"value":[1,2]}"#).unwrap();
    /// assert_eq!((success.rows.len(), success.value.get()), (0, "[1,2]"));
    /// let success = Success::decode(br#"{"rows":{"rows":2},"value":null}"#).unwrap();
    /// assert_eq!((success.rows["rows"], success.value.get()), (2, "null"));
    /// assert!(Success::decode(br#"{"rows":{}}"#).is_err());
    /// ```
    pub fn decode(payload: &'a [u8]) -> Result<Self, serde_json::Error> {
        let bare = payload
            .strip_prefix(br#"{"value":"#)
            .and_then(|rest| rest.strip_suffix(b"}"));
        // Exactly one JSON value between the two, or the full parse decides.
        if let Some(Ok(value)) = bare.map(serde_json::from_slice::<&RawValue>) {
            return Ok(Success {
                rows: BTreeMap::new(),
                value,
            });
        }
        serde_json::from_slice(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short way and serde's agree, or the short way was not taken.
    #[test]
    fn a_bare_success_reads_as_serde_reads_it() {
        let payloads: &[&[u8]] = &[
            br#"{"value":null}"#,
            br#"{"value":"a}"}"#,
            br#"{"value":{"rows":{"x":1}}}"#,
            br#"{"value":1,"value":2}"#,
            br#"{"value":1,"rows":{"rows":3}}"#,
            br#"{"value": 1 }"#,
            br#"{"value":1} "#,
            br#"{"value":}"#,
            br#"{"value":1"#,
            br#"{"value":[1,2]}"#,
        ];
        for payload in payloads {
            let short = Success::decode(payload).map(|s| (s.rows, s.value.get().trim().to_owned()));
            let full = serde_json::from_slice::<Success<&RawValue>>(payload)
                .map(|s| (s.rows, s.value.get().trim().to_owned()));
            match (short, full) {
                (Ok(short), Ok(full)) => {
                    assert_eq!(short, full, "{}", String::from_utf8_lossy(payload))
                }
                (Err(_), Err(_)) => {}
                (short, full) => panic!(
                    "{}: {short:?} against {full:?}",
                    String::from_utf8_lossy(payload)
                ),
            }
        }
    }
}
