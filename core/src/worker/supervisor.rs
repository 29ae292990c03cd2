//! The worker: a state machine over child generations.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::command::Command;
use crate::policy::{Decision, GenerationFacts, RestartPolicy, RestartReason};
use crate::rss::Rss;
use crate::wire::ChildInfo;

use super::exchange::{Broken, Extras, exchange};
use super::generation::{Generation, Idle};
use super::intensity::Intensity;
use super::process::Ended;
use super::request::{Request, StreamSummary};
use super::rows::RowHandler;
use super::{ShutdownReport, ShutdownStep, StaleCause, WorkerConfig, WorkerError, WorkerStats};

/// Where a worker stands between requests.
pub(super) enum State {
    /// A child is running and its channel is consistent.
    Ready(Box<Generation>),
    /// The last child ended; the next request starts a new generation.
    Down(RestartReason),
    /// Children kept failing right after start; requests are refused until
    /// an explicit cycle.
    CrashLoop { attempts: u32, cause: String },
    /// Shut down; every request is refused.
    Closed,
}

/// A supervised child process serving one request at a time.
///
/// Methods take `&mut self`: a worker runs requests serially. When a child
/// dies, breaks the protocol, times out, is cancelled without stopping, or is
/// cycled, the next request starts a new generation; output of an old
/// generation can never answer a request of a new one, since each generation
/// has its own channel.
///
/// Dropping a worker inside a tokio runtime runs the shutdown sequence on a
/// spawned task; outside one it kills the child's process group at once.
pub struct Worker {
    pub(super) config: WorkerConfig,
    pub(super) state: State,
    pub(super) stats: WorkerStats,
    pub(super) intensity: Intensity,
    /// An error to report on the next request instead of running it.
    pending: Option<WorkerError>,
    next_request: u64,
    /// Where generation numbers come from when they are shared with other
    /// workers (in a pool); otherwise they count from 1 per worker.
    numbering: Option<Arc<AtomicU64>>,
}

impl Worker {
    /// A builder for a worker running `program`.
    pub fn builder(program: impl Into<std::path::PathBuf>) -> super::WorkerBuilder {
        super::WorkerBuilder::new(program)
    }

    /// Starts the first generation from a checked configuration.
    pub async fn start(config: WorkerConfig) -> Result<Self, WorkerError> {
        Self::start_numbered(config, None).await
    }

    /// Starts the first generation, numbering generations from `numbering`
    /// when given, so that numbers are unique across the workers sharing it.
    pub(crate) async fn start_numbered(
        config: WorkerConfig,
        numbering: Option<Arc<AtomicU64>>,
    ) -> Result<Self, WorkerError> {
        let number = next_number(numbering.as_deref(), 0);
        let generation = Generation::start(&config, number).await?;
        let stats = WorkerStats {
            generation: number,
            ..WorkerStats::default()
        };
        let intensity = Intensity::new(
            config.restart_limit,
            config.restart_window,
            config.crash_loop_limit,
        );
        let mut worker = Self {
            config,
            state: State::Down(RestartReason::Explicit),
            stats,
            intensity,
            pending: None,
            next_request: 1,
            numbering,
        };
        worker.admit(generation);
        Ok(worker)
    }

    /// A request for `command`, to configure before running it.
    pub fn request<'w, C: Command>(&'w mut self, command: &'w C) -> Request<'w, C> {
        Request::new(self, C::NAME, command)
    }

    /// Runs a unary command and returns its response.
    pub async fn call<C: crate::UnaryCommand>(
        &mut self,
        command: &C,
    ) -> Result<C::Output, WorkerError> {
        self.request(command).call().await
    }

    /// Runs a streaming command, delivering rows to `sink`.
    pub async fn stream<C, S>(
        &mut self,
        command: &C,
        sink: S,
    ) -> Result<StreamSummary<C::Output>, WorkerError>
    where
        C: crate::StreamCommand,
        S: crate::Sink<crate::Row<C::Row>>,
    {
        self.request(command).stream(sink).await
    }

