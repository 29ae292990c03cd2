//! One remote request: send it, follow its events, grant credit, watch
//! its node.

use std::collections::{BTreeMap, HashSet};
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bulkhead::{Row, Sink};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tokio::time::Instant;

use super::Shared;
use super::replies::Route;
use crate::error::RemoteError;
use crate::wire::{Control, Event, EventBody, Job, WireKey};

/// A request, encoded.
pub(crate) struct Call<'c> {
    pub(crate) command: &'c str,
    pub(crate) args: Box<RawValue>,
    pub(crate) key: WireKey,
    pub(crate) stream: bool,
}

/// A request's success.
pub(crate) struct Done {
    pub(crate) output: Box<RawValue>,
    pub(crate) streams: BTreeMap<String, u64>,
    pub(crate) elapsed: Duration,
}

/// Where a request's rows go.
pub(crate) trait Rows: Send {
    /// Delivers one row, waiting until the sink takes it.
    async fn deliver(
        &mut self,
        stream: &str,
        index: u64,
        value: &RawValue,
    ) -> Result<(), RemoteError>;

    /// Rows delivered per stream.
    fn counts(&self) -> &BTreeMap<String, u64>;
}

/// A unary request's rows: there are none (its node refuses them).
pub(crate) struct NoRows;

impl Rows for NoRows {
    async fn deliver(&mut self, stream: &str, _: u64, _: &RawValue) -> Result<(), RemoteError> {
        Err(RemoteError::BadEvent {
            node: String::new(),
            detail: format!("a row of stream \"{stream}\" came for a unary command"),
        })
    }

    fn counts(&self) -> &BTreeMap<String, u64> {
        const NONE: &BTreeMap<String, u64> = &BTreeMap::new();
        NONE
    }
}

/// Rows decoded into `R`, into the caller's sink.
pub(crate) struct TypedRows<R, S> {
    command: &'static str,
    sink: S,
    counts: BTreeMap<String, u64>,
    /// One `Arc` per stream name, shared by its rows.
    names: BTreeMap<String, Arc<str>>,
    row: PhantomData<fn() -> R>,
}

impl<R, S> TypedRows<R, S> {
    pub(crate) fn new(command: &'static str, sink: S) -> Self {
        Self {
            command,
            sink,
            counts: BTreeMap::new(),
            names: BTreeMap::new(),
            row: PhantomData,
        }
    }
}

impl<R: DeserializeOwned + Send, S: Sink<Row<R>>> Rows for TypedRows<R, S> {
    async fn deliver(
        &mut self,
        stream: &str,
        index: u64,
        value: &RawValue,
    ) -> Result<(), RemoteError> {
        let value = serde_json::from_str(value.get()).map_err(|source| RemoteError::RowDecode {
            command: self.command.to_owned(),
            stream: stream.to_owned(),
            index,
            source,
        })?;
        let sink_error = |source| RemoteError::Sink {
            command: self.command.to_owned(),
            source,
        };
        std::future::poll_fn(|cx| self.sink.poll_ready(cx))
            .await
            .map_err(sink_error)?;
        let name = self
            .names
            .entry(stream.to_owned())
            .or_insert_with(|| Arc::from(stream))
            .clone();
        self.sink
            .send(Row {
                stream: name,
                seq: index,
                value,
            })
            .map_err(|source| RemoteError::Sink {
                command: self.command.to_owned(),
                source,
            })?;
        *self.counts.entry(stream.to_owned()).or_default() += 1;
        Ok(())
    }

    fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }
}

/// The client's side of a request on a node: credit owed, keep-alives,
/// and a cancellation if it is dropped before its end.
struct Flight<'s> {
    shared: &'s Shared,
    id: String,
    /// The node asked or the node that accepted.
    node: Option<String>,
    accepted: bool,
    /// The accepting node's heartbeat interval and incarnation.
    interval: Duration,
    incarnation: String,
    /// The node's heartbeat number known when it accepted.
    base_beat: Option<u64>,
    /// Since when the node's heartbeats no longer list the request.
    unlisted_since: Option<Instant>,
    picked: bool,
    /// The request's session key.
    key: WireKey,
    /// Whether it ended on its node with the child still there (a success
    /// or the command's own error): the node is warm for the key.
    served: bool,
    /// Events taken so far, in all; the keep-alives repeat it.
    taken: Arc<AtomicU64>,
    /// The total last sent.
    reported: u64,
    finished: bool,
    keepalive: Option<tokio::task::JoinHandle<()>>,
}

