//! One request, typed or raw, with its sinks.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::command::{StreamCommand, UnaryCommand};
use crate::row::{RawRow, Row};
use crate::sink::Sink;
use crate::wire::{Diagnostic, Progress};

use super::claim::Claim;
use super::exchange::{Limits, Sinks};
use super::rows::{NoRows, RowHandler, TypedRows};
use super::supervisor::Role;
use super::{StaleCause, Worker, WorkerError};

/// A request being prepared: set its diagnostic and progress sinks, then run
/// it with [`call`](Request::call) or [`stream`](Request::stream).
///
/// Without a diagnostics sink, diagnostics are logged through `tracing` under
/// the target `bulkhead::child`; without a progress sink, progress is dropped.
#[must_use = "a request does nothing until it is called or streamed"]
pub struct Request<'w, A: ?Sized> {
    worker: &'w mut Worker,
    command: &'w str,
    args: &'w A,
    diagnostics: Option<&'w mut (dyn Sink<Diagnostic> + 'w)>,
    progress: Option<&'w mut (dyn Sink<Progress> + 'w)>,
    timeout: Option<Duration>,
    cancel: Option<CancellationToken>,
    opens_session: bool,
    claim: Option<&'w mut Claim>,
}

/// What a streaming request returns on terminal success.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSummary<T> {
    /// The command's typed summary.
    pub value: T,
    /// Rows delivered, over all streams.
    pub rows: u64,
    /// Rows delivered per stream. The child's own counts were checked
    /// against these.
    pub streams: BTreeMap<String, u64>,
    /// Time from sending the request to its terminal frame.
    pub elapsed: Duration,
}

impl<'w, A: Serialize + Sync + ?Sized> Request<'w, A> {
    pub(crate) fn new(worker: &'w mut Worker, command: &'w str, args: &'w A) -> Self {
        Self {
            worker,
            command,
            args,
            diagnostics: None,
            progress: None,
            timeout: None,
            cancel: None,
            opens_session: false,
            claim: None,
        }
    }

    /// Binds this request to a pool lease's generation.
    pub(crate) fn claimed(mut self, claim: &'w mut Claim) -> Self {
        self.claim = Some(claim);
        self
    }

    /// Marks this request as opening a session: the expensive, import-like
    /// work that warms the child. Successful session opens are counted in
    /// [`GenerationFacts::session_opens`](crate::policy::GenerationFacts)
    /// for restart policies such as
    /// [`AfterSessionOpens`](crate::policy::AfterSessionOpens).
    pub fn opens_session(mut self) -> Self {
        self.opens_session = true;
        self
    }

    /// Limits this request, from send to terminal frame, instead of the
    /// worker's request timeout. On expiry the child is killed and replaced
    /// and the request fails with [`WorkerError::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Lets `token` cancel this request. The child sees the cancellation at
    /// its next row or progress report and the request fails with
    /// [`WorkerError::Cancelled`], the child staying warm; a child that does
    /// not end the request within the worker's cancel grace is killed and
    /// replaced ([`WorkerError::CancelForced`]).
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Sends the request's diagnostics to `sink`.
    pub fn diagnostics(mut self, sink: &'w mut (dyn Sink<Diagnostic> + 'w)) -> Self {
        self.diagnostics = Some(sink);
        self
    }

    /// Sends the request's progress reports to `sink`.
    pub fn progress(mut self, sink: &'w mut (dyn Sink<Progress> + 'w)) -> Self {
        self.progress = Some(sink);
        self
    }

    async fn run<T: DeserializeOwned, H: RowHandler>(
        self,
        mut rows: H,
    ) -> Result<StreamSummary<T>, WorkerError> {
        let Request {
            worker,
            command,
            args,
            diagnostics,
            progress,
            timeout,
            cancel,
            opens_session,
            mut claim,
        } = self;
        let config = worker.config();
        let limits = Limits {
            timeout: timeout.unwrap_or(config.request_timeout),
            cancel,
            cancel_grace: config.cancel_grace,
            rss_hard_limit: config.rss_hard_limit,
            rss_sample_interval: config.rss_sample_interval,
        };
        let mut sinks = Sinks {
            diagnostics,
            progress,
        };
        let ready = match claim.as_deref_mut() {
            Some(claim) => worker.ready_claimed(claim, opens_session).await,
            None => worker.ready(opens_session).await,
        };
        let role = Role {
            opening: opens_session,
            claimed: claim.is_some(),
        };
        let outcome = match ready {
            Ok(()) => {
                worker
                    .run(command, args, &mut rows, &mut sinks, &limits, role)
                    .await
            }
            Err(refused) => Err(worker.refused(refused)),
        };
        // A lease's request that was cancelled spends the lease.
        if let (Err(WorkerError::Cancelled { .. }), Some(claim)) = (&outcome, claim) {
            claim.spent = Some(StaleCause::Cancelled);
        }
        outcome
    }
}

impl<C: UnaryCommand> Request<'_, C> {
    /// Runs a unary command and returns its response.
    pub async fn call(self) -> Result<C::Output, WorkerError> {
        Ok(self.run(NoRows).await?.value)
    }
}

impl<C: StreamCommand> Request<'_, C> {
    /// Runs a streaming command, delivering each row to `sink` as it arrives.
    /// The rows are tentative until this returns `Ok`.
    pub async fn stream<S: Sink<Row<C::Row>>>(
        self,
        sink: S,
    ) -> Result<StreamSummary<C::Output>, WorkerError> {
        self.run(TypedRows::<C::Row, S>::new(sink)).await
    }
}

impl Request<'_, RawValue> {
    /// Runs a command by name with JSON arguments and returns its JSON output.
    /// Rows are refused, as for a typed unary command.
    pub async fn call_raw(self) -> Result<Box<RawValue>, WorkerError> {
        Ok(self.run(NoRows).await?.value)
    }

    /// Runs a command by name, delivering rows as JSON text.
    pub async fn stream_raw<S: Sink<RawRow>>(
        self,
        sink: S,
    ) -> Result<StreamSummary<Box<RawValue>>, WorkerError> {
        self.run(TypedRows::<Box<RawValue>, S>::new(sink)).await
    }
}
