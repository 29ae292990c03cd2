//! The worker: a state machine over child generations.
//!
//! The states and their transitions are in `state.rs` (and drawn in
//! `docs/lifecycle.md`); starting the next generation, and the guards that
//! may refuse to, in `restart.rs`; how a request's end becomes the
//! caller's result, in `settle.rs`.

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

use super::exchange::{Limits, Sinks, Tally, exchange};
use super::generation::{Generation, Idle};
use super::intensity::Intensity;
use super::process::Ended;
use super::request::{Request, StreamSummary};
use super::restart::Next;
use super::rows::RowHandler;
use super::state::State;
use super::{MemoryEnforcer, ShutdownReport, ShutdownStep, WorkerConfig, WorkerError, WorkerStats};

/// A supervised child process serving one request at a time.
///
/// Methods take `&mut self`: a worker runs requests serially. When a child
/// dies, breaks the protocol or is cycled, the next request starts a new
/// generation; a child killed for a timeout, a cancel that overstayed its
/// grace or the hard RSS limit is replaced while it is reaped, inside the
/// failing call. Output of an old generation can never answer a request of
/// a new one, since each generation has its own channel.
///
/// Dropping a worker inside a tokio runtime runs the shutdown sequence on a
/// spawned task; outside one it kills the child's process group at once.
pub struct Worker {
    pub(super) config: WorkerConfig,
    pub(super) state: State,
    pub(super) stats: WorkerStats,
    pub(super) intensity: Intensity,
    /// This worker's own restart policy instance.
    policy: Arc<dyn RestartPolicy>,
    /// An error to report on the next request instead of running it.
    pub(super) pending: Option<WorkerError>,
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
        let mut worker = Self::unstarted(config, None);
        worker.ready(false).await?;
        Ok(worker)
    }

    /// A worker that starts its first child on its first request (or
    /// [`ready`](Self::ready)), numbering generations from `numbering`
    /// when given, so that numbers are unique across the workers sharing
    /// it.
    pub(crate) fn unstarted(config: WorkerConfig, numbering: Option<Arc<AtomicU64>>) -> Self {
        let intensity = Intensity::new(
            config.restart_limit,
            config.restart_window,
            config.crash_loop_limit,
            config.backoff,
        );
        let policy = config.policy.make();
        Self {
            config,
            state: State::Unstarted,
            stats: WorkerStats::default(),
            intensity,
            policy,
            pending: None,
            next_request: 1,
            numbering,
        }
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
        self.state.generation().map(|generation| &generation.info)
    }

    /// Counters across all generations.
    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }

    /// The number of the current (or last) generation; 0 before the first
    /// start.
    pub fn generation(&self) -> u64 {
        self.stats.generation
    }

    /// The configuration this worker runs with.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// What enforces the current child's kernel memory limit, if one is set
    /// ([`WorkerBuilder::memory_limit`](super::WorkerBuilder::memory_limit))
    /// and a child is running.
    pub fn memory_enforcer(&self) -> Option<MemoryEnforcer> {
        self.state
            .generation()
            .and_then(Generation::memory_enforcer)
    }

    /// When the worker will next try a fresh child, if it is backing off
    /// after a guard tripped.
    pub fn backing_off_until(&self) -> Option<Instant> {
        match &self.state {
            State::BackingOff(halt) => Some(halt.until),
            _ => None,
        }
    }

    /// Replaces the child now: shuts the current one down gracefully and
    /// starts the next generation. Also the way out of a back-off at once:
    /// the crash-loop streak and the back-off are forgotten.
    pub async fn cycle(&mut self) -> Result<(), WorkerError> {
        let next = match &self.state {
            State::Closed => return Err(WorkerError::Closed),
            State::Unstarted => Next::First,
            State::Ready(_) | State::Down(_) | State::BackingOff(_) => {
                Next::Replace(RestartReason::Explicit)
            }
        };
        if let Some(generation) = self.take_generation(RestartReason::Explicit) {
            self.end_gracefully(*generation).await;
        }
        self.intensity.reset();
        self.start_next(next).await
    }

    /// Shuts the worker down: sends the shutdown frame, waits up to the
    /// shutdown timeout, terminates the child's process group, waits up to
    /// the terminate timeout, kills it, and reaps it. Later requests fail
    /// with [`WorkerError::Closed`].
    pub async fn shutdown(&mut self) -> ShutdownReport {
        self.pending = None;
        match self.close() {
            Some(generation) => {
                let number = generation.number;
                let (ended, step) = self.end_gracefully(*generation).await;
                ShutdownReport {
                    step,
                    generation: Some(number),
                    exit: ended.exit,
                }
            }
            None => ShutdownReport {
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
            Some(next) => self.start_next(next).await,
        }
    }

    /// Ends the current generation if it must go. `None` when it is usable,
    /// otherwise what must start next. Refuses while closed or backing off.
    pub(super) async fn retire_if_due(
        &mut self,
        opening: bool,
    ) -> Result<Option<Next>, WorkerError> {
        let generation = match &mut self.state {
            State::Closed => return Err(WorkerError::Closed),
            State::Unstarted => return Ok(Some(Next::First)),
            State::Down(reason) => return Ok(Some(Next::Replace(reason.clone()))),
            State::BackingOff(halt) => {
                let now = Instant::now();
                if now < halt.until {
                    return Err(halt.error(&self.config, now));
                }
                let reason = halt.reason();
                self.go_down(reason.clone());
                return Ok(Some(Next::AfterBackoff(reason)));
            }
            State::Ready(generation) => generation,
        };
        let Some((reason, idle)) =
            must_go(generation, self.policy.as_ref(), &mut self.stats, opening)
        else {
            return Ok(None);
        };
        // Until a generation is ready again the worker is down, also if this
        // future is dropped midway.
        let Some(generation) = self.take_generation(reason.clone()) else {
            return Ok(Some(Next::Replace(reason)));
        };
        match idle {
            Idle::Usable => {
                self.end_gracefully(*generation).await;
            }
            Idle::Gone => {
                let untried = generation.requests == 0;
                let number = generation.number;
                let ended = generation.reap().await;
                tracing::warn!(generation = number, exit = ?ended.exit, "child exited while idle");
                if untried {
                    // It never took a request: a start-up failure.
                    let error = self.start_failed(ended_while_idle(number, ended));
                    if self.backing_off_until().is_some() {
                        return Err(error);
                    }
                    tracing::warn!(%error, "a child failed before its first request");
                    return Ok(Some(Next::Replace(RestartReason::StartFailed)));
                }
            }
            Idle::Abandoned | Idle::Stray => {
                let ended = generation.kill().await;
                tracing::warn!(generation = self.stats.generation, reason = reason.name(), stderr = %ended.stderr_tail, "child replaced before the request");
            }
        }
        Ok(Some(Next::Replace(reason)))
    }

    /// Makes a freshly started generation the current one. A child that is
    /// already over its RSS ceiling cannot be helped by cycling: it gets one
    /// error, reported on the next request, and is no longer cycled for it.
    pub(super) fn admit(&mut self, mut generation: Generation) {
        let mut fresh = facts(&generation);
        // Judge the child by the figure the error will quote: its RSS right
        // after the handshake, not a second sample that may have grown.
        fresh.rss = generation.startup_rss;
        self.stats.record_rss(fresh.rss);
        if let Decision::Cycle(reason @ RestartReason::RssCeiling { .. }) =
            self.policy.decide(&fresh)
        {
            tracing::error!(generation = generation.number, %reason, "over budget right after start");
            generation.rss_exempt = true;
            self.pending = Some(WorkerError::OverBudgetAtStart {
                generation: generation.number,
                reason,
                startup_rss: generation.startup_rss,
            });
        }
        self.become_ready(generation);
    }

    /// The child's resident set size now; `Unavailable` without a child.
    pub fn sample_rss(&mut self) -> Rss {
        let Some(generation) = self.state.generation_mut() else {
            return Rss::Unavailable;
        };
        let rss = generation.rss.sample();
        self.stats.record_rss(rss);
        rss
    }

    /// The number of the next generation: from the shared counter when
    /// there is one, else the one after the current.
    pub(super) fn next_number(&self) -> u64 {
        match &self.numbering {
            Some(counter) => counter.fetch_add(1, Ordering::Relaxed) + 1,
            None => self.stats.generation + 1,
        }
    }

    /// Counts a request refused before it was sent, and returns why.
    pub(super) fn refused(&mut self, error: WorkerError) -> WorkerError {
        self.stats.requests_failed += 1;
        error
    }

    /// Runs one request on the current, ready generation and settles its
    /// outcome. `role.opening` marks a session open; unless `role.claimed`,
    /// a child the request had to kill is replaced at once (see
    /// [`retire`](Self::retire)).
    pub(super) async fn run<A, T, H>(
        &mut self,
        command: &str,
        args: &A,
        rows: &mut H,
        sinks: &mut Sinks<'_>,
        limits: &Limits,
        role: Role,
    ) -> Result<StreamSummary<T>, WorkerError>
    where
        A: Serialize + ?Sized,
        T: DeserializeOwned,
        H: RowHandler,
    {
        if let Some(pending) = self.pending.take() {
            return Err(self.refused(pending));
        }
        let request = self.next_request;
        self.next_request += 1;
        let Some(generation) = self.state.generation_mut() else {
            return Err(self.refused(WorkerError::Closed));
        };
        let began = crate::metrics::Clock::start();
        let span = tracing::info_span!("request", command, generation = generation.number, request);
        let channel = &mut generation.channel;
        if let Err(source) = channel
            .encoder
            .request(&mut channel.out, request, command, args)
        {
            return Err(self.refused(WorkerError::Encode {
                command: command.to_owned(),
                source,
            }));
        }
        self.stats.bytes_sent += channel.out.len() as u64;
        let mut tally = Tally::default();
        let result = exchange(
            &mut generation.channel,
            &mut generation.rss,
            request,
            rows,
            sinks,
            limits,
            &mut tally,
        )
        .instrument(span)
        .await;
        let delivered = rows.delivered();
        generation.bytes_received += tally.bytes;
        generation.rows += delivered;
        // Whatever happens now, this child got as far as taking a request.
        self.intensity.took_request();
        self.stats.bytes_received += tally.bytes;
        self.stats.backpressure_waits += tally.backpressure_waits;
        if let Some(rss) = tally.last_rss {
            self.stats.record_rss(rss);
        }
        let (outcome, survived) = match result {
            Ok(finished) => {
                let outcome = self.settle(command, finished, delivered, &tally).await;
                (outcome, self.state.generation().is_some())
            }
            Err(broken) => {
                let replace = !role.claimed;
                let error = self.retire(command, broken, delivered, limits, replace);
                (Err(error.await), false)
            }
        };
        self.stats.rows += delivered;
        match self.state.generation_mut() {
            Some(generation) if survived => {
                // The child finished the request and lives.
                self.intensity.served();
                if outcome.is_ok() && role.opening {
                    generation.session_opens += 1;
                }
            }
            _ => {
                // The request ended its child.
                *self
                    .stats
                    .request_deaths
                    .entry(command.to_owned())
                    .or_default() += 1;
            }
        }
        match &outcome {
            Ok(_) => self.stats.requests_ok += 1,
            Err(_) => self.stats.requests_failed += 1,
        }
        let kind = outcome.as_ref().map_or_else(WorkerError::kind, |_| "ok");
        crate::metrics::request(command, kind, began);
        crate::metrics::traffic(delivered, tally.bytes);
        outcome
    }

    /// The current child's resident set size right after its handshake.
    pub(crate) fn startup_rss(&self) -> Rss {
        self.state
            .generation()
            .map_or(Rss::Unavailable, |generation| generation.startup_rss)
    }

    /// The process id of the current child, if one is running.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.state.generation().map(Generation::pid)
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
        let Some(mut generation) = self.close() else {
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

/// The error of a child that exited while idle before its first request.
fn ended_while_idle(generation: u64, ended: Ended) -> WorkerError {
    match ended.exit {
        Some(exit) => WorkerError::ChildExited {
            command: None,
            generation,
            exit,
            rows_delivered: 0,
            stderr_tail: ended.stderr_tail,
        },
        None => WorkerError::ChannelClosed {
            command: None,
            generation,
            rows_delivered: 0,
            stderr_tail: ended.stderr_tail,
        },
    }
}

/// How a request stands to the worker's life.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Role {
    /// The request opens a session.
    pub(crate) opening: bool,
    /// The request runs on a pool lease: it never starts a child, not even
    /// to replace one it had to kill (the pool replaces it).
    pub(crate) claimed: bool,
}

/// Why `generation` must be replaced before the next request, and in what
/// state it is, if it must. For a usable generation `policy` is asked,
/// with a fresh RSS sample (recorded in `stats`) if it reads one.
fn must_go(
    generation: &mut Generation,
    policy: &dyn RestartPolicy,
    stats: &mut WorkerStats,
    opening: bool,
) -> Option<(RestartReason, Idle)> {
    match generation.idle_state() {
        Idle::Usable => {
            let mut facts = facts(generation);
            facts.opening_session = opening;
            // Sampled only for a policy that reads it.
            if policy.reads_rss() {
                facts.rss = generation.rss.sample();
                stats.record_rss(facts.rss);
            }
            match decide(policy, facts, generation.rss_exempt) {
                Decision::Keep => None,
                Decision::Cycle(reason) => Some((reason, Idle::Usable)),
            }
        }
        Idle::Abandoned => Some((RestartReason::ChannelLost, Idle::Abandoned)),
        Idle::Stray => Some((RestartReason::ProtocolViolation, Idle::Stray)),
        Idle::Gone => Some((RestartReason::ChildExited, Idle::Gone)),
    }
}

/// The policy's decision. For a generation exempt from RSS reasons (it was
/// over its ceiling right after start), the RSS figure is hidden from the
/// policy, so its other rules still apply and RSS rules cannot cycle it.
fn decide(policy: &dyn RestartPolicy, facts: GenerationFacts, rss_exempt: bool) -> Decision {
    let about_rss = |reason: &RestartReason| {
        matches!(
            reason,
            RestartReason::RssCeiling { .. } | RestartReason::RssUnavailable
        )
    };
    match policy.decide(&facts) {
        Decision::Cycle(reason) if rss_exempt && about_rss(&reason) => {
            let masked = GenerationFacts {
                rss: Rss::Unavailable,
                ..facts
            };
            match policy.decide(&masked) {
                Decision::Cycle(reason) if about_rss(&reason) => Decision::Keep,
                decision => decision,
            }
        }
        decision => decision,
    }
}

/// The facts a policy decides on, without an RSS sample.
fn facts(generation: &Generation) -> GenerationFacts {
    let mut facts = GenerationFacts::new(generation.number);
    facts.requests = generation.requests;
    facts.rows = generation.rows;
    facts.bytes_received = generation.bytes_received;
    let now = Instant::now();
    facts.age = now.saturating_duration_since(generation.ready_at);
    facts.idle = now.saturating_duration_since(generation.last_used);
    facts.session_opens = generation.session_opens;
    facts.startup_rss = generation.startup_rss;
    facts
}