    /// A request for a command known only by name, with JSON arguments.
    pub fn raw_request<'w>(
        &'w mut self,
        command: &'w str,
        args: &'w RawValue,
    ) -> Request<'w, RawValue> {
        Request::new(self, command, args)
    }

    /// What the current child said about itself, if one is running.
    pub fn info(&self) -> Option<&ChildInfo> {
        match &self.state {
            State::Ready(generation) => Some(&generation.info),
            _ => None,
        }
    }

    /// Counters across all generations.
    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }

    /// The number of the current (or last) generation.
    pub fn generation(&self) -> u64 {
        self.stats.generation
    }

    /// The configuration this worker runs with.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Replaces the child now: shuts the current one down gracefully and
    /// starts the next generation. Also the way out of a crash loop.
    pub async fn cycle(&mut self) -> Result<(), WorkerError> {
        match std::mem::replace(&mut self.state, State::Down(RestartReason::Explicit)) {
            State::Ready(generation) => {
                self.intensity.reset_streak();
                self.end_gracefully(*generation).await;
            }
            State::Closed => {
                self.state = State::Closed;
                return Err(WorkerError::Closed);
            }
            State::Down(_) | State::CrashLoop { .. } => self.intensity.reset_streak(),
        }
        self.ready(false).await
    }

    /// Shuts the worker down: sends the shutdown frame, waits up to the
    /// shutdown timeout, terminates the child's process group, waits up to
    /// the terminate timeout, kills it, and reaps it. Later requests fail
    /// with [`WorkerError::Closed`].
    pub async fn shutdown(&mut self) -> ShutdownReport {
        self.pending = None;
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Ready(generation) => {
                let number = generation.number;
                let (ended, step) = self.end_gracefully(*generation).await;
                ShutdownReport {
                    step,
                    generation: Some(number),
                    exit: ended.exit,
                }
            }
            _ => ShutdownReport {
                step: ShutdownStep::NotRunning,
                generation: None,
                exit: None,
            },
        }
    }

    /// Makes sure a usable generation is running, replacing the current one
    /// first if it must go. `opening` tells the policy whether the next
    /// request opens a session.
    pub(crate) async fn ready(&mut self, opening: bool) -> Result<(), WorkerError> {
        match self.retire_if_due(opening).await? {
            None => Ok(()),
            Some(reason) => self.replace(reason).await,
        }
    }

    /// Ends the current generation if it must go. `None` when it is usable,
    /// otherwise why the worker is down.
    pub(super) async fn retire_if_due(
        &mut self,
        opening: bool,
    ) -> Result<Option<RestartReason>, WorkerError> {
        // Until a generation is ready again the worker is down, also if this
        // future is dropped midway.
        let reason = match std::mem::replace(
            &mut self.state,
            State::Down(RestartReason::ChannelLost),
        ) {
            State::Closed => {
                self.state = State::Closed;
                return Err(WorkerError::Closed);
            }
            State::CrashLoop { attempts, cause } => {
                let error = WorkerError::CrashLoop {
                    attempts,
                    cause: cause.clone(),
                };
                self.state = State::CrashLoop { attempts, cause };
                return Err(error);
            }
            State::Down(reason) => reason,
            State::Ready(mut generation) => match self.must_go(&mut generation, opening) {
                None => {
                    self.state = State::Ready(generation);
                    return Ok(None);
                }
                Some((reason, Idle::Usable)) => {
                    self.end_gracefully(*generation).await;
                    reason
                }
                Some((reason, Idle::Gone)) => {
                    let ended = generation.reap().await;
                    tracing::warn!(generation = self.stats.generation, exit = ?ended.exit, "child exited while idle");
                    reason
                }
                Some((reason, Idle::Abandoned | Idle::Stray)) => {
                    let ended = generation.kill().await;
                    tracing::warn!(generation = self.stats.generation, reason = reason.name(), stderr = %ended.stderr_tail, "child replaced before the request");
                    reason
                }
            },
        };
        self.state = State::Down(reason.clone());
        Ok(Some(reason))
    }

    /// Why the current generation must be replaced before the next request,
    /// and in what state it is, if it must.
    fn must_go(
        &mut self,
        generation: &mut Generation,
        opening: bool,
    ) -> Option<(RestartReason, Idle)> {
        match generation.idle_state() {
            Idle::Usable => {
                let mut facts = facts(generation);
                facts.opening_session = opening;
                self.stats.record_rss(facts.rss);
                match decide(self.config.policy.as_ref(), facts, generation.exempt) {
                    Decision::Keep => None,
                    Decision::Cycle(reason) => Some((reason, Idle::Usable)),
                }
            }
            Idle::Abandoned => Some((RestartReason::ChannelLost, Idle::Abandoned)),
            Idle::Stray => Some((RestartReason::ProtocolViolation, Idle::Stray)),
            Idle::Gone => Some((RestartReason::ChildExited, Idle::Gone)),
        }
    }

    /// Makes a freshly started generation the current one. A child that is
    /// already over its RSS ceiling cannot be helped by cycling: it gets one
    /// error, reported on the next request, and is no longer cycled for it.
    fn admit(&mut self, mut generation: Generation) {
        let mut fresh = facts(&mut generation);
        // Judge the child by the figure the error will quote: its RSS right
        // after the handshake, not a second sample that may have grown.
        fresh.rss = generation.startup_rss;
        self.stats.record_rss(fresh.rss);
        if let Decision::Cycle(reason @ RestartReason::RssCeiling { .. }) =
            self.config.policy.decide(&fresh)
        {
            tracing::error!(generation = generation.number, %reason, "over budget right after start");
            generation.exempt = Some(reason.name());
            self.pending = Some(WorkerError::OverBudgetAtStart {
                generation: generation.number,
                reason,
                startup_rss: generation.startup_rss,
            });
        }
        self.state = State::Ready(Box::new(generation));
    }

    /// The child's resident set size now; `Unavailable` without a child.
    pub fn sample_rss(&mut self) -> Rss {
        match &mut self.state {
            State::Ready(generation) => {
                let rss = generation.rss.sample();
                self.stats.record_rss(rss);
                rss
            }
            _ => Rss::Unavailable,
        }
    }

    /// Starts the next generation, within the restart limit and the crash
    /// loop guard.
    async fn replace(&mut self, reason: RestartReason) -> Result<(), WorkerError> {
        // A report about the child being replaced no longer applies.
        self.pending = None;
        let now = Instant::now();
        if !reason.is_planned() {
            if let Err(retry_after) = self.intensity.admit(now) {
                self.state = State::Down(reason);
                return Err(WorkerError::RestartLimit {
                    limit: self.config.restart_limit,
                    window: self.config.restart_window,
                    retry_after,
                });
            }
            self.intensity.replaced(now);
        }
        self.state = State::Down(reason.clone());
        let number = next_number(self.numbering.as_deref(), self.stats.generation);
        self.stats.generation = number;
        self.stats.restarts += 1;
        *self
            .stats
            .restarts_by_reason
            .entry(reason.name())
            .or_default() += 1;
        match Generation::start(&self.config, number).await {
            Ok(generation) => {
                tracing::info!(
                    generation = number,
                    reason = reason.name(),
                    "child replaced"
                );
                self.admit(generation);
                Ok(())
            }
            Err(error) => Err(self.failed_early(error)),
        }
    }

    /// Counts a child that failed at or right after start; past the limit
    /// the worker enters the crash loop state.
    pub(super) fn failed_early(&mut self, error: WorkerError) -> WorkerError {
        let Some(attempts) = self.intensity.failed_early() else {
            return error;
        };
        let mut cause = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            cause = format!("{cause}: {inner}");
            source = inner.source();
        }
        if let Some(tail) = error.stderr_tail().filter(|tail| !tail.is_empty()) {
            cause = format!("{cause}; stderr: {}", tail.trim_end());
        }
        tracing::error!(attempts, %cause, "crash loop: refusing work until an explicit cycle");
        self.state = State::CrashLoop {
            attempts,
            cause: cause.clone(),
        };
        WorkerError::CrashLoop { attempts, cause }
    }

    /// Runs one request on the current generation and settles its outcome.
    pub(crate) async fn run<A, T, H>(
        &mut self,
        command: &str,
        args: &A,
        rows: &mut H,
        extras: &mut Extras<'_>,
    ) -> Result<StreamSummary<T>, WorkerError>
    where
        A: Serialize + ?Sized,
        T: DeserializeOwned,
        H: RowHandler,
    {
        let request = self.next_request;
        self.next_request += 1;
        let ready = match extras.claim.as_deref_mut() {
            Some(claim) => self.ready_claimed(claim, extras.opens_session).await,
            None => self.ready(extras.opens_session).await,
        };
        if let Err(refused) = ready {
            self.stats.requests_failed += 1;
            return Err(refused);
        }
        if let Some(pending) = self.pending.take() {
            self.stats.requests_failed += 1;
            return Err(pending);
        }
        let State::Ready(generation) = &mut self.state else {
            return Err(WorkerError::Closed);
        };
        let span = tracing::info_span!("request", command, generation = generation.number, request);
        let first_request = generation.requests == 0;
        if let Err(source) = generation
            .encoder
            .request(&mut generation.out, request, command, args)
        {
            self.stats.requests_failed += 1;
            return Err(WorkerError::Encode {
                command: command.to_owned(),
                source,
            });
        }
        self.stats.bytes_sent += generation.out.len() as u64;
        let started = Instant::now();
        let mut bytes = 0;
        let result = exchange(generation, request, rows, extras, &mut bytes)
            .instrument(span)
            .await;
        self.stats.bytes_received += bytes;
        self.stats.backpressure_waits += extras.backpressure_waits;
        if let Some(rss) = extras.last_rss {
            self.stats.record_rss(rss);
        }
        let delivered = rows.delivered();
        let outcome = match result {
            Ok(finished) => self.settle(command, finished, delivered, started).await,
            Err(broken) => {
                // Slow first requests are not a crash loop.
                let early =
                    first_request && !matches!(broken, Broken::Timeout | Broken::GraceExpired);
                let limits = (extras.timeout, extras.cancel_grace);
                let error = self.retire(command, broken, delivered, limits).await;
                if early {
                    Err(self.failed_early(error))
                } else {
                    Err(error)
                }
            }
        };
        self.stats.rows += delivered;
        match &outcome {
            Ok(_) => {
                self.stats.requests_ok += 1;
                self.intensity.served();
                if let (true, State::Ready(generation)) = (extras.opens_session, &mut self.state) {
                    generation.session_opens += 1;
                }
            }
            Err(error) => {
                self.stats.requests_failed += 1;
                if let (WorkerError::Cancelled { .. }, Some(claim)) = (error, &mut extras.claim) {
                    claim.spent = Some(StaleCause::Cancelled);
                }
            }
        }
        outcome
    }

    /// The current child's resident set size right after its handshake.
    pub(crate) fn startup_rss(&self) -> Rss {
        match &self.state {
            State::Ready(generation) => generation.startup_rss,
            _ => Rss::Unavailable,
        }
    }

    /// Whether the worker refuses work until an explicit cycle.
    pub(crate) fn is_crash_looping(&self) -> bool {
        matches!(self.state, State::CrashLoop { .. })
    }

    /// The process id of the current child, if one is running.
    pub(crate) fn pid(&self) -> Option<u32> {
        match &self.state {
            State::Ready(generation) => Some(generation.pid()),
            _ => None,
        }
    }

    /// Ends `generation` by the shutdown sequence.
    /// The future borrows nothing from the worker, so that it is `Send`
    /// although the worker is not `Sync`.
    pub(super) fn end_gracefully(
        &self,
        generation: Generation,
    ) -> impl Future<Output = (Ended, ShutdownStep)> + Send + 'static {
        let (exit_timeout, terminate_timeout) =
            (self.config.shutdown_timeout, self.config.terminate_timeout);
        async move { generation.shutdown(exit_timeout, terminate_timeout).await }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let State::Ready(mut generation) = std::mem::replace(&mut self.state, State::Closed) else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let (exit_timeout, terminate_timeout) =
                    (self.config.shutdown_timeout, self.config.terminate_timeout);
                runtime.spawn(async move {
                    generation.shutdown(exit_timeout, terminate_timeout).await;
                });
            }
            Err(_) => generation.kill_now(),
        }
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("program", &self.config.program)
            .field("generation", &self.stats.generation)
            .finish_non_exhaustive()
    }
}

