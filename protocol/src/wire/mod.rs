//! The wire protocol shared by parent and child.
//!
//! Every frame is a 4-byte big-endian length followed by that many bytes of
//! body. A body starts with a one-byte [`FrameKind`] and an 8-byte big-endian
//! request id, then carries kind-specific fields and a JSON payload. The full
//! specification, precise enough to write a child in another language, is
//! `docs/protocol.md`.
//!
//! - [`FrameReader`] splits a byte stream into length-checked frame bodies,
//!   in place, blocking (the child) or async (the parent).
//! - [`Frame`] parses one body without copying its payload.
//! - [`FrameEncoder`] writes frames into a buffer, serializing payloads in place.
//! - [`Hello`], [`Handshake`], [`Diagnostic`], [`Progress`], [`Success`] and
//!   [`RemoteError`] are the JSON payloads.

mod encode;
mod error;
mod finding;
mod frame;
mod handshake;
mod kind;
mod payload;
mod reader;
mod remote;

pub use encode::FrameEncoder;
pub use error::{EncodeError, FrameError};
pub use finding::{Finding, Severity};
pub use frame::{Frame, RawRow};
pub use handshake::{ChildInfo, CommandInfo, Handshake, Hello};
pub use kind::FrameKind;
pub use payload::{Diagnostic, Level, Progress, Success};
pub use reader::{FrameReader, MAX_GROWTH, frame_length};
pub use remote::{RemoteError, RemoteErrorKind};

/// The protocol version this build speaks. Parent and child must agree exactly.
pub const PROTOCOL_VERSION: u32 = 1;

/// The command name of a session open: a unary request whose arguments are
/// the session key's JSON and whose success payload is ignored. Reserved: no
/// capability command may use it.
pub const SESSION_COMMAND: &str = "bulkhead.session";

/// The unary command a child with a doctor handler answers with a JSON
/// array of [`Finding`]s. Commands whose names start with `bulkhead.` are
/// the protocol's own.
pub const DOCTOR_COMMAND: &str = "bulkhead.doctor";

/// The prefix of every command name the protocol reserves.
pub const RESERVED_PREFIX: &str = "bulkhead.";

/// The default maximum frame body size: 16 MiB.
pub const DEFAULT_MAX_FRAME: u32 = 16 * 1024 * 1024;

/// The smallest maximum frame size either side may announce: 4 KiB.
pub const MIN_MAX_FRAME: u32 = 4 * 1024;

/// Bytes in the length prefix.
pub const LENGTH_BYTES: usize = 4;

/// Bytes in the common body header: kind (1) and request id (8).
pub const HEADER_BYTES: usize = 9;
