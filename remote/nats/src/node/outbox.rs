//! One request's way back to its client: events in order with sequence
//! numbers, under the client's credit.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use async_nats::Client;
use bulkhead::wire::{Diagnostic, Progress};
use bulkhead::{RawRow, Sink, SinkError};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::{CancellationToken, PollSemaphore, WaitForCancellationFutureOwned};

use crate::wire::{Control, Event, EventBody, Failure};

/// What the control loop and the request share: credit, the client's
/// last word, its cancellation.
pub(crate) struct Flight {
    /// Events the node may still publish.
    credit: Arc<Semaphore>,
    /// When the client last sent anything.
    last_contact: Mutex<Instant>,
    /// Cancelled when the client gives the request up or goes silent.
    pub(crate) cancel: CancellationToken,
    /// Why it was cancelled.
    reason: Mutex<Option<String>>,
    /// The client's last total of events taken.
    taken: Mutex<u64>,
}

impl Flight {
    pub(crate) fn new(credits: u64) -> Self {
        Self {
            // A window of none would never move: one at least.
            credit: Arc::new(Semaphore::new(permits(credits).max(1))),
            last_contact: Mutex::new(Instant::now()),
            cancel: CancellationToken::new(),
            reason: Mutex::new(None),
            taken: Mutex::new(0),
        }
    }

    /// Cancels the request, saying why.
    pub(crate) fn cancel_because(&self, reason: String) {
        if let Ok(mut slot) = self.reason.lock() {
            slot.get_or_insert(reason);
        }
        self.cancel.cancel();
    }

    /// Why the request was cancelled, if it was.
    pub(crate) fn reason(&self) -> Option<String> {
        self.reason.lock().ok().and_then(|reason| reason.clone())
    }

    /// Applies a control message from the client.
    pub(crate) fn control(&self, control: &Control) {
        if let Ok(mut last) = self.last_contact.lock() {
            *last = Instant::now();
        }
        if control.cancel {
            self.cancel_because("its client gave it up".to_owned());
        }
        let Ok(mut taken) = self.taken.lock() else {
            return;
        };
        if control.taken > *taken {
            let more = control.taken - *taken;
            *taken = control.taken;
            // Never past the node's own window, whatever a client says.
            let room = MAX_WINDOW.saturating_sub(self.credit.available_permits());
            self.credit.add_permits(permits(more).min(room));
        }
    }

    /// How long the client has been silent.
    pub(crate) fn silent_for(&self) -> std::time::Duration {
        self.last_contact
            .lock()
            .map(|last| last.elapsed())
            .unwrap_or_default()
    }
}

/// Events a node publishes ahead of a client at most, whatever credit the
/// client grants: what bounds a request's memory on the node.
const MAX_WINDOW: usize = 65_536;

fn permits(credits: u64) -> usize {
    usize::try_from(credits)
        .unwrap_or(usize::MAX)
        .min(MAX_WINDOW)
}

/// A message carries events up to about this size.
const BATCH_BYTES: usize = 64 * 1024;

/// Numbers events and hands them, in order, to a task that publishes them.
pub(crate) struct Outbox {
    queue: Mutex<(u64, Option<mpsc::UnboundedSender<Vec<u8>>>)>,
    /// The largest event the server takes in one message.
    limit: usize,
}

