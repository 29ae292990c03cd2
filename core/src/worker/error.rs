use std::path::PathBuf;
use std::time::Duration;

use crate::policy::RestartReason;
use crate::rss::Rss;
use crate::sink::SinkError;
use crate::transport::TransportError;
use crate::wire::{EncodeError, FrameError, FrameKind, RemoteError};

use super::{ChildExit, StaleCause};

/// Everything that can go wrong between the parent and a child.
///
/// Request-scoped variants name the command and generation and, where rows
/// may have reached the sink, how many did: those rows are tentative and must
/// not be committed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The configuration is unusable.
    #[error("invalid worker configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: &'static str,
    },
    /// The child process could not be started.
    #[error("could not start child {}", program.display())]
    Spawn {
        /// The executable.
        program: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The transport could not connect to the child.
    #[error("transport failed for generation {generation}")]
    Transport {
        /// Child generation.
        generation: u64,
        /// Cause.
        #[source]
        source: TransportError,
    },
    /// Spawn plus handshake took longer than the startup timeout.
    #[error("generation {generation} did not finish its handshake within {timeout:?}")]
    StartupTimeout {
        /// Child generation.
        generation: u64,
        /// The limit.
        timeout: Duration,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// The child's handshake was missing or malformed.
    #[error("generation {generation} sent a bad handshake: {detail}")]
    Handshake {
        /// Child generation.
        generation: u64,
        /// What was wrong.
        detail: String,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// The child speaks another protocol version; it was not started.
    #[error("generation {generation} speaks protocol version {child}, the parent speaks {parent}")]
    ProtocolMismatch {
        /// Child generation.
        generation: u64,
        /// The parent's version.
        parent: u32,
        /// The child's version.
        child: u32,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// The child sent bytes that are not a valid frame; the child was replaced.
    #[error("generation {generation} broke the framing during {command:?}")]
    Frame {
        /// Command running at the time, if any.
        command: Option<String>,
        /// Child generation.
        generation: u64,
        /// Rows delivered before the failure (tentative).
        rows_delivered: u64,
        /// What was wrong.
        #[source]
        source: FrameError,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// The child sent a well-formed frame that breaks the protocol at this
    /// point; the child was replaced.
    #[error("generation {generation} sent an unexpected {kind} frame during {command:?}: {detail}")]
    Protocol {
        /// Command running at the time, if any.
        command: Option<String>,
        /// Child generation.
        generation: u64,
        /// Kind of the offending frame.
        kind: FrameKind,
        /// What was wrong.
        detail: String,
        /// Rows delivered before the failure (tentative).
        rows_delivered: u64,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// A unary command emitted a row. The request was cancelled and
    /// drained; the child stays warm.
    #[error("command {command} is unary but emitted a row on stream {stream:?}")]
    UnexpectedRow {
        /// Command name.
        command: String,
        /// Stream of the row.
        stream: String,
    },
    /// The child closed its channel before the request ended and could not
    /// be reaped, so its exit is unknown; the child was killed.
    #[error("generation {generation} closed its channel during {command:?}")]
    ChannelClosed {
        /// Command running at the time, if any.
        command: Option<String>,
        /// Child generation.
        generation: u64,
        /// Rows delivered before the failure (tentative).
        rows_delivered: u64,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// The child exited or closed its channel before the request ended.
    #[error("generation {generation} {exit} during {command:?}")]
    ChildExited {
        /// Command running at the time, if any.
        command: Option<String>,
        /// Child generation.
        generation: u64,
        /// How the child ended.
        exit: ChildExit,
        /// Rows delivered before the exit (tentative).
        rows_delivered: u64,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// The child ended the request with a typed error.
    #[error("command {command} failed in generation {generation}")]
    Remote {
        /// Command name.
        command: String,
        /// Child generation.
        generation: u64,
        /// Rows delivered before the error (tentative).
        rows_delivered: u64,
        /// The child's error.
        #[source]
        source: RemoteError,
    },
    /// A row did not decode into the caller's row type. The request was
    /// cancelled and drained; the child stays warm.
    #[error("row {seq} of stream {stream:?} of command {command} does not decode")]
    RowDecode {
        /// Command name.
        command: String,
        /// Stream of the row.
        stream: String,
        /// Sequence number of the row.
        seq: u64,
        /// Rows delivered before it (tentative).
        rows_delivered: u64,
        /// Decoder error.
        #[source]
        source: serde_json::Error,
    },
    /// The response or summary did not decode into the caller's type.
    #[error("the output of command {command} does not decode")]
    OutputDecode {
        /// Command name.
        command: String,
        /// Rows delivered before it (tentative).
        rows_delivered: u64,
        /// Decoder error.
        #[source]
        source: serde_json::Error,
    },
    /// A sink refused an item. The request was cancelled and drained.
    #[error("the sink for command {command} failed")]
    Sink {
        /// Command name.
        command: String,
        /// Rows delivered before the failure (tentative).
        rows_delivered: u64,
        /// Cause.
        #[source]
        source: SinkError,
    },
    /// The child's per-stream row counts disagree with the rows delivered.
    #[error(
        "command {command}: child reports {reported} rows on stream {stream:?}, {delivered} were delivered"
    )]
    SummaryMismatch {
        /// Command name.
        command: String,
        /// Stream name.
        stream: String,
        /// Count in the child's summary.
        reported: u64,
        /// Rows the parent delivered on that stream.
        delivered: u64,
        /// Rows delivered on all streams (tentative).
        rows_delivered: u64,
    },
    /// The request could not be encoded; nothing was sent.
    #[error("request for command {command} could not be encoded")]
    Encode {
        /// Command name.
        command: String,
        /// Cause.
        #[source]
        source: EncodeError,
    },
    /// Writing to the child failed; the child was replaced.
    #[error("writing to generation {generation} failed")]
    Write {
        /// Child generation.
        generation: u64,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The request passed its timeout; the child was killed and replaced.
    #[error("command {command} timed out after {timeout:?} in generation {generation}")]
    Timeout {
        /// Command name.
        command: String,
        /// Child generation.
        generation: u64,
        /// The limit that passed.
        timeout: Duration,
        /// Rows delivered before the timeout (tentative).
        rows_delivered: u64,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// The caller cancelled the request and the child stopped in time; the
    /// child stays warm.
    #[error("command {command} was cancelled in generation {generation}")]
    Cancelled {
        /// Command name.
        command: String,
        /// Child generation.
        generation: u64,
        /// Rows delivered before the cancellation (tentative).
        rows_delivered: u64,
    },
    /// The request was cancelled (by the caller, or because a row could not
    /// be delivered) and the child did not end it within the grace period;
    /// the child was killed and replaced.
    #[error(
        "command {command} did not stop within {grace:?} of its cancellation; generation {generation} was killed"
    )]
    CancelForced {
        /// Command name.
        command: String,
        /// Child generation.
        generation: u64,
        /// The grace period.
        grace: Duration,
        /// Rows delivered before the cancellation (tentative).
        rows_delivered: u64,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// Too many unplanned replacements in the sliding window; no child was
    /// started.
    #[error("{limit} replacements within {window:?}: refusing work for {retry_after:?}")]
    RestartLimit {
        /// The limit.
        limit: u32,
        /// The window.
        window: Duration,
        /// When the window next allows a replacement.
        retry_after: Duration,
    },
    /// Children keep failing right after start; the worker refuses work
    /// until [`Worker::cycle`](super::Worker::cycle) is called.
    #[error("{attempts} children in a row failed right after start; last: {cause}")]
    CrashLoop {
        /// Failures in a row.
        attempts: u32,
        /// The last failure, with the child's stderr tail if there was one.
        cause: String,
    },
    /// The child passed the hard RSS limit during the request; it was
    /// killed and replaced.
    #[error("command {command}: generation {generation} reached {} resident, over the {} hard limit", Rss::Bytes(*rss), Rss::Bytes(*limit))]
    MemoryLimit {
        /// Command name.
        command: String,
        /// Child generation.
        generation: u64,
        /// The sample over the limit, in bytes.
        rss: u64,
        /// The limit, in bytes.
        limit: u64,
        /// Rows delivered before the kill (tentative).
        rows_delivered: u64,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// A fresh child was already over its restart policy's RSS ceiling right
    /// after start, so cycling cannot help. Reported once; that child then
    /// serves requests without being cycled for that reason.
    #[error("generation {generation} is over budget right after start: {reason}")]
    OverBudgetAtStart {
        /// Child generation.
        generation: u64,
        /// What the policy decided, with both figures.
        reason: RestartReason,
        /// The resident set size right after the handshake.
        startup_rss: Rss,
    },
    /// The request came through a pool lease that no longer holds its
    /// child: the generation it was granted under ended, or a request on it
    /// was cancelled. Nothing was sent; acquire a new lease.
    #[error("stale lease: generation {generation} {cause}")]
    StaleLease {
        /// The generation the lease was granted under.
        generation: u64,
        /// What spent the lease.
        cause: StaleCause,
    },
    /// The worker was shut down.
    #[error("the worker is shut down")]
    Closed,
}

impl WorkerError {
    /// Rows that reached the sink before this error. They are tentative: no
    /// terminal success confirmed them.
    pub fn rows_delivered(&self) -> u64 {
        match self {
            WorkerError::Frame { rows_delivered, .. }
            | WorkerError::Protocol { rows_delivered, .. }
            | WorkerError::ChannelClosed { rows_delivered, .. }
            | WorkerError::ChildExited { rows_delivered, .. }
            | WorkerError::Remote { rows_delivered, .. }
            | WorkerError::RowDecode { rows_delivered, .. }
            | WorkerError::OutputDecode { rows_delivered, .. }
            | WorkerError::Sink { rows_delivered, .. }
            | WorkerError::Timeout { rows_delivered, .. }
            | WorkerError::Cancelled { rows_delivered, .. }
            | WorkerError::CancelForced { rows_delivered, .. }
            | WorkerError::MemoryLimit { rows_delivered, .. }
            | WorkerError::SummaryMismatch { rows_delivered, .. } => *rows_delivered,
            _ => 0,
        }
    }

    /// The end of the child's stderr, where this error carries it.
    pub fn stderr_tail(&self) -> Option<&str> {
        match self {
            WorkerError::StartupTimeout { stderr_tail, .. }
            | WorkerError::Handshake { stderr_tail, .. }
            | WorkerError::ProtocolMismatch { stderr_tail, .. }
            | WorkerError::Protocol { stderr_tail, .. }
            | WorkerError::ChannelClosed { stderr_tail, .. }
            | WorkerError::Timeout { stderr_tail, .. }
            | WorkerError::CancelForced { stderr_tail, .. }
            | WorkerError::MemoryLimit { stderr_tail, .. }
            | WorkerError::Frame { stderr_tail, .. }
            | WorkerError::ChildExited { stderr_tail, .. } => Some(stderr_tail),
            _ => None,
        }
    }
}
