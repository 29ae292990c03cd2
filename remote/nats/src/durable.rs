//! Durable batches on JetStream: items in a work-queue stream, outcomes
//! recorded once in a key-value bucket.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use bulkhead::command::UnaryCommand;
use futures_util::StreamExt;
use serde::Serialize;

use crate::subjects::{NameError, Subjects, check_name};
use crate::wire::{DurableItem, ItemOutcome, ItemRecord, WireKey};

/// Why a durable batch could not be set up, submitted or waited for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DurableError {
    /// A batch or item id is not a usable name.
    #[error(transparent)]
    Name(#[from] NameError),
    /// An item's arguments or key could not be encoded.
    #[error("item {item} could not be encoded: {source}")]
    Encode {
        /// The item.
        item: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// The same item id came twice in one submission.
    #[error("item {item} appears twice in batch {batch}")]
    DuplicateItem {
        /// The batch.
        batch: String,
        /// The item.
        item: String,
    },
    /// JetStream refused or failed an operation.
    #[error("JetStream could not {what}: {source}")]
    JetStream {
        /// What was being done.
        what: String,
        /// Cause.
        #[source]
        source: async_nats::Error,
    },
    /// Not every item had an outcome before the deadline.
    #[error("{} of the batch's items have no outcome after {}: {}", missing.len(), bulkhead::describe::Span(*waited), preview(missing))]
    Incomplete {
        /// The items without an outcome.
        missing: Vec<String>,
        /// How long it waited.
        waited: Duration,
        /// The outcomes recorded so far.
        report: Box<DurableReport>,
    },
    /// A recorded outcome does not parse.
    #[error("the outcome recorded under {key} does not parse: {source}")]
    BadRecord {
        /// The key.
        key: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
}

fn preview(items: &[String]) -> String {
    let mut text = items.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 5 {
        text.push_str(", …");
    }
    text
}

pub(crate) fn boxed<E: std::error::Error + Send + Sync + 'static>(
    what: &str,
) -> impl FnOnce(E) -> DurableError + '_ {
    move |source| DurableError::JetStream {
        what: what.to_owned(),
        source: Box::new(source),
    }
}

/// Items published before their confirmations are awaited.
const ACK_WINDOW: usize = 256;

/// The stream and buckets of a service, created when missing.
pub(crate) struct Store {
    pub(crate) js: jetstream::Context,
    pub(crate) stream: stream::Stream,
    pub(crate) results: kv::Store,
    pub(crate) attempts: kv::Store,
}

impl Store {
    pub(crate) async fn open(
        client: &async_nats::Client,
        subjects: &Subjects,
    ) -> Result<Self, DurableError> {
        let js = jetstream::new(client.clone());
        let stream = js
            .get_or_create_stream(stream::Config {
                name: subjects.stream(),
                subjects: vec![subjects.items()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(600),
                ..Default::default()
            })
            .await
            .map_err(boxed("create the item stream"))?;
        let results = bucket(&js, subjects.results_bucket(), 8).await?;
        let attempts = bucket(&js, subjects.attempts_bucket(), 1).await?;
        Ok(Self {
            js,
            stream,
            results,
            attempts,
        })
    }
}

/// Opens a key-value bucket, creating its stream first if missing. The
/// stream is made by hand, with the settings a key-value bucket has:
/// `async-nats`'s own creation reads account fields that servers before
/// 2.10 (Debian's is 2.9) do not send.
async fn bucket(
    js: &jetstream::Context,
    name: String,
    history: i64,
) -> Result<kv::Store, DurableError> {
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: history,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    })
    .await
    .map_err(|source| DurableError::JetStream {
        what: format!("create the key-value bucket {name}"),
        source: Box::new(source),
    })?;
    js.get_key_value(&name)
        .await
        .map_err(|source| DurableError::JetStream {
            what: format!("open the key-value bucket {name}"),
            source: Box::new(source),
        })
}

/// The client's side of durable batches: submit items, wait for their
/// outcomes.
///
/// Items are messages of a JetStream work-queue stream, deduplicated by
/// `{batch}.{item}`; node agents started with
/// [`NodeConfig::durable`](crate::NodeConfig::durable) take them one per
/// free worker, acknowledge each only after its outcome is recorded, and a
/// killed node's items are delivered again to another. Each outcome is
/// recorded once, under `{batch}.{item}`, whatever the deliveries.
pub struct DurableQueue {
    subjects: Subjects,
    store: Store,
}

impl DurableQueue {
    /// Opens the service's stream and buckets, creating them if missing.
    pub async fn open(
        client: &async_nats::Client,
        subjects: Subjects,
    ) -> Result<Self, DurableError> {
        let store = Store::open(client, &subjects).await?;
        Ok(Self { subjects, store })
    }

    /// Submits a batch of unary commands, each with its item id (unique in
    /// the batch; letters, digits, `-` and `_`) and session key. Returns
    /// once JetStream stored every item. Submitting an item again within
    /// ten minutes is deduplicated; later, a recorded outcome is kept and
    /// the item is not run again.
    pub async fn submit<K, C, I>(&self, batch: &str, items: I) -> Result<usize, DurableError>
    where
        K: Serialize,
        C: UnaryCommand,
        I: IntoIterator<Item = (String, K, C)>,
    {
        self.submit_with_timeout::<K, C, I>(batch, items, None)
            .await
    }

