//! The node agent: a local [`Pool`] served over NATS.

mod durable;
mod outbox;
mod serve;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::Client;
use bulkhead::Pool;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::subjects::{NameError, Subjects, check_name};
use crate::wire::{NodeStatus, WireKey};

pub use durable::DurableConfig;
use outbox::Flight;

/// How a node agent serves its pool.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeConfig {
    /// The service's subjects.
    pub subjects: Subjects,
    /// The node's id, unique among the service's nodes.
    pub node: String,
    /// Time between two heartbeats. Clients declare the node lost after
    /// [`ClientConfig::missed_heartbeats`](crate::ClientConfig) of them.
    pub heartbeat: Duration,
    /// A request whose client sent nothing (no credit, no keep-alive) for
    /// this long is cancelled: its client is gone.
    pub client_silence: Duration,
    /// Whether, and how, to take items of durable batches.
    pub durable: Option<DurableConfig>,
}

impl NodeConfig {
    /// Serves `subjects` as node `node`, heartbeats each second, no
    /// durable batches.
    pub fn new(subjects: Subjects, node: &str) -> Result<Self, NameError> {
        check_name("node", node)?;
        Ok(Self {
            subjects,
            node: node.to_owned(),
            heartbeat: Duration::from_secs(1),
            client_silence: Duration::from_secs(10),
            durable: None,
        })
    }

    /// Sets the time between two heartbeats.
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = interval;
        self
    }

    /// Sets how long a client may stay silent before its request is
    /// cancelled.
    pub fn client_silence(mut self, silence: Duration) -> Self {
        self.client_silence = silence;
        self
    }

    /// Takes items of durable batches too.
    pub fn durable(mut self, durable: DurableConfig) -> Self {
        self.durable = Some(durable);
        self
    }
}

/// Twelve random hexadecimal digits.
fn random_name() -> String {
    let mut bytes = [0u8; 6];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A node id for this process: the host name, the pid and a random tail.
pub fn default_node_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| check_name("node", name).is_ok())
        .unwrap_or_else(|| "node".to_owned());
    let host: String = host.chars().take(40).collect();
    format!("{host}-{}-{}", std::process::id(), &random_name()[..6])
}

/// Why a node agent could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A subscription failed.
    #[error("node agent {node} could not subscribe to {subject}: {source}")]
    Subscribe {
        /// The node.
        node: String,
        /// The subject.
        subject: String,
        /// Cause.
        #[source]
        source: async_nats::SubscribeError,
    },
    /// JetStream could not be set up for durable batches.
    #[error(transparent)]
    Durable(#[from] crate::durable::DurableError),
}

/// What a node agent's tasks share.
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) pool: Pool<WireKey>,
    pub(crate) config: NodeConfig,
    /// Requests running, by id.
    pub(crate) flights: Mutex<HashMap<String, Arc<Flight>>>,
    /// Set when the node stops taking work.
    pub(crate) draining: AtomicBool,
    /// Cancelled when the node stops taking work.
    pub(crate) stop: CancellationToken,
    /// Every request and durable item running.
    pub(crate) work: TaskTracker,
    /// Durable items running.
    pub(crate) items_running: AtomicUsize,
    /// Events published, in all.
    pub(crate) events: Arc<AtomicU64>,
    /// Heartbeats sent.
    beats: AtomicU64,
    /// A random name of this run of the agent.
    pub(crate) incarnation: String,
    /// Cancellations of requests not seen yet, and when they came.
    early_cancels: Mutex<HashMap<String, std::time::Instant>>,
}

/// Cancellations of unseen requests kept at most, and for how long.
const EARLY_CANCELS: usize = 4096;
const EARLY_CANCEL_TTL: Duration = Duration::from_secs(60);

impl Shared {
    /// Notes the cancellation of a request this node has not seen.
    fn cancel_early(&self, id: String) {
        if let Ok(mut early) = self.early_cancels.lock() {
            early.retain(|_, at| at.elapsed() < EARLY_CANCEL_TTL);
            if early.len() < EARLY_CANCELS {
                early.insert(id, std::time::Instant::now());
            }
        }
    }

    /// Whether request `id` was cancelled before it came.
    pub(crate) fn cancelled_early(&self, id: &str) -> bool {
        self.early_cancels
            .lock()
            .is_ok_and(|mut early| early.remove(id).is_some())
    }

    fn status(&self, leaving: bool) -> NodeStatus {
        let snapshot = self.pool.snapshot();
        let requests: Vec<String> = self
            .flights
            .lock()
            .map(|flights| flights.keys().cloned().collect())
            .unwrap_or_default();
        let running = requests.len() + self.items_running.load(Ordering::SeqCst);
        NodeStatus {
            node: self.config.node.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            incarnation: self.incarnation.clone(),
            beat: self.beats.fetch_add(1, Ordering::SeqCst),
            interval_ms: u64::try_from(self.config.heartbeat.as_millis()).unwrap_or(u64::MAX),
            capacity: snapshot.max_workers,
            leased: snapshot.leased + snapshot.starting,
            queued: snapshot.queue_depth,
            warm: snapshot.warm_keys,
            rss_bytes: snapshot.rss.iter().filter_map(|rss| rss.bytes()).sum(),
            running,
            requests,
            events: self.events.load(Ordering::SeqCst),
            warm_hits: snapshot.leases.warm_hits,
            sessions_opened: snapshot.leases.sessions_opened,
            draining: self.draining.load(Ordering::SeqCst),
            leaving,
        }
    }

