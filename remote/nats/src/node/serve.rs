//! Taking requests and running each on a lease.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::Subscriber;
use bulkhead::Lease;
use bulkhead::worker::WorkerError;
use futures_util::StreamExt;
use serde_json::value::RawValue;

use super::Shared;
use super::outbox::{EventSink, Flight, Outbox};
use crate::wire::{EventBody, Failure, Job, WireKey};

/// Takes requests from the service's queue group until the node drains;
/// then leaves the group and rejects what is still buffered, so that
/// clients send it elsewhere.
pub(super) async fn shared_requests(shared: Arc<Shared>, mut subscription: Subscriber) {
    let mut draining = false;
    loop {
        let message = tokio::select! {
            message = subscription.next() => message,
            () = shared.stop.cancelled(), if !draining => {
                draining = true;
                let _ = subscription.drain().await;
                continue;
            }
        };
        let Some(message) = message else { break };
        take(&shared, &message.payload);
    }
}

/// Takes requests sent to this node. Once it drains, it rejects them
/// until the drain is over (clients send them elsewhere), so that none
/// sent on an older heartbeat is lost.
pub(super) async fn own_requests(shared: Arc<Shared>, mut subscription: Subscriber) {
    while let Some(message) = subscription.next().await {
        take(&shared, &message.payload);
    }
}

/// The parts of a request needed to answer it, even when the rest is bad.
#[derive(serde::Deserialize)]
struct Envelope {
    id: String,
    reply: String,
}

fn take(shared: &Arc<Shared>, payload: &[u8]) {
    let node = shared.config.node.clone();
    let job = match serde_json::from_slice::<Job>(payload) {
        Ok(job) => job,
        Err(err) => {
            match serde_json::from_slice::<Envelope>(payload) {
                Ok(envelope) => {
                    let failure = Failure::new(
                        "bad_request",
                        format!("node {node} could not read the request: {err}"),
                    );
                    let (outbox, _) =
                        Outbox::open(shared.client.clone(), envelope.reply, shared.events.clone());
                    let _ = outbox.push(EventBody::Failed(Box::new(failure)));
                    tracing::warn!(%node, id = %envelope.id, "a request that does not parse: {err}");
                }
                Err(_) => {
                    tracing::warn!(%node, "a message that is not a request was ignored: {err}")
                }
            }
            return;
        }
    };
    if shared.draining.load(Ordering::SeqCst) {
        let (outbox, _) = Outbox::open(shared.client.clone(), job.reply, shared.events.clone());
        let _ = outbox.push(EventBody::Rejected {
            node,
            reason: "the node is draining".to_owned(),
        });
        return;
    }
    // Registered before anything is awaited, so that control messages
    // find it; a cancellation that came first applies at once.
    let flight = Arc::new(Flight::new(job.credits));
    if let Ok(mut flights) = shared.flights.lock() {
        flights.insert(job.id.clone(), flight.clone());
    }
    if shared.cancelled_early(&job.id) {
        flight.cancel_because("its client gave it up".to_owned());
    }
    shared.work.spawn(serve(shared.clone(), job, flight));
}

/// Runs one request and publishes its events.
async fn serve(shared: Arc<Shared>, job: Job, flight: Arc<Flight>) {
    let node = shared.config.node.clone();
    let (outbox, publisher) = Outbox::open(
        shared.client.clone(),
        job.reply.clone(),
        shared.events.clone(),
    );
    let _ = outbox.push(EventBody::Accepted {
        node: node.clone(),
        interval_ms: u64::try_from(shared.config.heartbeat.as_millis()).unwrap_or(u64::MAX),
        incarnation: shared.incarnation.clone(),
    });
    let watch = tokio::spawn(watch_client(
        flight.clone(),
        shared.config.client_silence,
        shared.config.heartbeat,
    ));
    let terminal = match run(&shared, &job, &outbox, &flight).await {
        Ok((output, streams, elapsed)) => EventBody::Done {
            output,
            streams,
            elapsed_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        },
        Err(failure) => {
            let failure = match cancelled(&job, &flight) {
                Some(mut cancelled) => {
                    cancelled.rows_delivered = failure.rows_delivered;
                    cancelled
                }
                None => failure,
            };
            EventBody::Failed(Box::new(failure))
        }
    };
    watch.abort();
    let _ = outbox.push(terminal);
    drop(outbox);
    let _ = publisher.await;
    // Only now: a heartbeat that no longer lists the request is published
    // after its terminal event.
    if let Ok(mut flights) = shared.flights.lock() {
        flights.remove(&job.id);
    }
}

/// The failure of a request its client gave up or left, whatever the
/// worker made of the cancellation (a cancelled request, a closed sink).
fn cancelled(job: &Job, flight: &Flight) -> Option<Failure> {
    let reason = flight.reason()?;
    let mut failure = Failure::new(
        "cancelled",
        format!(
            "command \"{}\" was cancelled on its node: {reason}",
            job.command
        ),
    );
    failure.command = Some(job.command.clone());
    Some(failure)
}

/// Cancels the request once its client has been silent too long.
async fn watch_client(flight: Arc<Flight>, silence: Duration, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if flight.silent_for() > silence {
            let reason = format!(
                "its client sent nothing for {}",
                bulkhead::describe::Span(flight.silent_for())
            );
            tracing::info!("a request is cancelled: {reason}");
            flight.cancel_because(reason);
            return;
        }
    }
}

type Output = (Box<RawValue>, BTreeMap<String, u64>, Duration);

/// Runs the request on a lease; once more on a fresh lease if the first
/// went stale before the request reached a child.
async fn run(
    shared: &Shared,
    job: &Job,
    outbox: &Arc<Outbox>,
    flight: &Flight,
) -> Result<Output, Failure> {
    let acquire = shared.pool.acquire(job.key.clone());
    let mut lease = tokio::select! {
        lease = acquire => lease.map_err(|error| Failure::from(&error))?,
        () = flight.cancel.cancelled() => {
            let mut failure = cancelled(job, flight).unwrap_or_else(|| {
                Failure::new("cancelled", format!("command \"{}\" was cancelled", job.command))
            });
            failure.message.push_str(", before it got a worker");
            return Err(failure);
        }
    };
    let outcome = match on_lease(&mut lease, job, outbox, flight).await {
        Err(WorkerError::StaleLease { .. }) => {
            drop(lease);
            let mut lease = shared
                .pool
                .acquire(job.key.clone())
                .await
                .map_err(|error| Failure::from(&error))?;
            on_lease(&mut lease, job, outbox, flight).await
        }
        outcome => outcome,
    };
    outcome.map_err(|error| Failure::from(&error))
}

async fn on_lease(
    lease: &mut Lease<WireKey>,
    job: &Job,
    outbox: &Arc<Outbox>,
    flight: &Flight,
) -> Result<Output, WorkerError> {
    let mut diagnostics = EventSink::new(outbox.clone(), flight);
    let mut progress = EventSink::new(outbox.clone(), flight);
    let mut request = lease
        .raw_request(&job.command, &job.args)
        .cancel(flight.cancel.clone())
        .diagnostics(&mut diagnostics)
        .progress(&mut progress);
    if let Some(ms) = job.timeout_ms {
        request = request.timeout(Duration::from_millis(ms));
    }
    let started = Instant::now();
    if job.stream {
        let rows = EventSink::new(outbox.clone(), flight);
        let summary = request.stream_raw(rows).await?;
        Ok((summary.value, summary.streams, summary.elapsed))
    } else {
        let value = request.call_raw().await?;
        Ok((value, BTreeMap::new(), started.elapsed()))
    }
}
