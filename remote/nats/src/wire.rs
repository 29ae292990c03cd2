//! The messages node agents and clients exchange over NATS, all JSON.
//! `docs/distributed.md` describes each with an example.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use bulkhead::pool::{CallError, PoolError};
use bulkhead::wire::{Diagnostic, Progress, RemoteError};
use bulkhead::worker::{ChildExit, Oom, WorkerError};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A session key as JSON text, compared and hashed by that text. The client
/// serializes its typed key once; every node keys its pool by the text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WireKey(pub Box<RawValue>);

impl WireKey {
    /// The key of `key`, serialized.
    pub fn of<K: Serialize>(key: &K) -> Result<Self, serde_json::Error> {
        Ok(Self(serde_json::value::to_raw_value(key)?))
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for WireKey {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl Eq for WireKey {}

impl Hash for WireKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text().hash(state);
    }
}

/// A request, from a client to a node agent.
#[derive(Debug, Serialize, Deserialize)]
pub struct Job {
    /// Unique per request: the client's id and a counter.
    pub id: String,
    /// Where the node publishes the request's events.
    pub reply: String,
    /// The command's name.
    pub command: String,
    /// Its arguments.
    pub args: Box<RawValue>,
    /// The session key.
    pub key: WireKey,
    /// Whether rows are expected (a streaming command).
    pub stream: bool,
    /// Events the node may publish before it waits for more credit.
    pub credits: u64,
    /// The request's timeout on the node, in milliseconds; the node's own
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// One event of a request, from the node to the client's reply subject.
/// `seq` counts the request's events from 0, so that a lost or repeated
/// message is seen.
#[derive(Debug, Serialize, Deserialize)]
pub struct Event {
    /// Position among the request's events.
    pub seq: u64,
    /// What happened.
    pub body: EventBody,
}

/// What a request's event says.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventBody {
    /// The node took the request.
    Accepted {
        /// The node's id.
        node: String,
        /// Its heartbeat interval, in milliseconds.
        #[serde(default)]
        interval_ms: u64,
        /// Its incarnation (see [`NodeStatus::incarnation`]).
        #[serde(default)]
        incarnation: String,
    },
    /// The node did not take the request (it is draining); nothing ran.
    Rejected {
        /// The node's id.
        node: String,
        /// Why.
        reason: String,
    },
    /// One row.
    Row {
        /// The stream.
        stream: String,
        /// Position within the stream.
        index: u64,
        /// The row.
        value: Box<RawValue>,
    },
    /// A diagnostic from the child.
    Diagnostic(Diagnostic),
    /// Progress from the child.
    Progress(Progress),
    /// The request succeeded.
    Done {
        /// The response or summary.
        output: Box<RawValue>,
        /// Rows per stream.
        streams: BTreeMap<String, u64>,
        /// Time on the node from the lease's request to its end, in
        /// microseconds.
        elapsed_us: u64,
    },
    /// The request failed.
    Failed(Box<Failure>),
}

impl EventBody {
    /// Whether this ends the request.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventBody::Done { .. } | EventBody::Failed(_) | EventBody::Rejected { .. }
        )
    }
}

/// From a client to a node, about one of its requests.
#[derive(Debug, Serialize, Deserialize)]
pub struct Control {
    /// The request.
    pub id: String,
    /// Events the client has taken so far, in all: the node may publish
    /// the request's `credits` plus these. Each message repeats the total
    /// (keep-alives too), so a lost message costs nothing.
    #[serde(default)]
    pub taken: u64,
    /// The client gives the request up.
    #[serde(default)]
    pub cancel: bool,
}

/// A node agent's heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node's id.
    pub node: String,
    /// The node agent's version.
    pub version: String,
    /// A random name of this run of the node agent: a node restarted
    /// under the same id has another.
    #[serde(default)]
    pub incarnation: String,
    /// This heartbeat's number, from 0 when the node started.
    pub beat: u64,
    /// Heartbeats are this many milliseconds apart.
    pub interval_ms: u64,
    /// Workers the node runs at most.
    pub capacity: usize,
    /// Workers out with a lease.
    pub leased: usize,
    /// Requests waiting for a lease.
    pub queued: usize,
    /// Session keys held, with how many workers hold each.
    pub warm: Vec<(WireKey, usize)>,
    /// The children's resident set sizes, added up, in bytes.
    pub rss_bytes: u64,
    /// Requests and durable items running now.
    pub running: usize,
    /// The ids of the requests running now (durable items are not
    /// listed): a client whose request is no longer listed, and whose
    /// outcome did not come, knows NATS lost it.
    #[serde(default)]
    pub requests: Vec<String>,
    /// Events of every kind published since the node started.
    pub events: u64,
    /// Leases served by a worker already warm for their key.
    pub warm_hits: u64,
    /// Sessions opened on children.
    pub sessions_opened: u64,
    /// The node takes no new work.
    pub draining: bool,
    /// The node is gone: its last heartbeat.
    pub leaving: bool,
}

