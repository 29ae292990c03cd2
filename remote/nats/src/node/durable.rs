//! Taking items of durable batches from JetStream, one per free worker.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::kv;
use async_nats::jetstream::message::{AckKind, Message};
use bulkhead::describe::Span;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::Semaphore;
use tokio::time::Instant;

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
    /// poison; as many deliveries lost with their node make it poison
    /// too.
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
    /// Sets the acknowledgement wait (a second at least).
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait.max(Duration::from_secs(1));
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
    /// The largest message the server takes: a record past it is
    /// replaced by a `too_large` failure.
    max_payload: usize,
    /// No fetching before this: the pool said it is backing off.
    pause_until: Mutex<Option<Instant>>,
}

impl Setup {
    pub(super) async fn new(
        client: &async_nats::Client,
        subjects: &Subjects,
        config: &DurableConfig,
    ) -> Result<Self, DurableError> {
        let store = Store::open(client, subjects).await?;
        let mut consumer: PullConsumer = store
            .stream
            .get_or_create_consumer(
                &subjects.consumer(),
                pull::Config {
                    durable_name: Some(subjects.consumer()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: config.ack_wait,
                    // Deliveries are counted here, not by JetStream: an
                    // item must never be left without a record.
                    max_deliver: -1,
                    ..Default::default()
                },
            )
            .await
            .map_err(boxed("create the nodes' consumer"))?;
        // The consumer may exist already, made by another node: its ack
        // wait is the one JetStream applies.
        let mut config = config.clone();
        let info = consumer
            .info()
            .await
            .map_err(boxed("read the nodes' consumer"))?;
        if info.config.ack_wait != config.ack_wait {
            tracing::warn!(
                "the nodes' consumer waits {} for acknowledgements, not the {} asked: its wait is used",
                Span(info.config.ack_wait),
                Span(config.ack_wait)
            );
            config.ack_wait = info.config.ack_wait.max(Duration::from_secs(1));
        }
        let max_payload = client.server_info().max_payload;
        Ok(Self {
            store,
            consumer,
            config,
            max_payload,
            pause_until: Mutex::new(None),
        })
    }

    /// How long fetching should wait, if the pool backs off.
    fn pause(&self) -> Option<Duration> {
        let until = (*self.pause_until.lock().ok()?)?;
        until.checked_duration_since(Instant::now())
    }

    fn pause_for(&self, pause: Duration) {
        if let Ok(mut until) = self.pause_until.lock() {
            *until = Some(Instant::now() + pause);
        }
    }
}

/// Fetches an item whenever fewer items than workers run, until the node
/// drains. Items and plain requests share the pool's queue.
pub(super) async fn items(shared: Arc<Shared>, setup: Setup) {
    let setup = Arc::new(setup);
    let slots = Arc::new(Semaphore::new(shared.pool.config().max_workers.max(1)));
    let node = shared.config.node.clone();
    loop {
        if let Some(pause) = setup.pause() {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = shared.stop.cancelled() => return,
            }
        }
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

/// What the attempts bucket keeps of an item's earlier deliveries.
#[derive(Debug, Default, Serialize, Deserialize)]
struct History {
    /// The failures of deliveries that ended their child.
    failures: Vec<Failure>,
    /// Deliveries given back because the node could not run the item.
    given_back: u64,
}

/// What a failed delivery means for its item.
enum Verdict {
    /// The item's own failure: another delivery would fail the same way.
    Final,
    /// The delivery ended its child: another may go well, up to the
    /// attempts.
    Attempt,
    /// The node could not run it (its pool backs off, shuts down, cannot
    /// start a child): no fault of the item.
    NodeTrouble,
}

fn verdict(failure: &Failure) -> Verdict {
    match failure.kind.as_str() {
        "remote" | "row_decode" | "output_decode" | "unexpected_row" | "encode"
        | "summary_mismatch" | "bad_item" | "too_large" => Verdict::Final,
        // The child refused the key: final. The child died opening it:
        // an attempt.
        "session_open" if failure.remote.is_some() => Verdict::Final,
        "session_open" => Verdict::Attempt,
        _ if failure.ended_child() => Verdict::Attempt,
        _ => Verdict::NodeTrouble,
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
    let record = |outcome| record(setup, &message, &key, item, node, deliveries, outcome);
    if let Ok(Some(_)) = setup.store.results.entry(&key).await {
        // Recorded by an earlier delivery whose acknowledgement was lost.
        let _ = message.double_ack().await;
        return;
    }
    let body = match serde_json::from_slice::<DurableItem>(&message.payload) {
        Ok(body) => body,
        Err(err) => {
            let failure = Failure::new("bad_item", format!("item {key} does not parse: {err}"));
            record(ItemOutcome::Failed(failure)).await;
            return;
        }
    };
    let max = u64::from(setup.config.max_attempts);
    let mut history = history_of(setup, &key).await;
    let failed = u64::try_from(history.failures.len()).unwrap_or(u64::MAX);
    // Deliveries before this one that left no trace: their node died.
    let vanished = deliveries.saturating_sub(1 + failed + history.given_back);
    if failed >= max || vanished >= max {
        let last = match history.failures.last() {
            Some(last) if failed >= max => last.clone(),
            _ => Failure::new(
                "node_lost",
                format!(
                    "item {key} was delivered {deliveries} times, and {vanished} of its deliveries ended with their node before recording anything"
                ),
            ),
        };
        let attempts = history.failures;
        record(ItemOutcome::Poison { last, attempts }).await;
        return;
    }
    let outcome = with_progress(&message, setup.config.ack_wait, run(shared, &body)).await;
    let failure = match outcome {
        Ok(value) => return record(ItemOutcome::Ok(value)).await,
        Err(failure) => failure,
    };
    let again = match verdict(&failure) {
        Verdict::Final => return record(ItemOutcome::Failed(failure)).await,
        Verdict::Attempt => {
            history.failures.push(failure.clone());
            if history.failures.len() >= setup.config.max_attempts as usize {
                let attempts = history.failures;
                return record(ItemOutcome::Poison {
                    last: failure,
                    attempts,
                })
                .await;
            }
            Duration::from_millis(200)
        }
        Verdict::NodeTrouble => {
            history.given_back += 1;
            let pause = failure
                .retry_after_ms
                .map_or(Duration::from_secs(1), Duration::from_millis);
            setup.pause_for(pause);
            pause
        }
    };
    if let Ok(bytes) = serde_json::to_vec(&history) {
        let _ = setup.store.attempts.put(&key, bytes.into()).await;
    }
    tracing::info!(%node, item = %key, "delivery {deliveries} failed ({}): the item goes back", failure.kind);
    let _ = message.ack_with(AckKind::Nak(Some(again))).await;
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

async fn history_of(setup: &Setup, key: &str) -> History {
    match setup.store.attempts.get(key).await {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_default(),
        _ => History::default(),
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
    let mut record = ItemRecord {
        item: item.to_owned(),
        node: node.to_owned(),
        deliveries,
        outcome,
    };
    let Ok(mut bytes) = serde_json::to_vec(&record) else {
        return;
    };
    // Room for the key-value headers.
    if bytes.len() + 1024 > setup.max_payload {
        let what = format!("the outcome of item {key}");
        let failure = Failure::too_large(&what, bytes.len(), setup.max_payload);
        record.outcome = ItemOutcome::Failed(failure);
        match serde_json::to_vec(&record) {
            Ok(smaller) => bytes = smaller,
            Err(_) => return,
        }
    }
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