    async fn beat(&self, leaving: bool) {
        let status = self.status(leaving);
        let subject = self.config.subjects.heartbeat(&self.config.node);
        if let Ok(body) = serde_json::to_vec(&status)
            && let Err(err) = self.client.publish(subject, body.into()).await
        {
            tracing::warn!(node = %self.config.node, "heartbeat not sent: {err}");
        }
    }
}

/// A node agent: serves a local [`Pool`] over NATS until drained.
///
/// It takes requests from the service's queue group and from its own
/// subject, runs each on a lease, publishes rows, diagnostics and progress
/// under the client's credit with sequence numbers, then one terminal
/// outcome. It advertises itself with heartbeats: capacity, leases, warm
/// session keys, RSS. With [`NodeConfig::durable`] it also takes items of
/// durable batches from JetStream.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use bulkhead_nats::{NatsOptions, NodeAgent, NodeConfig, Subjects};
///
/// let client = NatsOptions::new("nats://127.0.0.1:4222").connect("node-a").await?;
/// let worker = bulkhead::Worker::builder("path/to/child");
/// let pool = bulkhead::Pool::builder(worker).max_workers(4).build()?;
/// let config = NodeConfig::new(Subjects::new("prover")?, "node-a")?;
/// let node = NodeAgent::start(client, pool, config).await?;
/// tokio::signal::ctrl_c().await?;
/// node.drain().await; // finishes what runs, then shuts the pool down
/// # Ok(())
/// # }
/// ```
pub struct NodeAgent {
    shared: Arc<Shared>,
    /// The loop that takes requests from the queue group: it ends once
    /// drained.
    taker: tokio::task::JoinHandle<()>,
    /// The node's own requests (rejected while it drains), control,
    /// heartbeats and durable items: stopped after the drain.
    others: Vec<tokio::task::JoinHandle<()>>,
}

impl NodeAgent {
    /// Subscribes and starts serving. Returns once the node takes work
    /// and its first heartbeat is out.
    pub async fn start(
        client: Client,
        pool: Pool<WireKey>,
        config: NodeConfig,
    ) -> Result<Self, NodeError> {
        let subjects = &config.subjects;
        let node = config.node.clone();
        let subscribe_error = |subject: String| {
            let node = node.clone();
            move |source| NodeError::Subscribe {
                node,
                subject,
                source,
            }
        };
        let shared_queue = client
            .queue_subscribe(subjects.requests(), subjects.queue_group())
            .await
            .map_err(subscribe_error(subjects.requests()))?;
        let own = client
            .subscribe(subjects.node_requests(&node))
            .await
            .map_err(subscribe_error(subjects.node_requests(&node)))?;
        let control = client
            .subscribe(subjects.node_control(&node))
            .await
            .map_err(subscribe_error(subjects.node_control(&node)))?;
        let durable = match &config.durable {
            Some(durable) => Some(durable::Setup::new(&client, subjects, durable).await?),
            None => None,
        };
        let shared = Arc::new(Shared {
            client,
            pool,
            config,
            flights: Mutex::new(HashMap::new()),
            draining: AtomicBool::new(false),
            stop: CancellationToken::new(),
            work: TaskTracker::new(),
            items_running: AtomicUsize::new(0),
            events: Arc::new(AtomicU64::new(0)),
            beats: AtomicU64::new(0),
            incarnation: random_name(),
            early_cancels: Mutex::new(HashMap::new()),
        });
        // Make sure the subscriptions reached the server before the node
        // says it is there.
        let _ = shared.client.flush().await;
        shared.beat(false).await;
        let taker = tokio::spawn(serve::shared_requests(shared.clone(), shared_queue));
        let mut others = vec![
            tokio::spawn(serve::own_requests(shared.clone(), own)),
            tokio::spawn(control_loop(shared.clone(), control)),
            tokio::spawn(heartbeats(shared.clone())),
        ];
        if let Some(setup) = durable {
            others.push(tokio::spawn(durable::items(shared.clone(), setup)));
        }
        Ok(Self {
            shared,
            taker,
            others,
        })
    }

    /// The node's id.
    pub fn node(&self) -> &str {
        &self.shared.config.node
    }

    /// The pool the node serves.
    pub fn pool(&self) -> &Pool<WireKey> {
        &self.shared.pool
    }

    /// Drains the node: takes no new request or item (requests already
    /// sent to it are rejected, and their clients send them elsewhere),
    /// finishes every request and item that runs, says it leaves, and
    /// shuts the pool down.
    pub async fn drain(self) {
        let shared = self.shared;
        shared.draining.store(true, Ordering::SeqCst);
        shared.stop.cancel();
        shared.beat(false).await;
        // The queue group's loop ends once its subscription is drained;
        // the durable loop stops fetching at once.
        let _ = self.taker.await;
        shared.work.close();
        shared.work.wait().await;
        for task in self.others {
            task.abort();
        }
        shared.beat(true).await;
        let _ = shared.client.flush().await;
        shared.pool.shutdown().await;
    }
}

/// Credits, keep-alives and cancellations from clients.
async fn control_loop(shared: Arc<Shared>, mut control: async_nats::Subscriber) {
    while let Some(message) = control.next().await {
        let Ok(control) = serde_json::from_slice::<crate::wire::Control>(&message.payload) else {
            tracing::debug!(node = %shared.config.node, "a control message that does not parse was ignored");
            continue;
        };
        let flight = shared
            .flights
            .lock()
            .ok()
            .and_then(|flights| flights.get(&control.id).cloned());
        match flight {
            Some(flight) => flight.control(&control),
            None if control.cancel => shared.cancel_early(control.id),
            None => {}
        }
    }
}

async fn heartbeats(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(shared.config.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        shared.beat(false).await;
    }
}
