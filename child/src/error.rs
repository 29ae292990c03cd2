use std::fmt;

use bulkhead_protocol::wire::{RemoteError, RemoteErrorKind};

/// A handler's failure, sent to the parent as a typed terminal error.
///
/// Any `std::error::Error` converts into it, so handlers can use `?`.
/// Structured detail travels as JSON and is read back on the parent with
/// `RemoteError::detail_as`.
///
/// ```
/// use bulkhead_child::HandlerError;
///
/// let err = HandlerError::new("no such file").with_detail(&serde_json::json!({"path": "/x"}));
/// assert_eq!(err.to_string(), "no such file");
/// ```
#[derive(Debug)]
pub struct HandlerError {
    kind: RemoteErrorKind,
    message: String,
    detail: Option<serde_json::Value>,
}

impl HandlerError {
    /// A handler error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            kind: RemoteErrorKind::Handler,
            message: message.into(),
            detail: None,
        }
    }

    /// Attaches structured detail. A value that does not serialize is dropped
    /// and noted in the message.
    pub fn with_detail<T: serde::Serialize + ?Sized>(mut self, detail: &T) -> Self {
        match serde_json::to_value(detail) {
            Ok(value) => self.detail = Some(value),
            Err(err) => self.message = format!("{} (detail lost: {err})", self.message),
        }
        self
    }

    /// The request was cancelled; returned by emit and progress calls once
    /// the parent has asked to stop.
    pub fn cancelled() -> Self {
        Self {
            kind: RemoteErrorKind::Cancelled,
            message: "the request was cancelled".to_owned(),
            detail: None,
        }
    }

    pub(crate) fn encode(message: String) -> Self {
        Self {
            kind: RemoteErrorKind::Encode,
            message,
            detail: None,
        }
    }

    /// Whether this error reports a cancellation.
    pub fn is_cancelled(&self) -> bool {
        self.kind == RemoteErrorKind::Cancelled
    }

    pub(crate) fn into_remote(self) -> RemoteError {
        RemoteError {
            kind: self.kind,
            message: self.message,
            detail: self.detail,
            replace: false,
        }
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for HandlerError {
    fn from(err: E) -> Self {
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::new(message)
    }
}
