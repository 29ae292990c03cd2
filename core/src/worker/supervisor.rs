//! The worker: a state machine over child generations.

use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::command::Command;
use crate::policy::{Decision, GenerationFacts, RestartReason};
use crate::wire::{ChildInfo, Frame, FrameKind, Success};

use super::exchange::{Broken, Extras, Finished, Outcome, exchange};
use super::generation::{Ended, Generation, Idle};
use super::request::{Request, StreamSummary};
use super::rows::{RowHandler, Spoiled};
use super::{ShutdownReport, ShutdownStep, WorkerConfig, WorkerError, WorkerStats};

/// Where a worker stands between requests.
enum State {
    /// A child is running and its channel is consistent.
    Ready(Box<Generation>),
    /// The last child ended; the next request starts a new generation.
    Down(RestartReason),
    /// Shut down; every request is refused.
    Closed,
}

/// A supervised child process serving one request at a time.
///
/// Methods take `&mut self`: a worker runs requests serially. When a child
/// dies, breaks the protocol or is cycled, the next request starts a new
/// generation; output of an old generation can never answer a request of a
/// new one, since each generation has its own channel.
pub struct Worker {
    config: WorkerConfig,
    state: State,
    stats: WorkerStats,
    next_request: u64,
}

impl Worker {
    /// A builder for a worker running `program`.
    pub fn builder(program: impl Into<std::path::PathBuf>) -> super::WorkerBuilder {
        super::WorkerBuilder::new(program)
    }

    /// Starts the first generation from a checked configuration.
    pub async fn start(config: WorkerConfig) -> Result<Self, WorkerError> {
        let generation = Generation::start(&config, 1).await?;
        let stats = WorkerStats {
            generation: 1,
            ..WorkerStats::default()
        };
        Ok(Self {
            config,
            state: State::Ready(Box::new(generation)),
            stats,
            next_request: 1,
        })
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
            State::Down(_) | State::Closed => None,
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
    /// starts the next generation.
    pub async fn cycle(&mut self) -> Result<(), WorkerError> {
        if let State::Ready(generation) =
            std::mem::replace(&mut self.state, State::Down(RestartReason::Explicit))
        {
            generation.shutdown(self.config.shutdown_timeout).await;
        }
        self.ready().await
    }

    /// Shuts the worker down: sends the shutdown frame, waits up to the
    /// shutdown timeout, kills the child if it is still running, and reaps it.
    /// Later requests fail with [`WorkerError::Closed`].
    pub async fn shutdown(&mut self) -> ShutdownReport {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Ready(generation) => {
                let number = generation.number;
                let (ended, killed) = generation.shutdown(self.config.shutdown_timeout).await;
                ShutdownReport {
                    step: if killed {
                        ShutdownStep::Killed
                    } else {
                        ShutdownStep::Exited
                    },
                    generation: Some(number),
                    exit: ended.exit,
                }
            }
            State::Down(_) | State::Closed => ShutdownReport {
                step: ShutdownStep::NotRunning,
                generation: None,
                exit: None,
            },
        }
    }