    /// As [`submit`](Self::submit), each item with a timeout on its node.
    pub async fn submit_with_timeout<K, C, I>(
        &self,
        batch: &str,
        items: I,
        timeout: Option<Duration>,
    ) -> Result<usize, DurableError>
    where
        K: Serialize,
        C: UnaryCommand,
        I: IntoIterator<Item = (String, K, C)>,
    {
        check_name("batch", batch)?;
        let mut seen = BTreeSet::new();
        let mut acks = Vec::new();
        let mut count = 0;
        for (item, key, command) in items {
            check_name("item", &item)?;
            if !seen.insert(item.clone()) {
                return Err(DurableError::DuplicateItem {
                    batch: batch.to_owned(),
                    item,
                });
            }
            let encode = |source| DurableError::Encode {
                item: item.clone(),
                source,
            };
            let body = DurableItem {
                batch: batch.to_owned(),
                item: item.clone(),
                command: C::NAME.to_owned(),
                args: serde_json::value::to_raw_value(&command).map_err(encode)?,
                key: WireKey::of(&key).map_err(encode)?,
                timeout_ms: timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            };
            let body = serde_json::to_vec(&body).map_err(encode)?;
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("{batch}.{item}").as_str());
            let ack = self
                .store
                .js
                .publish_with_headers(self.subjects.item(batch, &item), headers, body.into())
                .await
                .map_err(boxed("publish an item"))?;
            acks.push(ack);
            count += 1;
            // JetStream allows so many unconfirmed publishes per context:
            // confirm them in windows.
            if acks.len() >= ACK_WINDOW {
                for ack in acks.drain(..) {
                    ack.await.map_err(boxed("store an item"))?;
                }
            }
        }
        for ack in acks {
            ack.await.map_err(boxed("store an item"))?;
        }
        Ok(count)
    }

    /// Waits until every item in `items` of `batch` has its outcome, or
    /// `deadline` passes ([`DurableError::Incomplete`], with what was
    /// recorded).
    pub async fn wait(
        &self,
        batch: &str,
        items: impl IntoIterator<Item = String>,
        deadline: Duration,
    ) -> Result<DurableReport, DurableError> {
        check_name("batch", batch)?;
        let started = std::time::Instant::now();
        let mut missing: BTreeSet<String> = items.into_iter().collect();
        let mut report = DurableReport::default();
        let until = tokio::time::Instant::now() + deadline;
        // The watch is opened again if it breaks (a server restart): it
        // replays every outcome recorded, and the report keeps one each.
        'watch: while !missing.is_empty() && tokio::time::Instant::now() < until {
            let watch = tokio::time::timeout_at(
                until,
                self.store.results.watch_with_history(format!("{batch}.>")),
            )
            .await;
            let mut watch = match watch {
                Ok(Ok(watch)) => watch,
                Ok(Err(err)) => {
                    tracing::debug!("the results watch could not start, trying again: {err}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Err(_) => break,
            };
            while !missing.is_empty() {
                let entry = match tokio::time::timeout_at(until, watch.next()).await {
                    Ok(Some(Ok(entry))) => entry,
                    Ok(Some(Err(err))) => {
                        tracing::debug!("the results watch broke, opening it again: {err}");
                        continue 'watch;
                    }
                    Ok(None) => continue 'watch,
                    Err(_) => break 'watch,
                };
                if entry.operation != kv::Operation::Put {
                    continue;
                }
                let record: ItemRecord =
                    serde_json::from_slice(&entry.value).map_err(|source| {
                        DurableError::BadRecord {
                            key: entry.key.clone(),
                            source,
                        }
                    })?;
                missing.remove(&record.item);
                report.records.insert(record.item.clone(), record);
            }
        }
        if missing.is_empty() {
            Ok(report)
        } else {
            Err(DurableError::Incomplete {
                missing: missing.into_iter().collect(),
                waited: started.elapsed(),
                report: Box::new(report),
            })
        }
    }

    /// How many times the outcome of `item` of `batch` was written: 1 once
    /// recorded (outcomes are written once), 0 before.
    pub async fn writes(&self, batch: &str, item: &str) -> Result<usize, DurableError> {
        let mut history = self
            .store
            .results
            .history(format!("{batch}.{item}"))
            .await
            .map_err(boxed("read an outcome's history"))?;
        let mut writes = 0;
        while let Some(entry) = history.next().await {
            entry.map_err(boxed("read an outcome's history"))?;
            writes += 1;
        }
        Ok(writes)
    }

    /// Items stored and not yet acknowledged by a node.
    pub async fn pending(&self) -> Result<u64, DurableError> {
        let mut stream = self.store.stream.clone();
        let info = stream
            .info()
            .await
            .map_err(boxed("read the stream's state"))?;
        Ok(info.state.messages)
    }
}

/// The outcomes of a durable batch, by item id.
#[derive(Debug, Default, Clone)]
pub struct DurableReport {
    /// Each item's record.
    pub records: BTreeMap<String, ItemRecord>,
}

impl DurableReport {
    /// The decoded response of `item`, if it succeeded.
    pub fn output<C: UnaryCommand>(
        &self,
        item: &str,
    ) -> Option<Result<C::Output, serde_json::Error>> {
        match &self.records.get(item)?.outcome {
            ItemOutcome::Ok(value) => Some(serde_json::from_str(value.get())),
            _ => None,
        }
    }

    /// Items that succeeded, failed, and were recorded as poison.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for record in self.records.values() {
            match record.outcome {
                ItemOutcome::Ok(_) => counts.0 += 1,
                ItemOutcome::Failed(_) => counts.1 += 1,
                ItemOutcome::Poison { .. } => counts.2 += 1,
            }
        }
        counts
    }
}