impl<'s> Flight<'s> {
    fn new(shared: &'s Shared, id: String, node: Option<String>, key: WireKey) -> Self {
        Self {
            shared,
            id,
            picked: node.is_some(),
            node,
            accepted: false,
            interval: Duration::from_secs(1),
            incarnation: String::new(),
            base_beat: None,
            unlisted_since: None,
            key,
            served: false,
            taken: Arc::new(AtomicU64::new(0)),
            reported: 0,
            finished: false,
            keepalive: None,
        }
    }

    fn control(&self, node: &str, cancel: bool) {
        let subject = self.shared.subjects.node_control(node);
        let control = Control {
            id: self.id.clone(),
            taken: self.taken.load(Ordering::Relaxed),
            cancel,
        };
        if let Ok(body) = serde_json::to_vec(&control) {
            let client = self.shared.client.clone();
            tokio::spawn(async move {
                let _ = client.publish(subject, body.into()).await;
            });
        }
    }

    fn accepted(&mut self, node: String, interval_ms: u64, incarnation: String) {
        self.accepted = true;
        self.base_beat = self.shared.nodes.beat(&node);
        if interval_ms > 0 {
            self.interval = Duration::from_millis(interval_ms);
        }
        self.incarnation = incarnation;
        let (client, subject) = (
            self.shared.client.clone(),
            self.shared.subjects.node_control(&node),
        );
        let (id, taken, interval) = (self.id.clone(), self.taken.clone(), self.interval);
        self.keepalive = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                let control = Control {
                    id: id.clone(),
                    taken: taken.load(Ordering::Relaxed),
                    cancel: false,
                };
                if let Ok(body) = serde_json::to_vec(&control) {
                    let _ = client.publish(subject.clone(), body.into()).await;
                }
            }
        }));
        self.node = Some(node);
    }

    /// One more event taken: the node hears of it each quarter of the
    /// window (and at every keep-alive).
    fn took(&mut self) {
        let taken = self.taken.fetch_add(1, Ordering::Relaxed) + 1;
        if taken - self.reported >= (self.shared.config.credits / 4).max(1)
            && let Some(node) = self.node.clone()
        {
            self.control(&node, false);
            self.reported = taken;
        }
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if let Some(keepalive) = self.keepalive.take() {
            keepalive.abort();
        }
        if let Some(node) = self.node.clone() {
            if !self.finished && tokio::runtime::Handle::try_current().is_ok() {
                self.control(&node, true);
            }
            if self.picked || self.accepted {
                self.shared.nodes.done(&node, &self.key, self.served);
            }
        }
    }
}

/// How a round with one node ended.
enum Round {
    Done(Done),
    /// The node refused before running anything: try another.
    Refused {
        node: String,
        reason: String,
    },
}

impl Shared {
    /// Sends the request to a node and follows it to its end. A node that
    /// refuses (it is draining) is left out and another is asked, until
    /// the accept timeout.
    pub(crate) async fn execute(
        &self,
        call: &Call<'_>,
        rows: &mut impl Rows,
    ) -> Result<Done, RemoteError> {
        let started = Instant::now();
        let mut exclude = HashSet::new();
        let mut refusal = None;
        loop {
            let waited = started.elapsed();
            if waited > self.config.accept_timeout {
                return Err(RemoteError::NoNode {
                    service: self.subjects.service().to_owned(),
                    waited,
                    refusal,
                });
            }
            match self
                .round(call, rows, &exclude, started, refusal.as_deref())
                .await?
            {
                Round::Done(done) => return Ok(done),
                Round::Refused { node, reason } => {
                    refusal = Some(format!("node {node}: {reason}"));
                    exclude.insert(node);
                }
            }
        }
    }

