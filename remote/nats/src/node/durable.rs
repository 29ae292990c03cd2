//! Taking items of durable batches from JetStream, one per free worker.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::kv;
use async_nats::jetstream::message::{AckKind, Message};
use futures_util::StreamExt;
use serde_json::value::RawValue;
use tokio::sync::Semaphore;

use super::Shared;
use crate::durable::{DurableError, Store, boxed};
use crate::subjects::Subjects;
use crate::wire::{DurableItem, Failure, ItemOutcome, ItemRecord};

/// How a node agent takes durable items.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DurableConfig {
    /// How long JetStream waits for an item's acknowledgement before it
    /// delivers the item again. A node working on an item tells JetStream
    /// so every third of this, so it bounds how long a dead node's items
    /// wait, not how long an item may run.
    pub ack_wait: Duration,
    /// Deliveries that end their child before the item is recorded as
    /// poison.
    pub max_attempts: u32,
}

impl Default for DurableConfig {
    fn default() -> Self {
        Self {
            ack_wait: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

impl DurableConfig {
    /// Sets the acknowledgement wait.
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait;
        self
    }

    /// Sets the deliveries before poison.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }
}

/// The stream, buckets and consumer a node takes items from.
pub(super) struct Setup {
    store: Store,
    consumer: PullConsumer,
    config: DurableConfig,
}

impl Setup {
    pub(super) async fn new(
        client: &async_nats::Client,
        subjects: &Subjects,
        config: &DurableConfig,
    ) -> Result<Self, DurableError> {
        let store = Store::open(client, subjects).await?;
        let consumer = store
            .stream
            .get_or_create_consumer(
                &subjects.consumer(),
                pull::Config {
                    durable_name: Some(subjects.consumer()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: config.ack_wait,
                    // One delivery more than the attempts: the last records
                    // the item as poison without running it.
                    max_deliver: i64::from(config.max_attempts) + 1,
                    ..Default::default()
                },
            )
            .await
            .map_err(boxed("create the nodes' consumer"))?;
        Ok(Self {
            store,
            consumer,
            config: config.clone(),
        })
    }
}

/// Fetches one item whenever a worker is free, until the node drains.
pub(super) async fn items(shared: Arc<Shared>, setup: Setup) {
    let setup = Arc::new(setup);
    let slots = Arc::new(Semaphore::new(shared.pool.config().max_workers.max(1)));
    let node = shared.config.node.clone();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = shared.stop.cancelled() => return,
        };
        let Ok(slot) = slot else { return };
        let fetched = tokio::select! {
            fetched = fetch(&setup.consumer) => fetched,
            () = shared.stop.cancelled() => return,
        };
        match fetched {
            Ok(Some(message)) if shared.stop.is_cancelled() => {
                let _ = message.ack_with(AckKind::Nak(None)).await;
                return;
            }
            Ok(Some(message)) => {
                let (shared, setup) = (shared.clone(), setup.clone());
                shared.items_running.fetch_add(1, Ordering::SeqCst);
                shared.clone().work.spawn(async move {
                    handle(&shared, &setup, message).await;
                    shared.items_running.fetch_sub(1, Ordering::SeqCst);
                    drop(slot);
                });
            }
            Ok(None) => {}
            Err(err) => {
                // The server may be restarting: try again shortly.
                tracing::warn!(%node, "could not fetch a durable item: {err}");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    () = shared.stop.cancelled() => return,
                }
            }
        }
    }
}

async fn fetch(consumer: &PullConsumer) -> Result<Option<Message>, async_nats::Error> {
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(2))
        .messages()
        .await?;
    match batch.next().await {
        Some(Ok(message)) => Ok(Some(message)),
        Some(Err(err)) => Err(err),
        None => Ok(None),
    }
}

