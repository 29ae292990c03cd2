//! The remote client: the local pool's bulk API, served by node agents.

mod nodes;
mod plan;
mod replies;
mod request;

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use async_nats::Client;
use bulkhead::command::{StreamCommand, UnaryCommand};
use bulkhead::pool::SessionKey;
use bulkhead::worker::StreamSummary;
use bulkhead::{Row, Sink};
use futures_util::StreamExt;

use crate::error::RemoteError;
use crate::subjects::Subjects;
use crate::wire::{NodeStatus, WireKey};

use nodes::Nodes;
pub use plan::{RemoteBatchOutcome, RemotePlanReport};
use request::{Call, NoRows, TypedRows};

/// How a [`RemotePool`] sends requests and watches nodes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Events (rows, diagnostics, progress) a node may publish ahead of
    /// the sink: the flow-control window. The client grants more as its
    /// sink takes them.
    pub credits: u64,
    /// Heartbeats a node may miss before its requests fail with
    /// [`RemoteError::NodeLost`]: a node is lost after
    /// `missed_heartbeats × its heartbeat interval` of silence.
    pub missed_heartbeats: u32,
    /// How long a request may wait for a node to take it.
    pub accept_timeout: Duration,
    /// Each request's timeout on its node; the node's own when `None`.
    pub request_timeout: Option<Duration>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            credits: 1024,
            missed_heartbeats: 3,
            accept_timeout: Duration::from_secs(5),
            request_timeout: None,
        }
    }
}

impl ClientConfig {
    /// Sets the flow-control window (at least 1).
    pub fn credits(mut self, credits: u64) -> Self {
        self.credits = credits.max(1);
        self
    }

    /// Sets the heartbeats a node may miss (at least 1).
    pub fn missed_heartbeats(mut self, missed: u32) -> Self {
        self.missed_heartbeats = missed.max(1);
        self
    }

    /// Sets how long a request may wait for a node to take it.
    pub fn accept_timeout(mut self, timeout: Duration) -> Self {
        self.accept_timeout = timeout;
        self
    }

    /// Sets each request's timeout on its node.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }
}

/// What a client's requests share.
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) subjects: Subjects,
    pub(crate) config: ClientConfig,
    /// The client's id, the first part of each request's id.
    pub(crate) id: String,
    pub(crate) counter: AtomicU64,
    pub(crate) nodes: Arc<Nodes>,
    pub(crate) replies: replies::Replies,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Requests to a service's node agents over NATS, with the shape of the
/// local [`Pool`](bulkhead::Pool)'s bulk API: typed commands, rows into a
/// [`Sink`], typed errors. Cheap to clone.
///
/// A request for a session key goes to a node warm for that key with a
/// free worker when there is one, else to the node with the most free
/// workers, else to the service's queue group (any node; it queues the
/// request). Heartbeats tell the client which nodes there are; a node that
/// misses [`ClientConfig::missed_heartbeats`] fails its requests with
/// [`RemoteError::NodeLost`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// # #[derive(serde::Serialize, serde::Deserialize, bulkhead::Command)]
/// # #[command(response = String)]
/// # struct Prove { goal: String }
/// use bulkhead_nats::{ClientConfig, NatsOptions, RemotePool, Subjects};
///
/// let client = NatsOptions::new("nats://127.0.0.1:4222").connect("app").await?;
/// let pool: RemotePool<String> =
///     RemotePool::connect(client, Subjects::new("prover")?, ClientConfig::default()).await?;
/// let proof = pool
///     .call("Mathlib.Data.Nat".to_owned(), &Prove { goal: "1 + 1 = 2".into() })
///     .await?;
/// # Ok(())
/// # }
/// ```
pub struct RemotePool<K> {
    shared: Arc<Shared>,
    key: PhantomData<fn(K)>,
}

impl<K> Clone for RemotePool<K> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            key: PhantomData,
        }
    }
}