    async fn round(
        &self,
        call: &Call<'_>,
        rows: &mut impl Rows,
        exclude: &HashSet<String>,
        started: Instant,
        refusal: Option<&str>,
    ) -> Result<Round, RemoteError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", self.id);
        let route = self.replies.open(n);
        let node = self
            .nodes
            .pick(&call.key, self.config.missed_heartbeats, exclude);
        let subject = match &node {
            Some(node) => self.subjects.node_requests(node),
            None => self.subjects.requests(),
        };
        let job = Job {
            id: id.clone(),
            reply: route.subject.clone(),
            command: call.command.to_owned(),
            args: call.args.clone(),
            key: call.key.clone(),
            stream: call.stream,
            credits: self.config.credits.max(1),
            timeout_ms: self
                .config
                .request_timeout
                .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
        };
        let body = serde_json::to_vec(&job).map_err(|source| RemoteError::Encode {
            command: call.command.to_owned(),
            source,
        })?;
        let mut flight = Flight::new(self, id, node, call.key.clone());
        self.client
            .publish(subject, body.into())
            .await
            .map_err(|source| RemoteError::Nats {
                what: "publish the request",
                source: Box::new(source),
            })?;
        let sent = Instant::now();
        self.follow(route, &mut flight, call, rows, (started, sent), refusal)
            .await
    }

    async fn follow(
        &self,
        mut route: Route,
        flight: &mut Flight<'_>,
        call: &Call<'_>,
        rows: &mut impl Rows,
        times: (Instant, Instant),
        refusal: Option<&str>,
    ) -> Result<Round, RemoteError> {
        let sent = times.1;
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let mut expected = 0;
        loop {
            // Events first: the checks run only when none is waiting.
            let message = tokio::select! {
                biased;
                message = route.receiver.recv() => message,
                _ = tick.tick() => {
                    if let Some(round) = self.check(flight, rows, times, refusal)? {
                        return Ok(round);
                    }
                    continue;
                }
            };
            let node_name = flight.node.clone().unwrap_or_default();
            let Some(message) = message else {
                return Err(RemoteError::Nats {
                    what: "keep the reply subscription",
                    source: "the subscription ended".into(),
                });
            };
            let events = decode(&message.payload).map_err(|err| RemoteError::BadEvent {
                node: node_name.clone(),
                detail: err.to_string(),
            })?;
            for event in events {
                if let Some(round) = self
                    .on_event(event, &mut expected, flight, call, rows, sent)
                    .await?
                {
                    return Ok(round);
                }
            }
        }
    }

    /// What the client checks while it waits: that a node took the
    /// request in time, that its node is alive, that the node still runs
    /// it. A request that the node it was sent to has not taken, and that
    /// node left, drains or went silent, is sent elsewhere.
    fn check(
        &self,
        flight: &mut Flight<'_>,
        rows: &impl Rows,
        (started, sent): (Instant, Instant),
        refusal: Option<&str>,
    ) -> Result<Option<Round>, RemoteError> {
        if !flight.accepted && started.elapsed() > self.config.accept_timeout {
            return Err(RemoteError::NoNode {
                service: self.subjects.service().to_owned(),
                waited: started.elapsed(),
                refusal: refusal.map(str::to_owned),
            });
        }
        let Some(node) = flight.node.clone() else {
            return Ok(None);
        };
        if !flight.accepted
            && let Some(reason) = self.nodes.unavailable(&node, self.config.missed_heartbeats)
        {
            // It goes elsewhere; the node is told to drop it, should it
            // take it after all.
            return Ok(Some(Round::Refused { node, reason }));
        }
        let missed = self.config.missed_heartbeats;
        if let Some(silent_for) = self.nodes.lost(&node, missed, sent, flight.interval) {
            return Err(RemoteError::NodeLost {
                node,
                silent_for,
                rows_delivered: rows.counts().values().sum(),
            });
        }
        if flight.accepted
            && !flight.incarnation.is_empty()
            && self
                .nodes
                .incarnation(&node)
                .is_some_and(|now| now != flight.incarnation)
        {
            return Err(RemoteError::NodeRestarted {
                node,
                rows_delivered: rows.counts().values().sum(),
            });
        }
        // Two heartbeats after the one known at acceptance, the node's
        // heartbeats list the request for as long as it runs; its outcome
        // is published before it leaves the list. Unlisted for a whole
        // interval with no event waiting: the outcome was lost.
        if flight.accepted
            && let Some((beat, listed)) = self.nodes.listing(&node, &flight.id)
        {
            let base = *flight.base_beat.get_or_insert(beat);
            if listed || beat < base + 2 {
                flight.unlisted_since = None;
            } else {
                let since = *flight.unlisted_since.get_or_insert_with(Instant::now);
                let interval = self.nodes.interval(&node).unwrap_or(Duration::from_secs(1));
                if since.elapsed() > interval {
                    return Err(RemoteError::OutcomeLost { node });
                }
            }
        }
        Ok(None)
    }

    /// Handles one event; the round's end if it ends it.
    async fn on_event(
        &self,
        event: Event,
        expected: &mut u64,
        flight: &mut Flight<'_>,
        call: &Call<'_>,
        rows: &mut impl Rows,
        sent: Instant,
    ) -> Result<Option<Round>, RemoteError> {
        let node = || flight.node.clone().unwrap_or_default();
        if event.seq != *expected {
            return Err(RemoteError::EventsLost {
                node: node(),
                expected: *expected,
                got: event.seq,
            });
        }
        *expected += 1;
        match event.body {
            EventBody::Accepted { .. } if flight.accepted => {
                return Err(RemoteError::BadEvent {
                    node: node(),
                    detail: "it accepted the request twice".to_owned(),
                });
            }
            EventBody::Accepted {
                node,
                interval_ms,
                incarnation,
            } => flight.accepted(node, interval_ms, incarnation),
            EventBody::Rejected { node, reason } => {
                flight.finished = true;
                return Ok(Some(Round::Refused { node, reason }));
            }
            EventBody::Row {
                stream,
                index,
                value,
            } => {
                rows.deliver(&stream, index, &value)
                    .await
                    .map_err(|err| match err {
                        RemoteError::BadEvent { detail, .. } => RemoteError::BadEvent {
                            node: node(),
                            detail,
                        },
                        other => other,
                    })?;
                flight.took();
            }
            EventBody::Diagnostic(diagnostic) => {
                tracing::info!(
                    target: "bulkhead::child",
                    node = %node(),
                    command = call.command,
                    level = diagnostic.level.as_str(),
                    "{}",
                    diagnostic.message
                );
                flight.took();
            }
            EventBody::Progress(_) => flight.took(),
            EventBody::Done {
                output, streams, ..
            } => {
                flight.finished = true;
                flight.served = true;
                for (stream, &reported) in &streams {
                    let received = rows.counts().get(stream).copied().unwrap_or(0);
                    if received != reported {
                        return Err(RemoteError::SummaryMismatch {
                            command: call.command.to_owned(),
                            node: node(),
                            stream: stream.clone(),
                            reported,
                            received,
                        });
                    }
                }
                return Ok(Some(Round::Done(Done {
                    output,
                    streams,
                    elapsed: sent.elapsed(),
                })));
            }
            EventBody::Failed(failure) => {
                flight.finished = true;
                flight.served = failure.kind == "remote";
                return Err(RemoteError::Failed {
                    node: node(),
                    failure,
                });
            }
        }
        Ok(None)
    }
}

/// The events of one message: one event, or several as a JSON array.
fn decode(payload: &[u8]) -> Result<Vec<Event>, serde_json::Error> {
    if payload.first() == Some(&b'[') {
        serde_json::from_slice(payload)
    } else {
        Ok(vec![serde_json::from_slice(payload)?])
    }
}
