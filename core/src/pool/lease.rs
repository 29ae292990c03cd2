//! A lease: one worker, warm for one key, until dropped.

use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::command::{Command, StreamCommand, UnaryCommand};
use crate::rss::Rss;
use crate::sink::Sink;
use crate::wire::ChildInfo;
use crate::worker::{Claim, Request, StreamSummary, Worker, WorkerError, WorkerStats};

use super::SessionKey;
use super::seat::Seat;

/// Exclusive use of one pooled worker, warm for one session key.
///
/// Requests run on the child generation the lease was granted under. When
/// that generation ends (timeout, crash, forced cancellation, a restart
/// policy's cycle, [`cycle`](Lease::cycle)) or a request on the lease is
/// cancelled, the lease is stale: its requests fail with
/// [`WorkerError::StaleLease`] without reaching a child. Acquire a new lease
/// then; the pool replaces the child as needed.
///
/// Dropping the lease returns the worker to the pool. A lease is not
/// `Clone`, so its slot comes back exactly once.
#[derive(Debug)]
#[must_use = "dropping a lease returns its worker at once"]
pub struct Lease<K: SessionKey> {
    seat: Seat<K>,
    key: K,
    claim: Claim,
    /// Cancels the lease's requests that bring no token of their own.
    cancel: Option<CancellationToken>,
}

impl<K: SessionKey> Lease<K> {
    pub(super) fn new(seat: Seat<K>, key: K, claim: Claim) -> Self {
        Self {
            seat,
            key,
            claim,
            cancel: None,
        }
    }

    /// The session key the lease was granted for.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// A request for `command`, to configure before running it (see
    /// [`Request`]).
    pub fn request<'l, C: Command>(&'l mut self, command: &'l C) -> Request<'l, C> {
        let request = Request::new(worker(&mut self.seat), C::NAME, command);
        with_cancel(request.claimed(&mut self.claim), self.cancel.as_ref())
    }

    /// Cancels, through `token`, every request on this lease that is not
    /// given a token of its own ([`Request::cancel`]): a batch cancels its
    /// items' requests this way. Cancellation is cooperative, as for any
    /// request.
    pub fn cancel_with(&mut self, token: CancellationToken) {
        self.cancel = Some(token);
    }

    /// The token given by [`cancel_with`](Self::cancel_with), if any.
    pub fn cancel_token(&self) -> Option<&CancellationToken> {
        self.cancel.as_ref()
    }

    /// Runs a unary command and returns its response.
    pub async fn call<C: UnaryCommand>(&mut self, command: &C) -> Result<C::Output, WorkerError> {
        self.request(command).call().await
    }

    /// Runs a streaming command, delivering rows to `sink`.
    pub async fn stream<C, S>(
        &mut self,
        command: &C,
        sink: S,
    ) -> Result<StreamSummary<C::Output>, WorkerError>
    where
        C: StreamCommand,
        S: Sink<crate::Row<C::Row>>,
    {
        self.request(command).stream(sink).await
    }

    /// A request for a command known only by name, with JSON arguments.
    pub fn raw_request<'l>(
        &'l mut self,
        command: &'l str,
        args: &'l RawValue,
    ) -> Request<'l, RawValue> {
        let request = Request::new(worker(&mut self.seat), command, args);
        with_cancel(request.claimed(&mut self.claim), self.cancel.as_ref())
    }

    /// Whether the lease is known to be stale: its generation ended or a
    /// request on it was cancelled. A lease that is not may still turn out
    /// stale at its next request, when the restart policy decides.
    pub fn is_stale(&self) -> bool {
        self.claim.spent.is_some()
            || self.seat.worker().is_none_or(|worker| {
                worker.info().is_none() || worker.generation() != self.claim.generation
            })
    }

    /// What the child said about itself, if it is running.
    pub fn info(&self) -> Option<&ChildInfo> {
        self.seat.worker().and_then(Worker::info)
    }

    /// The child's resident set size now.
    pub fn sample_rss(&mut self) -> Rss {
        worker(&mut self.seat).sample_rss()
    }

    /// The worker's counters across all its generations.
    pub fn stats(&self) -> Option<&WorkerStats> {
        self.seat.worker().map(Worker::stats)
    }

    /// Ends the lease and replaces its child: the session is gone, the
    /// worker goes back to the pool cold.
    pub async fn cycle(mut self) -> Result<(), WorkerError> {
        if let Some(parked) = self.seat.parked.as_deref_mut() {
            parked.cool();
            parked.worker.cycle().await
        } else {
            Ok(())
        }
    }
}

/// `request`, cancelled by `token` if there is one.
fn with_cancel<'l, A: ?Sized + serde::Serialize + Sync>(
    request: Request<'l, A>,
    token: Option<&CancellationToken>,
) -> Request<'l, A> {
    match token {
        Some(token) => request.cancel(token.clone()),
        None => request,
    }
}

/// The worker of a lease's seat.
#[allow(clippy::expect_used)]
fn worker<K: SessionKey>(seat: &mut Seat<K>) -> &mut Worker {
    // A lease is only made from a seat whose worker is ready, and the
    // worker leaves the seat only when the seat is dropped.
    &mut seat
        .parked
        .as_deref_mut()
        .expect("a leased seat holds its worker")
        .worker
}
