//! What a remote request can end in, besides success.

use std::time::Duration;

use bulkhead::SinkError;
use bulkhead::describe::Span;

use crate::wire::Failure;

/// Why a request through a [`RemotePool`](crate::RemotePool) failed.
///
/// A failure on the node keeps everything the node's worker classified
/// ([`Failed`](Self::Failed) with its [`Failure`]); the others are about
/// the way there and back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The request failed on its node: the same kind and facts a local
    /// worker or pool would give (timeout, a crash by signal, a memory
    /// limit, a protocol violation, the child's own error …).
    #[error("on node {node}: {failure}")]
    Failed {
        /// The node.
        node: String,
        /// What the node classified.
        failure: Box<Failure>,
    },
    /// The node running the request sent no heartbeat for longer than
    /// the client allows: it died, or the network between us is cut.
    #[error(
        "node {node} was lost: no heartbeat for {}, after {rows_delivered} rows",
        Span(*silent_for)
    )]
    NodeLost {
        /// The node.
        node: String,
        /// Time since its last heartbeat.
        silent_for: Duration,
        /// Rows that reached the sink (tentative).
        rows_delivered: u64,
    },
    /// No node took the request in time: none is running, or every node
    /// that was asked is draining.
    #[error("no node of service {service} took the request within {}{}", Span(*waited), last_refusal(refusal.as_deref()))]
    NoNode {
        /// The service.
        service: String,
        /// How long the client waited.
        waited: Duration,
        /// The last refusal, if a node refused.
        refusal: Option<String>,
    },
    /// The node running the request restarted (a new incarnation under
    /// the same id): the request died with the old one.
    #[error("node {node} restarted while it ran the request, after {rows_delivered} rows")]
    NodeRestarted {
        /// The node.
        node: String,
        /// Rows that reached the sink (tentative).
        rows_delivered: u64,
    },
    /// The node no longer runs the request, yet its outcome never came:
    /// NATS lost it (a server restart, a dropped message).
    #[error("node {node} no longer runs the request, and its outcome never came: NATS lost it")]
    OutcomeLost {
        /// The node.
        node: String,
    },
    /// Events of the request were lost or came out of order.
    /// (`node` is empty before a node accepted the request.)
    #[error(
        "event {got} of the request on {} came where event {expected} was due: events were lost",
        who(node)
    )]
    EventsLost {
        /// The node.
        node: String,
        /// The sequence number due.
        expected: u64,
        /// The one that came.
        got: u64,
    },
    /// The node sent a message that is not an event of this protocol.
    /// (`node` is empty before a node accepted the request.)
    #[error("{} sent a message that is not an event: {detail}", who(node))]
    BadEvent {
        /// The node, if known.
        node: String,
        /// What was wrong.
        detail: String,
    },
    /// A row did not decode into the caller's row type. The request was
    /// cancelled.
    #[error(
        "row {index} of stream \"{stream}\" of command \"{command}\" does not decode: {source}"
    )]
    RowDecode {
        /// The command.
        command: String,
        /// The stream.
        stream: String,
        /// The row's position in its stream.
        index: u64,
        /// Decoder error.
        #[source]
        source: serde_json::Error,
    },
    /// The response or summary did not decode into the caller's type.
    #[error("the output of command \"{command}\" does not decode: {source}")]
    OutputDecode {
        /// The command.
        command: String,
        /// Decoder error.
        #[source]
        source: serde_json::Error,
    },
    /// The node's row counts disagree with the rows received.
    #[error(
        "command \"{command}\": node {node} reports {reported} rows on stream \"{stream}\", {received} were received"
    )]
    SummaryMismatch {
        /// The command.
        command: String,
        /// The node.
        node: String,
        /// The stream.
        stream: String,
        /// Rows the node reports.
        reported: u64,
        /// Rows received.
        received: u64,
    },
    /// The sink refused a row. The request was cancelled.
    #[error("the sink for command \"{command}\" failed: {source}")]
    Sink {
        /// The command.
        command: String,
        /// Cause.
        #[source]
        source: SinkError,
    },
    /// The request or its key could not be encoded; nothing was sent.
    #[error("the request for command \"{command}\" could not be encoded: {source}")]
    Encode {
        /// The command.
        command: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// NATS failed under the client.
    #[error("NATS could not {what}: {source}")]
    Nats {
        /// What was being done.
        what: &'static str,
        /// Cause.
        #[source]
        source: async_nats::Error,
    },
}

/// `node X`, or `a node` before one is known.
fn who(node: &str) -> String {
    if node.is_empty() {
        "a node".to_owned()
    } else {
        format!("node {node}")
    }
}

fn last_refusal(refusal: Option<&str>) -> String {
    refusal
        .map(|r| format!(" (the last refusal: {r})"))
        .unwrap_or_default()
}

impl RemoteError {
    /// A short name for the error: the node's classification for
    /// [`Failed`](Self::Failed) (as [`WorkerError::kind`] names it), else
    /// `node_lost`, `node_restarted`, `outcome_lost`, `no_node`, `events_lost`, `bad_event`, `row_decode`,
    /// `output_decode`, `summary_mismatch`, `sink`, `encode` or `nats`.
    ///
    /// [`WorkerError::kind`]: bulkhead::WorkerError::kind
    pub fn kind(&self) -> &str {
        match self {
            RemoteError::Failed { failure, .. } => &failure.kind,
            RemoteError::NodeLost { .. } => "node_lost",
            RemoteError::OutcomeLost { .. } => "outcome_lost",
            RemoteError::NodeRestarted { .. } => "node_restarted",
            RemoteError::NoNode { .. } => "no_node",
            RemoteError::EventsLost { .. } => "events_lost",
            RemoteError::BadEvent { .. } => "bad_event",
            RemoteError::RowDecode { .. } => "row_decode",
            RemoteError::OutputDecode { .. } => "output_decode",
            RemoteError::SummaryMismatch { .. } => "summary_mismatch",
            RemoteError::Sink { .. } => "sink",
            RemoteError::Encode { .. } => "encode",
            RemoteError::Nats { .. } => "nats",
        }
    }

    /// The node's classification, for a request that failed on its node.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            RemoteError::Failed { failure, .. } => Some(failure),
            _ => None,
        }
    }

    /// The node involved, when one is known.
    pub fn node(&self) -> Option<&str> {
        match self {
            RemoteError::Failed { node, .. }
            | RemoteError::NodeLost { node, .. }
            | RemoteError::OutcomeLost { node }
            | RemoteError::NodeRestarted { node, .. }
            | RemoteError::EventsLost { node, .. }
            | RemoteError::BadEvent { node, .. }
            | RemoteError::SummaryMismatch { node, .. } => Some(node),
            _ => None,
        }
    }
}