    /// The running generation, started or replaced first if needed.
    async fn ready(&mut self) -> Result<(), WorkerError> {
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
            State::Down(reason) => Some(reason),
            State::Ready(mut generation) => match generation.idle_state() {
                Idle::Usable => match self.config.policy.decide(&facts(&generation)) {
                    Decision::Keep => {
                        self.state = State::Ready(generation);
                        None
                    }
                    Decision::Cycle(reason) => {
                        generation.shutdown(self.config.shutdown_timeout).await;
                        Some(reason)
                    }
                },
                Idle::Abandoned => {
                    generation.kill().await;
                    Some(RestartReason::ChannelLost)
                }
                Idle::Stray => {
                    let ended = generation.kill().await;
                    tracing::warn!(generation = self.stats.generation, stderr = %ended.stderr_tail, "child wrote outside a request");
                    Some(RestartReason::ProtocolViolation)
                }
                Idle::Gone => {
                    let ended = generation.reap().await;
                    tracing::warn!(generation = self.stats.generation, exit = ?ended.exit, "child exited while idle");
                    Some(RestartReason::ChildExited)
                }
            },
        };
        if let Some(reason) = reason {
            self.state = State::Down(reason.clone());
            let number = self.stats.generation + 1;
            let generation = Generation::start(&self.config, number).await?;
            tracing::info!(
                generation = number,
                reason = reason.name(),
                "child replaced"
            );
            self.stats.generation = number;
            self.stats.restarts += 1;
            *self
                .stats
                .restarts_by_reason
                .entry(reason.name())
                .or_default() += 1;
            self.state = State::Ready(Box::new(generation));
        }
        Ok(())
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
        self.ready().await?;
        let State::Ready(generation) = &mut self.state else {
            return Err(WorkerError::Closed);
        };
        let span = tracing::info_span!("request", command, generation = generation.number, request);
        let encoded = generation
            .encoder
            .request(&mut generation.out, request, command, args);
        if let Err(source) = encoded {
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
        let outcome = match result {
            Ok(finished) => {
                self.settle(command, finished, rows.delivered(), started)
                    .await
            }
            Err(broken) => Err(self.retire(command, broken, rows.delivered()).await),
        };
        self.stats.rows += rows.delivered();
        match &outcome {
            Ok(_) => self.stats.requests_ok += 1,
            Err(_) => self.stats.requests_failed += 1,
        }
        outcome
    }

    /// Turns a finished exchange into the caller's result.
    async fn settle<T: DeserializeOwned>(
        &mut self,
        command: &str,
        finished: Finished,
        rows_delivered: u64,
        started: Instant,
    ) -> Result<StreamSummary<T>, WorkerError> {
        let elapsed = started.elapsed();
        let generation_number = self.stats.generation;
        if let State::Ready(generation) = &mut self.state {
            generation.requests += 1;
            generation.last_used = Instant::now();
        }
        let Finished {
            outcome,
            spoiled,
            streams,
        } = finished;
        let body = match outcome {
            Outcome::Success(body) => body,
            Outcome::Remote(source) => {
                if source.replace {
                    self.replace_gracefully(RestartReason::ChildRequested).await;
                }
                if let Some(spoiled) = spoiled {
                    return Err(spoiled_error(command, spoiled, rows_delivered));
                }
                return Err(WorkerError::Remote {
                    command: command.to_owned(),
                    generation: generation_number,
                    rows_delivered,
                    source,
                });
            }
        };
        // The envelope is protocol: checked even for a spoiled request and
        // before the caller's type, so a child that miscounts is always caught.
        let payload = match Frame::decode(&body) {
            Ok(Frame::Success { payload, .. }) => payload,
            _ => &[][..],
        };
        let success = match serde_json::from_slice::<Success<Box<RawValue>>>(payload) {
            Ok(success) => success,
            Err(err) => {
                let stderr_tail = self.replace_now(RestartReason::ProtocolViolation).await;
                return Err(WorkerError::Protocol {
                    command: Some(command.to_owned()),
                    generation: generation_number,
                    kind: FrameKind::Success,
                    detail: format!("payload does not decode: {err}"),
                    rows_delivered,
                    stderr_tail,
                });
            }
        };
        let mismatch = success
            .rows
            .iter()
            .map(|(stream, reported)| (stream.as_str(), *reported))
            .chain(
                streams
                    .iter()
                    .filter(|(stream, _)| !success.rows.contains_key(*stream))
                    .map(|(stream, _)| (stream, 0)),
            )
            .find(|(stream, reported)| *reported != streams.count(stream));
        if let Some((stream, reported)) = mismatch {
            // A child that miscounts its own rows cannot be trusted further.
            let error = WorkerError::SummaryMismatch {
                command: command.to_owned(),
                stream: stream.to_owned(),
                reported,
                delivered: streams.count(stream),
                rows_delivered,
            };
            self.replace_now(RestartReason::ProtocolViolation).await;
            return Err(error);
        }
        if let Some(spoiled) = spoiled {
            return Err(spoiled_error(command, spoiled, rows_delivered));
        }
        let value = serde_json::from_str::<T>(success.value.get()).map_err(|source| {
            WorkerError::OutputDecode {
                command: command.to_owned(),
                rows_delivered,
                source,
            }
        })?;
        Ok(StreamSummary {
            value,
            rows: rows_delivered,
            streams: streams
                .iter()
                .map(|(name, count)| (name.to_owned(), count))
                .collect(),
            elapsed,
        })
    }

