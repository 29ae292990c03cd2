use serde::{Deserialize, Serialize};

/// Why a child ended a request with a terminal error frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RemoteErrorKind {
    /// The handler returned an error.
    Handler,
    /// The child serves no command of that name.
    UnknownCommand,
    /// The request arguments did not decode into the command's type.
    BadRequest,
    /// The handler panicked. The child asks to be replaced.
    Panic,
    /// The request was cancelled and the handler stopped.
    Cancelled,
    /// A row, response or summary could not be encoded (too large, or not
    /// serializable).
    Encode,
    /// A kind this build does not know, sent by a newer peer.
    #[serde(other)]
    Unknown,
}

impl RemoteErrorKind {
    /// The stable snake_case name of this kind, as on the wire.
    pub fn name(self) -> &'static str {
        match self {
            RemoteErrorKind::Handler => "handler",
            RemoteErrorKind::UnknownCommand => "unknown_command",
            RemoteErrorKind::BadRequest => "bad_request",
            RemoteErrorKind::Panic => "panic",
            RemoteErrorKind::Cancelled => "cancelled",
            RemoteErrorKind::Encode => "encode",
            RemoteErrorKind::Unknown => "unknown",
        }
    }
}

/// Payload of a terminal error frame: plain data, so it crosses the process
/// boundary intact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{} error in the child: {message}", kind.name())]
pub struct RemoteError {
    /// What went wrong.
    pub kind: RemoteErrorKind,
    /// Human-readable text.
    pub message: String,
    /// Structured detail from the handler, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    /// The child asks to be replaced after this request.
    #[serde(default)]
    pub replace: bool,
}

impl RemoteError {
    /// An error of `kind` with `message`, no detail, not asking for replacement.
    pub fn new(kind: RemoteErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            detail: None,
            replace: false,
        }
    }

    /// Decodes the handler's structured detail into `T`.
    pub fn detail_as<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.detail
            .as_ref()
            .and_then(|detail| T::deserialize(detail).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_from_a_newer_peer_decodes_as_unknown() {
        let err: RemoteError = serde_json::from_str(r#"{"kind":"quota","message":"m"}"#).unwrap();
        assert_eq!(err.kind, RemoteErrorKind::Unknown);
        assert!(!err.replace);
    }

    #[test]
    fn kind_names_match_the_wire() {
        let json = serde_json::to_string(&RemoteErrorKind::UnknownCommand).unwrap();
        assert_eq!(
            json,
            format!("\"{}\"", RemoteErrorKind::UnknownCommand.name())
        );
    }
}