/// The policy's decision. For a generation exempt from an RSS reason (it
/// was over its ceiling right after start), the RSS figure is hidden from
/// the policy, so its other rules still apply and RSS rules cannot cycle it.
fn decide(
    policy: &dyn RestartPolicy,
    facts: GenerationFacts,
    exempt: Option<&'static str>,
) -> Decision {
    match policy.decide(&facts) {
        Decision::Cycle(reason) if exempt == Some(reason.name()) => {
            let masked = GenerationFacts {
                rss: Rss::Unavailable,
                ..facts
            };
            match policy.decide(&masked) {
                Decision::Cycle(reason)
                    if exempt == Some(reason.name()) || reason.name() == "rss_unavailable" =>
                {
                    Decision::Keep
                }
                decision => decision,
            }
        }
        decision => decision,
    }
}

/// The number of the next generation: from the shared counter when there is
/// one, else the one after `current`.
fn next_number(shared: Option<&AtomicU64>, current: u64) -> u64 {
    match shared {
        Some(counter) => counter.fetch_add(1, Ordering::Relaxed) + 1,
        None => current + 1,
    }
}

/// The facts a policy decides on, with a fresh RSS sample.
fn facts(generation: &mut Generation) -> GenerationFacts {
    let mut facts = GenerationFacts::new(generation.number);
    facts.requests = generation.requests;
    facts.age = generation.ready_at.elapsed();
    facts.idle = generation.last_used.elapsed();
    facts.session_opens = generation.session_opens;
    facts.rss = generation.rss.sample();
    facts.startup_rss = generation.startup_rss;
    facts
}