impl<K: SessionKey> RemotePool<K> {
    /// Starts following the service's heartbeats. Requests may be sent at
    /// once; [`wait_for_nodes`](Self::wait_for_nodes) waits until nodes
    /// are known.
    pub async fn connect(
        client: Client,
        subjects: Subjects,
        config: ClientConfig,
    ) -> Result<Self, RemoteError> {
        let mut heartbeats = client
            .subscribe(subjects.heartbeats())
            .await
            .map_err(|source| RemoteError::Nats {
                what: "subscribe to the heartbeats",
                source: Box::new(source),
            })?;
        let replies =
            replies::Replies::start(&client)
                .await
                .map_err(|source| RemoteError::Nats {
                    what: "subscribe to the reply subjects",
                    source: Box::new(source),
                })?;
        let nodes = Arc::new(Nodes::default());
        let listener = tokio::spawn({
            let nodes = nodes.clone();
            async move {
                while let Some(message) = heartbeats.next().await {
                    match serde_json::from_slice::<NodeStatus>(&message.payload) {
                        Ok(status) => nodes.heard(status),
                        Err(err) => tracing::debug!("a heartbeat that does not parse: {err}"),
                    }
                }
            }
        });
        let mut tail = [0u8; 6];
        let _ = getrandom::fill(&mut tail);
        let id = tail.iter().map(|b| format!("{b:02x}")).collect::<String>();
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                subjects,
                config,
                id,
                counter: AtomicU64::new(0),
                nodes,
                replies,
                listener,
            }),
            key: PhantomData,
        })
    }

    /// The nodes heard from and not lost, with their last heartbeat.
    pub fn nodes(&self) -> Vec<NodeStatus> {
        self.shared.nodes.live(self.shared.config.missed_heartbeats)
    }

    /// Waits until at least `count` nodes are live, for at most `timeout`.
    /// Returns whether they are.
    pub async fn wait_for_nodes(&self, count: usize, timeout: Duration) -> bool {
        self.wait_for(|nodes| nodes.len() >= count, timeout).await
    }

    /// Waits, heartbeat by heartbeat, until `ready` holds for the live
    /// nodes, for at most `timeout`. Returns whether it holds.
    pub async fn wait_for(&self, ready: impl Fn(&[NodeStatus]) -> bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.nodes.changed();
            if ready(&self.nodes()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return ready(&self.nodes());
            }
        }
    }

    fn call_of<'c, C: bulkhead::Command>(
        &self,
        key: &K,
        command: &'c C,
        stream: bool,
    ) -> Result<Call<'c>, RemoteError> {
        let encode = |source| RemoteError::Encode {
            command: C::NAME.to_owned(),
            source,
        };
        Ok(Call {
            command: C::NAME,
            args: serde_json::value::to_raw_value(command).map_err(encode)?,
            key: WireKey::of(key).map_err(encode)?,
            stream,
        })
    }

    /// Runs a unary command on a node, warm for `key` where possible.
    pub async fn call<C: UnaryCommand>(
        &self,
        key: K,
        command: &C,
    ) -> Result<C::Output, RemoteError> {
        let call = self.call_of(&key, command, false)?;
        let done = self.shared.execute(&call, &mut NoRows).await?;
        decode_output::<C, _>(&done.output)
    }

    /// Runs a streaming command on a node, rows into `sink` in order and
    /// each once. A slow sink slows the child on the node: it publishes no
    /// more than [`ClientConfig::credits`] events ahead of the sink.
    pub async fn stream<C, S>(
        &self,
        key: K,
        command: &C,
        sink: S,
    ) -> Result<StreamSummary<C::Output>, RemoteError>
    where
        C: StreamCommand,
        S: Sink<Row<C::Row>>,
    {
        let call = self.call_of(&key, command, true)?;
        let mut rows = TypedRows::<C::Row, S>::new(C::NAME, sink);
        let done = self.shared.execute(&call, &mut rows).await?;
        let value = decode_output::<C, _>(&done.output)?;
        Ok(StreamSummary {
            value,
            rows: done.streams.values().sum(),
            streams: done.streams,
            elapsed: done.elapsed,
        })
    }

    /// Runs many unary commands, at most `concurrency` at once, and
    /// returns their outcomes in input order. A failed item does not stop
    /// the others. For a batch that must finish even if the client dies,
    /// see [`DurableQueue`](crate::DurableQueue).
    pub async fn run<C, I>(
        &self,
        items: I,
        concurrency: usize,
    ) -> Vec<Result<C::Output, RemoteError>>
    where
        C: UnaryCommand,
        I: IntoIterator<Item = (K, C)>,
    {
        futures_util::stream::iter(items)
            .map(|(key, command)| async move { self.call(key, &command).await })
            .buffered(concurrency.max(1))
            .collect()
            .await
    }
}

/// A node's output decoded into the command's type.
fn decode_output<C: bulkhead::Command, T: serde::de::DeserializeOwned>(
    output: &serde_json::value::RawValue,
) -> Result<T, RemoteError> {
    serde_json::from_str(output.get()).map_err(|source| RemoteError::OutputDecode {
        command: C::NAME.to_owned(),
        source,
    })
}