/// How a child process ended, as a [`ChildExit`] says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// Exit code, when the child exited normally.
    pub code: Option<i32>,
    /// The terminating signal's number.
    pub signal: Option<i32>,
    /// The signal's name, such as `SIGABRT`.
    pub signal_name: Option<String>,
    /// Whether bulkhead signalled the child itself.
    pub killed_by_parent: bool,
    /// `no`, `suspected`, `confirmed` or `allocation_failed`.
    pub oom: String,
    /// The kernel limit that ended the child, in words, if one did.
    pub limit: Option<String>,
    /// The whole exit, in words.
    pub text: String,
}

impl From<&ChildExit> for ExitInfo {
    fn from(exit: &ChildExit) -> Self {
        let oom = match exit.oom {
            Oom::No => "no",
            Oom::Suspected => "suspected",
            Oom::Confirmed => "confirmed",
            _ => "allocation_failed",
        };
        Self {
            code: exit.code,
            signal: exit.signal,
            signal_name: exit.signal_name.map(str::to_owned),
            killed_by_parent: exit.killed_by_parent,
            oom: oom.to_owned(),
            limit: exit.limit.map(|limit| limit.to_string()),
            text: exit.to_string(),
        }
    }
}

/// A memory limit a child passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryInfo {
    /// The limit, in bytes.
    pub limit: u64,
    /// The sample over the limit, when the parent sampled it.
    pub rss: Option<u64>,
    /// What enforced it, in words.
    pub enforcer: String,
}

/// Why a request failed on its node, with everything the node's worker or
/// pool classified: the same kinds and facts as a local
/// [`WorkerError`] or [`PoolError`], as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct Failure {
    /// The kind, as [`WorkerError::kind`] or [`PoolError::kind`] names it:
    /// `timeout`, `child_exited`, `memory_limit`, `frame`, `remote`, …
    pub kind: String,
    /// The node's error message.
    pub message: String,
    /// The command that ran, if any.
    #[serde(default)]
    pub command: Option<String>,
    /// The child generation, if one was involved.
    #[serde(default)]
    pub generation: Option<u64>,
    /// Rows published before the failure (tentative).
    #[serde(default)]
    pub rows_delivered: u64,
    /// The end of the child's stderr, when the error carries it.
    #[serde(default)]
    pub stderr_tail: Option<String>,
    /// How the child ended, for `child_exited`.
    #[serde(default)]
    pub exit: Option<ExitInfo>,
    /// The limit that passed, for `timeout`, `cpu_limit` and
    /// `cancel_forced`, in milliseconds.
    #[serde(default)]
    pub limit_ms: Option<u64>,
    /// The memory limit, for `memory_limit`.
    #[serde(default)]
    pub memory: Option<MemoryInfo>,
    /// The child's own typed error, for `remote`.
    #[serde(default)]
    pub remote: Option<RemoteError>,
    /// When the node's worker tries again, for `restart_limit`,
    /// `crash_loop` and `backing_off`, in milliseconds.
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
}