impl Outbox {
    /// An outbox to `reply`, and the task that publishes for it: await the
    /// task after the terminal event.
    pub(crate) fn open(
        client: Client,
        reply: String,
        events: Arc<AtomicU64>,
    ) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        // Room for the message's own framing.
        let limit = client
            .server_info()
            .max_payload
            .saturating_sub(1024)
            .max(1024);
        let (sender, mut receiver) = mpsc::unbounded_channel::<Vec<u8>>();
        let publisher = tokio::spawn(async move {
            let mut held: Option<Vec<u8>> = None;
            while let Some(first) = match held.take() {
                Some(event) => Some(event),
                None => receiver.recv().await,
            } {
                // Events queued meanwhile go in the same message, as a JSON
                // array, up to about 64 KiB.
                let mut body = first;
                let mut count = 1;
                while let Ok(next) = receiver.try_recv() {
                    if body.len() + next.len() + 2 > BATCH_BYTES {
                        held = Some(next);
                        break;
                    }
                    if count == 1 {
                        body.insert(0, b'[');
                    }
                    body.push(b',');
                    body.extend_from_slice(&next);
                    count += 1;
                }
                if count > 1 {
                    body.push(b']');
                }
                match client.publish(reply.clone(), body.into()).await {
                    Ok(()) => {
                        events.fetch_add(count, Ordering::Relaxed);
                    }
                    Err(err) => tracing::warn!("events could not be published to {reply}: {err}"),
                }
            }
        });
        let outbox = Arc::new(Self {
            queue: Mutex::new((0, Some(sender))),
            limit,
        });
        (outbox, publisher)
    }

    /// Queues one event. After the terminal one, the outbox closes. An
    /// event too large for the server ends the request instead, with a
    /// `too_large` failure in its place.
    pub(crate) fn push(&self, body: EventBody) -> Result<(), String> {
        let Ok(mut queue) = self.queue.lock() else {
            return Ok(());
        };
        let mut terminal = body.is_terminal();
        let mut event = Event { seq: queue.0, body };
        queue.0 += 1;
        let mut bytes = serde_json::to_vec(&event).unwrap_or_default();
        let mut refused = None;
        if bytes.len() > self.limit {
            let failure = Failure::too_large("an event", bytes.len(), self.limit);
            event.body = EventBody::Failed(Box::new(failure.clone()));
            bytes = serde_json::to_vec(&event).unwrap_or_default();
            terminal = true;
            refused = Some(failure.message);
        }
        if let Some(sender) = &queue.1 {
            let _ = sender.send(bytes);
        }
        if terminal {
            queue.1 = None;
        }
        refused.map_or(Ok(()), Err)
    }
}

/// A sink for rows, diagnostics or progress that publishes each as an
/// event, one credit each: without credit it is not ready, so the worker
/// stops reading from the child.
pub(crate) struct EventSink {
    outbox: Arc<Outbox>,
    credit: PollSemaphore,
    held: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Ends when the client gives the request up or goes silent.
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl EventSink {
    pub(crate) fn new(outbox: Arc<Outbox>, flight: &Flight) -> Self {
        Self {
            outbox,
            credit: PollSemaphore::new(flight.credit.clone()),
            held: None,
            cancelled: Box::pin(flight.cancel.clone().cancelled_owned()),
        }
    }

    fn ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        if self.held.is_some() {
            return Poll::Ready(Ok(()));
        }
        // Wake on cancellation too: a client that left grants no credit.
        if self.cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(SinkError::Closed));
        }
        match self.credit.poll_acquire(cx) {
            Poll::Ready(Some(permit)) => {
                self.held = Some(permit);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(None) => Poll::Ready(Err(SinkError::Closed)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn publish(&mut self, body: EventBody) -> Result<(), SinkError> {
        match self.held.take() {
            Some(permit) => {
                permit.forget();
                self.outbox.push(body).map_err(SinkError::custom)
            }
            None => Err(SinkError::custom("an event was sent without credit")),
        }
    }
}

impl Sink<RawRow> for EventSink {
    fn send(&mut self, row: RawRow) -> Result<(), SinkError> {
        self.publish(EventBody::Row {
            stream: row.stream.to_string(),
            index: row.seq,
            value: row.value,
        })
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        self.ready(cx)
    }
}

impl Sink<Diagnostic> for EventSink {
    fn send(&mut self, diagnostic: Diagnostic) -> Result<(), SinkError> {
        self.publish(EventBody::Diagnostic(diagnostic))
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        self.ready(cx)
    }
}

impl Sink<Progress> for EventSink {
    fn send(&mut self, progress: Progress) -> Result<(), SinkError> {
        self.publish(EventBody::Progress(progress))
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        self.ready(cx)
    }
}
