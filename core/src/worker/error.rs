use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::describe::{During, Span};
use crate::policy::RestartReason;
use crate::rss::Rss;
use crate::sink::SinkError;
use crate::transport::TransportError;
use crate::wire::{EncodeError, FrameError, FrameKind, RemoteError};

use super::{ChildExit, MemoryEnforcer, StaleCause};

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
    #[error("could not start child {}: {source}", program.display())]
    Spawn {
        /// The executable.
        program: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The transport could not connect to the child.
    #[error("the transport failed for generation {generation}: {source}")]
    Transport {
        /// Child generation.
        generation: u64,
        /// Cause.
        #[source]
        source: TransportError,
    },
    /// Spawn plus handshake took longer than the startup timeout.
    #[error("generation {generation} did not finish its handshake within {}", Span(*timeout))]
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
    #[error("generation {generation} broke the framing {}: {source}", During(command.as_deref()))]
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
    #[error("generation {generation} sent an unexpected {kind} frame {}: {detail}", During(command.as_deref()))]
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
    #[error("command \"{command}\" is unary but emitted a row on stream \"{stream}\"")]
    UnexpectedRow {
        /// Command name.
        command: String,
        /// Stream of the row.
        stream: String,
    },
    /// The child closed its channel before the request ended and could not
    /// be reaped, so its exit is unknown; the child was killed.
    #[error("generation {generation} closed its channel {}", During(command.as_deref()))]
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
    #[error("generation {generation} {exit} {}", During(command.as_deref()))]
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
    #[error("command \"{command}\" failed in generation {generation}: {source}")]
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
    #[error("row {seq} of stream \"{stream}\" of command \"{command}\" does not decode: {source}")]
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
    #[error("the output of command \"{command}\" does not decode: {source}")]
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
    #[error("the sink for command \"{command}\" failed: {source}")]
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
        "command \"{command}\": the child reports {reported} rows on stream \"{stream}\", {delivered} were delivered"
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
    #[error("the request for command \"{command}\" could not be encoded: {source}")]
    Encode {
        /// Command name.
        command: String,
        /// Cause.
        #[source]
        source: EncodeError,
    },
    /// Writing to the child failed; the child was replaced.
    #[error("writing to generation {generation} failed: {source}")]
    Write {
        /// Child generation.
        generation: u64,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The request passed its timeout; the child was killed and replaced.
    #[error("command \"{command}\" timed out after {} in generation {generation}", Span(*timeout))]
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
    #[error("command \"{command}\" was cancelled in generation {generation}")]
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
        "command \"{command}\" did not stop within {} of its cancellation; generation {generation} was killed", Span(*grace)
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
    /// Too many unplanned replacements in the sliding window: the worker
    /// backs off and starts no child until `retry_after` has passed; then
    /// the next request tries a fresh child by itself.
    #[error(
        "{limit} unplanned replacements within {}, the last after {reason}: backing off, the next child starts in {}",
        Span(*window),
        Span(*retry_after)
    )]
    RestartLimit {
        /// The limit.
        limit: u32,
        /// The window.
        window: Duration,
        /// Why the last child ended.
        reason: RestartReason,
        /// How long until the worker tries a fresh child.
        retry_after: Duration,
    },
    /// Children kept failing before they took a request (the spawn, the
    /// transport or the handshake failed, or they exited first): the worker
    /// backs off and starts no child until `retry_after` has passed; then
    /// the next request tries a fresh child by itself.
    /// [`Worker::cycle`](super::Worker::cycle) tries at once.
    #[error(
        "{attempts} children in a row failed before taking a request: backing off, the next child starts in {}; the last failure: {last}",
        Span(*retry_after)
    )]
    CrashLoop {
        /// Start-up failures in a row.
        attempts: u32,
        /// How long until the worker tries a fresh child.
        retry_after: Duration,
        /// The last start-up failure.
        last: Arc<WorkerError>,
    },
    /// The child passed a memory limit during the request and was ended:
    /// sampled by the parent ([`rss_hard_limit`]) or enforced by the
    /// kernel ([`memory_limit`]).
    ///
    /// [`rss_hard_limit`]: super::WorkerBuilder::rss_hard_limit
    /// [`memory_limit`]: super::WorkerBuilder::memory_limit
    #[error(
        "command \"{command}\": generation {generation} passed its {} memory limit{}, {enforcer}",
        Rss::Bytes(*limit),
        resident(*rss)
    )]
    MemoryLimit {
        /// Command name.
        command: String,
        /// Child generation.
        generation: u64,
        /// The limit, in bytes.
        limit: u64,
        /// The sample over the limit when the parent sampled it;
        /// `Unavailable` when the kernel enforced the limit.
        rss: Rss,
        /// What enforced the limit.
        enforcer: MemoryEnforcer,
        /// Rows delivered before the end (tentative).
        rows_delivered: u64,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// The child used up its CPU-time limit ([`cpu_time_limit`]) and the
    /// kernel ended it.
    ///
    /// [`cpu_time_limit`]: super::WorkerBuilder::cpu_time_limit
    #[error(
        "command \"{command}\": generation {generation} used up its CPU-time limit of {}",
        Span(*limit)
    )]
    CpuLimit {
        /// Command name.
        command: String,
        /// Child generation.
        generation: u64,
        /// The limit.
        limit: Duration,
        /// Rows delivered before the end (tentative).
        rows_delivered: u64,
        /// The end of the child's stderr.
        stderr_tail: String,
    },
    /// The kernel limits asked for could not be set up for a child; it was
    /// not started.
    #[error("could not set up the kernel limits of generation {generation}: {what}: {source}")]
    Limits {
        /// Child generation.
        generation: u64,
        /// What was being done.
        what: &'static str,
        /// Cause.
        #[source]
        source: std::io::Error,
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
    /// A short, stable name for the kind of error, in `snake_case`
    /// (`"timeout"`, `"child_exited"`, `"remote"`, ...): what a batch counts
    /// its failures by, and what a log or a metric can key on.
    pub fn kind(&self) -> &'static str {
        match self {
            WorkerError::Config { .. } => "config",
            WorkerError::Spawn { .. } => "spawn",
            WorkerError::Transport { .. } => "transport",
            WorkerError::StartupTimeout { .. } => "startup_timeout",
            WorkerError::Handshake { .. } => "handshake",
            WorkerError::ProtocolMismatch { .. } => "protocol_mismatch",
            WorkerError::Frame { .. } => "frame",
            WorkerError::Protocol { .. } => "protocol",
            WorkerError::UnexpectedRow { .. } => "unexpected_row",
            WorkerError::ChannelClosed { .. } => "channel_closed",
            WorkerError::ChildExited { .. } => "child_exited",
            WorkerError::Remote { .. } => "remote",
            WorkerError::RowDecode { .. } => "row_decode",
            WorkerError::OutputDecode { .. } => "output_decode",
            WorkerError::Sink { .. } => "sink",
            WorkerError::SummaryMismatch { .. } => "summary_mismatch",
            WorkerError::Encode { .. } => "encode",
            WorkerError::Write { .. } => "write",
            WorkerError::Timeout { .. } => "timeout",
            WorkerError::Cancelled { .. } => "cancelled",
            WorkerError::CancelForced { .. } => "cancel_forced",
            WorkerError::RestartLimit { .. } => "restart_limit",
            WorkerError::CrashLoop { .. } => "crash_loop",
            WorkerError::MemoryLimit { .. } => "memory_limit",
            WorkerError::CpuLimit { .. } => "cpu_limit",
            WorkerError::Limits { .. } => "limits",
            WorkerError::OverBudgetAtStart { .. } => "over_budget_at_start",
            WorkerError::StaleLease { .. } => "stale_lease",
            WorkerError::Closed => "closed",
        }
    }

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
            | WorkerError::CpuLimit { rows_delivered, .. }
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
            | WorkerError::CpuLimit { stderr_tail, .. }
            | WorkerError::Frame { stderr_tail, .. }
            | WorkerError::ChildExited { stderr_tail, .. } => Some(stderr_tail),
            _ => None,
        }
    }
}