/// Runs one delivery of an item; records its outcome and acknowledges it,
/// or gives it back for another delivery.
async fn handle(shared: &Shared, setup: &Setup, message: Message) {
    let node = &shared.config.node;
    let deliveries = message
        .info()
        .map(|info| u64::try_from(info.delivered).unwrap_or(0))
        .unwrap_or(1);
    // The subject ends with `{batch}.{item}`: the record's key, even when
    // the body is unreadable.
    let mut tokens = message.subject.rsplitn(3, '.');
    let (Some(item), Some(batch)) = (tokens.next(), tokens.next()) else {
        let _ = message.ack_with(AckKind::Term).await;
        return;
    };
    let key = format!("{batch}.{item}");
    if let Ok(Some(_)) = setup.store.results.entry(&key).await {
        // Recorded by an earlier delivery whose acknowledgement was lost.
        let _ = message.double_ack().await;
        return;
    }
    let body = match serde_json::from_slice::<DurableItem>(&message.payload) {
        Ok(body) => body,
        Err(err) => {
            let failure = Failure::new("bad_item", format!("item {key} does not parse: {err}"));
            record(
                setup,
                &message,
                &key,
                item,
                node,
                deliveries,
                ItemOutcome::Failed(failure),
            )
            .await;
            return;
        }
    };
    let max = u64::from(setup.config.max_attempts);
    if deliveries > max {
        let attempts = attempts_of(setup, &key).await;
        let last = attempts.last().cloned().unwrap_or_else(|| {
            Failure::new(
                "node_lost",
                format!("item {key} was delivered {max} times and no delivery recorded an outcome: its nodes were lost"),
            )
        });
        let outcome = ItemOutcome::Poison { last, attempts };
        record(setup, &message, &key, item, node, deliveries, outcome).await;
        return;
    }
    let outcome = with_progress(&message, setup.config.ack_wait, run(shared, &body)).await;
    let outcome = match outcome {
        Ok(value) => ItemOutcome::Ok(value),
        Err(failure) if failure.ended_child() || retryable(&failure) => {
            let mut attempts = attempts_of(setup, &key).await;
            attempts.push(failure.clone());
            if let Ok(bytes) = serde_json::to_vec(&attempts) {
                let _ = setup.store.attempts.put(&key, bytes.into()).await;
            }
            if deliveries >= max && failure.ended_child() {
                ItemOutcome::Poison {
                    last: failure,
                    attempts,
                }
            } else {
                tracing::info!(%node, item = %key, "delivery {deliveries} failed ({}): the item goes back", failure.kind);
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_millis(200))))
                    .await;
                return;
            }
        }
        Err(failure) => ItemOutcome::Failed(failure),
    };
    record(setup, &message, &key, item, node, deliveries, outcome).await;
}

/// Failures of the node rather than of the item: another delivery may go
/// well.
fn retryable(failure: &Failure) -> bool {
    matches!(
        failure.kind.as_str(),
        "shutting_down"
            | "backing_off"
            | "crash_loop"
            | "restart_limit"
            | "queue_timeout"
            | "exhausted"
            | "stale_lease"
    )
}

/// Runs `work`, telling JetStream every third of the ack wait that the
/// item is still being worked on.
async fn with_progress<T>(
    message: &Message,
    ack_wait: Duration,
    work: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(ack_wait / 3);
    tick.tick().await;
    loop {
        tokio::select! {
            outcome = &mut work => return outcome,
            _ = tick.tick() => {
                let _ = message.ack_with(AckKind::Progress).await;
            }
        }
    }
}

async fn run(shared: &Shared, item: &DurableItem) -> Result<Box<RawValue>, Failure> {
    let fail = |error: &bulkhead::pool::CallError| Failure::from(error);
    let mut lease = shared
        .pool
        .acquire(item.key.clone())
        .await
        .map_err(|error| fail(&error.into()))?;
    let mut request = lease.raw_request(&item.command, &item.args);
    if let Some(ms) = item.timeout_ms {
        request = request.timeout(Duration::from_millis(ms));
    }
    request
        .call_raw()
        .await
        .map_err(|error| fail(&error.into()))
}

async fn attempts_of(setup: &Setup, key: &str) -> Vec<Failure> {
    match setup.store.attempts.get(key).await {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Records the outcome once (the first record of a key wins), then
/// acknowledges the delivery. If the record cannot be written, the item
/// is not acknowledged and comes back.
async fn record(
    setup: &Setup,
    message: &Message,
    key: &str,
    item: &str,
    node: &str,
    deliveries: u64,
    outcome: ItemOutcome,
) {
    let record = ItemRecord {
        item: item.to_owned(),
        node: node.to_owned(),
        deliveries,
        outcome,
    };
    let Ok(bytes) = serde_json::to_vec(&record) else {
        return;
    };
    match setup.store.results.create(key, bytes.into()).await {
        Ok(_) => {}
        Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {}
        Err(err) => {
            tracing::warn!(%node, item = %key, "the outcome could not be recorded, the item goes back: {err}");
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_millis(500))))
                .await;
            return;
        }
    }
    if let Err(err) = message.double_ack().await {
        tracing::warn!(%node, item = %key, "the acknowledgement was not confirmed: {err}");
    }
}
