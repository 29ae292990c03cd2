use super::FrameKind;

/// A frame that could not be read: the byte stream or a body broke the protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix announced more bytes than the negotiated maximum.
    /// Raised before any of the body is buffered.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// Announced body length.
        len: u64,
        /// Maximum in force.
        max: u32,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame ({buffered} bytes buffered)")]
    Truncated {
        /// Bytes of the unfinished frame that had arrived.
        buffered: usize,
    },
    /// The first body byte is not a known frame kind.
    #[error("unknown frame kind 0x{0:02x}")]
    UnknownKind(u8),
    /// The body is shorter than its kind's fixed fields.
    #[error("{kind} frame body is too short: {len} bytes")]
    Short {
        /// Kind of the frame.
        kind: FrameKind,
        /// Body length.
        len: usize,
    },
    /// A zero-length body.
    #[error("empty frame body")]
    Empty,
    /// A command or stream name is not UTF-8.
    #[error("{kind} frame carries a name that is not UTF-8")]
    BadName {
        /// Kind of the frame.
        kind: FrameKind,
    },
    /// Reading the underlying stream failed.
    #[error("reading frames failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A frame that could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded body would exceed the negotiated maximum. Nothing was written.
    #[error("{kind} frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// Kind of the frame.
        kind: FrameKind,
        /// Encoded body length.
        len: usize,
        /// Maximum in force.
        max: u32,
    },
    /// A name is longer than the 65,535 bytes its length field can hold.
    #[error("name of {len} bytes is longer than 65535 bytes")]
    NameTooLong {
        /// Length of the name.
        len: usize,
    },
    /// The payload could not be serialized to JSON.
    #[error("the payload could not be serialized: {0}")]
    Json(#[source] serde_json::Error),
}