/// `, resident N` when the parent sampled the figure.
fn resident(rss: Rss) -> String {
    match rss {
        Rss::Bytes(_) => format!(" (resident {rss})"),
        Rss::Unavailable => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::Oom;

    fn exit(code: i32) -> ChildExit {
        ChildExit {
            code: Some(code),
            signal: None,
            signal_name: None,
            killed_by_parent: false,
            oom: Oom::No,
            limit: None,
        }
    }

    #[test]
    fn messages_read_as_sentences_without_debug_text() {
        let during = WorkerError::ChildExited {
            command: Some("count".into()),
            generation: 4,
            exit: exit(3),
            rows_delivered: 0,
            stderr_tail: String::new(),
        };
        assert_eq!(
            during.to_string(),
            "generation 4 exited with code 3 during command \"count\""
        );
        let idle = WorkerError::ChildExited {
            command: None,
            generation: 4,
            exit: exit(3),
            rows_delivered: 0,
            stderr_tail: String::new(),
        };
        assert_eq!(
            idle.to_string(),
            "generation 4 exited with code 3 between requests"
        );
        let looping = WorkerError::CrashLoop {
            attempts: 3,
            retry_after: Duration::from_millis(1_500),
            last: Arc::new(idle),
        };
        assert_eq!(
            looping.to_string(),
            "3 children in a row failed before taking a request: backing off, the next child \
             starts in 1.5 s; the last failure: generation 4 exited with code 3 between requests"
        );
        let limited = WorkerError::RestartLimit {
            limit: 16,
            window: Duration::from_secs(60),
            reason: RestartReason::ChildExited,
            retry_after: Duration::from_millis(100),
        };
        assert_eq!(
            limited.to_string(),
            "16 unplanned replacements within 1 min, the last after child_exited: backing off, \
             the next child starts in 100 ms"
        );
        let timeout = WorkerError::Timeout {
            command: "hang".into(),
            generation: 2,
            timeout: Duration::from_millis(250),
            rows_delivered: 0,
            stderr_tail: String::new(),
        };
        assert_eq!(
            timeout.to_string(),
            "command \"hang\" timed out after 250 ms in generation 2"
        );
        for error in [&during, &looping, &limited, &timeout] {
            let text = error.to_string();
            assert!(!text.contains("Some(") && !text.contains("None"), "{text}");
        }
    }
}