impl Failure {
    /// A failure of `kind` with `message` and nothing else.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            message: message.into(),
            command: None,
            generation: None,
            rows_delivered: 0,
            stderr_tail: None,
            exit: None,
            limit_ms: None,
            memory: None,
            remote: None,
            retry_after_ms: None,
        }
    }

    /// A `too_large` failure: `what` takes `size` bytes, more than the
    /// server carries in one message (`limit`).
    pub(crate) fn too_large(what: &str, size: usize, limit: usize) -> Self {
        let bytes = |n: usize| bulkhead::describe::Bytes(u64::try_from(n).unwrap_or(u64::MAX));
        Failure::new(
            "too_large",
            format!(
                "{what} takes {}, more than the NATS server takes in one message ({})",
                bytes(size),
                bytes(limit)
            ),
        )
    }

    /// Whether the request ended its child: it crashed, broke the
    /// protocol, or was killed for a limit. Such an item is retried on a
    /// durable batch, then recorded as poison.
    pub fn ended_child(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "child_exited"
                | "channel_closed"
                | "frame"
                | "protocol"
                | "timeout"
                | "memory_limit"
                | "cpu_limit"
                | "cancel_forced"
        )
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl From<&WorkerError> for Failure {
    fn from(error: &WorkerError) -> Self {
        let mut failure = Failure::new(error.kind(), error.to_string());
        failure.rows_delivered = error.rows_delivered();
        failure.stderr_tail = error.stderr_tail().map(str::to_owned);
        match error {
            WorkerError::ChildExited {
                command,
                generation,
                exit,
                ..
            } => {
                failure.command.clone_from(command);
                failure.generation = Some(*generation);
                failure.exit = Some(ExitInfo::from(exit));
            }
            WorkerError::Frame {
                command,
                generation,
                ..
            }
            | WorkerError::Protocol {
                command,
                generation,
                ..
            }
            | WorkerError::ChannelClosed {
                command,
                generation,
                ..
            } => {
                failure.command.clone_from(command);
                failure.generation = Some(*generation);
            }
            WorkerError::Remote {
                command,
                generation,
                source,
                ..
            } => {
                failure.command = Some(command.clone());
                failure.generation = Some(*generation);
                failure.remote = Some(source.clone());
            }
            WorkerError::Timeout {
                command,
                generation,
                timeout: limit,
                ..
            }
            | WorkerError::CpuLimit {
                command,
                generation,
                limit,
                ..
            }
            | WorkerError::CancelForced {
                command,
                generation,
                grace: limit,
                ..
            } => {
                failure.command = Some(command.clone());
                failure.generation = Some(*generation);
                failure.limit_ms = Some(millis(*limit));
            }
            WorkerError::MemoryLimit {
                command,
                generation,
                limit,
                rss,
                enforcer,
                ..
            } => {
                failure.command = Some(command.clone());
                failure.generation = Some(*generation);
                failure.memory = Some(MemoryInfo {
                    limit: *limit,
                    rss: rss.bytes(),
                    enforcer: enforcer.to_string(),
                });
            }
            WorkerError::RestartLimit { retry_after, .. }
            | WorkerError::CrashLoop { retry_after, .. } => {
                failure.retry_after_ms = Some(millis(*retry_after));
            }
            WorkerError::Cancelled {
                command,
                generation,
                ..
            } => {
                failure.command = Some(command.clone());
                failure.generation = Some(*generation);
            }
            _ => {}
        }
        failure
    }
}

impl From<&PoolError> for Failure {
    fn from(error: &PoolError) -> Self {
        match error {
            PoolError::Worker(error) => Failure::from(error),
            // What the child did while opening, under the pool's word.
            PoolError::SessionOpen(inner) => {
                let mut failure = Failure::from(inner);
                failure.kind = error.kind().to_owned();
                failure.message = error.to_string();
                failure
            }
            PoolError::BackingOff { retry_after, .. } => {
                let mut failure = Failure::new(error.kind(), error.to_string());
                failure.retry_after_ms = Some(millis(*retry_after));
                failure
            }
            _ => Failure::new(error.kind(), error.to_string()),
        }
    }
}

impl From<&CallError> for Failure {
    fn from(error: &CallError) -> Self {
        match error {
            CallError::Acquire(error) => Failure::from(error),
            CallError::Request(error) => Failure::from(error),
            _ => Failure::new(error.kind(), error.to_string()),
        }
    }
}

/// An item of a durable batch: a message of the work-queue stream.
#[derive(Debug, Serialize, Deserialize)]
pub struct DurableItem {
    /// The batch.
    pub batch: String,
    /// The item's id, unique within the batch.
    pub item: String,
    /// The command's name (a unary command).
    pub command: String,
    /// Its arguments.
    pub args: Box<RawValue>,
    /// The session key.
    pub key: WireKey,
    /// The request's timeout on the node, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// What became of a durable item: the value recorded, once, under
/// `{batch}.{item}` in the results bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The item's id.
    pub item: String,
    /// The node that recorded it.
    pub node: String,
    /// Deliveries of the item up to this one.
    pub deliveries: u64,
    /// The outcome.
    pub outcome: ItemOutcome,
}

/// The outcome of a durable item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemOutcome {
    /// The command succeeded with this response.
    Ok(Box<RawValue>),
    /// The command failed without ending its child (a handler error, a
    /// refused argument): retrying would fail the same way.
    Failed(Failure),
    /// Every delivery ended its child, or its node; the last classification
    /// and each attempt's are kept.
    Poison {
        /// The last failure.
        last: Failure,
        /// The failure of each delivery, in order, where one was recorded
        /// (a delivery whose node died records none).
        attempts: Vec<Failure>,
    },
}