    /// Ends a generation whose channel broke and explains why.
    async fn retire(&mut self, command: &str, broken: Broken, rows_delivered: u64) -> WorkerError {
        let generation_number = self.stats.generation;
        let State::Ready(generation) =
            std::mem::replace(&mut self.state, State::Down(RestartReason::ChannelLost))
        else {
            return WorkerError::Closed;
        };
        let command = Some(command.to_owned());
        let (reason, error) = match broken {
            Broken::Eof | Broken::Write(_) => {
                let Ended { exit, stderr_tail } = generation.reap().await;
                let error = match (exit, broken) {
                    (Some(exit), _) => WorkerError::ChildExited {
                        command,
                        generation: generation_number,
                        exit,
                        rows_delivered,
                        stderr_tail,
                    },
                    (None, Broken::Write(source)) => WorkerError::Write {
                        generation: generation_number,
                        source,
                    },
                    (None, _) => WorkerError::ChannelClosed {
                        command,
                        generation: generation_number,
                        rows_delivered,
                        stderr_tail,
                    },
                };
                (RestartReason::ChildExited, error)
            }
            Broken::Frame(source) => {
                let stderr_tail = generation.kill().await.stderr_tail;
                let error = WorkerError::Frame {
                    command,
                    generation: generation_number,
                    rows_delivered,
                    source,
                    stderr_tail,
                };
                (RestartReason::ProtocolViolation, error)
            }
            Broken::Protocol { kind, detail } => {
                let stderr_tail = generation.kill().await.stderr_tail;
                let error = WorkerError::Protocol {
                    command,
                    generation: generation_number,
                    kind,
                    detail,
                    rows_delivered,
                    stderr_tail,
                };
                (RestartReason::ProtocolViolation, error)
            }
        };
        tracing::warn!(generation = self.stats.generation, reason = reason.name(), error = %error, "child lost");
        self.state = State::Down(reason);
        error
    }

    /// Shuts the current generation down; the next request starts a new one.
    async fn replace_gracefully(&mut self, reason: RestartReason) {
        if let State::Ready(generation) = std::mem::replace(&mut self.state, State::Down(reason)) {
            generation.shutdown(self.config.shutdown_timeout).await;
        }
    }

    /// Kills the current generation; the next request starts a new one.
    /// Returns the end of its stderr.
    async fn replace_now(&mut self, reason: RestartReason) -> String {
        match std::mem::replace(&mut self.state, State::Down(reason)) {
            State::Ready(generation) => generation.kill().await.stderr_tail,
            State::Down(_) | State::Closed => String::new(),
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

fn facts(generation: &Generation) -> GenerationFacts {
    GenerationFacts {
        generation: generation.number,
        requests: generation.requests,
        age: generation.ready_at.elapsed(),
        idle: generation.last_used.elapsed(),
    }
}

fn spoiled_error(command: &str, spoiled: Spoiled, rows_delivered: u64) -> WorkerError {
    let command = command.to_owned();
    match spoiled {
        Spoiled::Decode {
            stream,
            seq,
            source,
        } => WorkerError::RowDecode {
            command,
            stream: stream.to_string(),
            seq,
            rows_delivered,
            source,
        },
        Spoiled::Sink(source) => WorkerError::Sink {
            command,
            rows_delivered,
            source,
        },
        Spoiled::UnexpectedRow { stream } => WorkerError::UnexpectedRow {
            command,
            stream: stream.to_string(),
        },
    }
}
