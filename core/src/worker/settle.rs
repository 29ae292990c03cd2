//! How a request's end becomes the caller's result, and what happens to the
//! child on the way.

use std::time::Instant;

use serde::de::DeserializeOwned;

use crate::policy::RestartReason;
use crate::rss::Rss;
use crate::wire::{FrameKind, Success};

use super::exchange::{Broken, Finished, Limits, Outcome, Tally};
use super::process::Ended;
use super::request::StreamSummary;
use super::restart::Next;
use super::rows::Spoiled;
use super::{ChildExit, LimitHit, MemoryEnforcer, Worker, WorkerConfig, WorkerError};

impl Worker {
    /// Turns a finished exchange into the caller's result.
    pub(super) async fn settle<T: DeserializeOwned>(
        &mut self,
        command: &str,
        finished: Finished,
        rows_delivered: u64,
        tally: &Tally,
    ) -> Result<StreamSummary<T>, WorkerError> {
        let elapsed = tally.elapsed;
        let generation_number = self.stats.generation;
        if let Some(generation) = self.state.generation_mut() {
            generation.requests += 1;
            generation.last_used = tally.ended.unwrap_or_else(Instant::now);
        }
        let Finished {
            outcome,
            spoiled,
            cancelled,
            streams,
        } = finished;
        let payload = match outcome {
            Outcome::Success(payload) => payload,
            Outcome::Remote(source) => {
                if source.replace {
                    self.replace_gracefully(RestartReason::ChildRequested).await;
                }
                if let Some(error) = ended_early(
                    command,
                    spoiled,
                    cancelled,
                    generation_number,
                    rows_delivered,
                ) {
                    return Err(error);
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
        let success = match Success::decode(&payload) {
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
        if let Some(error) = ended_early(
            command,
            spoiled,
            cancelled,
            generation_number,
            rows_delivered,
        ) {
            return Err(error);
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

    /// Ends a generation whose channel broke and explains why. A child
    /// killed for a reason known before it is gone (a timeout, a cancel
    /// that overstayed its grace, the hard RSS limit) is replaced at once
    /// if `replace`: the next child starts while the old one is killed and
    /// reaped, so the next request finds it ready. Its start is judged by
    /// the restart limit and the crash-loop guard as any; a failure is
    /// recorded for the next request, and this one still reports why its
    /// child was killed.
    pub(super) async fn retire(
        &mut self,
        command: &str,
        broken: Broken,
        rows_delivered: u64,
        limits: &Limits,
        replace: bool,
    ) -> WorkerError {
        let (timeout, cancel_grace) = (limits.timeout, limits.cancel_grace);
        let generation_number = self.stats.generation;
        let known = match &broken {
            Broken::Timeout => Some(RestartReason::Timeout),
            Broken::GraceExpired => Some(RestartReason::CancelTimeout),
            &Broken::MemoryLimit { rss, limit } => Some(RestartReason::RssHardLimit { rss, limit }),
            _ => None,
        };
        let early = known.filter(|_| replace);
        let down = early.clone().unwrap_or(RestartReason::ChannelLost);
        let Some(generation) = self.take_generation(down) else {
            return WorkerError::Closed;
        };
        // A child that closed its channel is reaped (it is likely exiting);
        // one that broke the protocol or overstayed is killed.
        let Ended { exit, stderr_tail } = match (&broken, &early) {
            (Broken::Eof | Broken::Write(_), _) => generation.reap().await,
            (_, Some(reason)) => {
                let next = self.start_next(Next::Replace(reason.clone()));
                // A failed start is recorded by `start_next` itself.
                let (ended, _started) = tokio::join!(generation.kill(), next);
                ended
            }
            _ => generation.kill().await,
        };
        let generation = generation_number;
        let name = command.to_owned();
        let command = Some(name.clone());
        let (reason, error) = match (broken, exit) {
            (Broken::Eof | Broken::Write(_), Some(exit)) if exit.limit.is_some() => limit_error(
                &self.config,
                name,
                generation,
                exit,
                rows_delivered,
                stderr_tail,
            ),
            (Broken::Eof | Broken::Write(_), Some(exit)) => (
                RestartReason::ChildExited,
                WorkerError::ChildExited {
                    command,
                    generation,
                    exit,
                    rows_delivered,
                    stderr_tail,
                },
            ),
            (Broken::Write(source), None) => (
                RestartReason::ChildExited,
                WorkerError::Write { generation, source },
            ),
            (Broken::Eof, None) => (
                RestartReason::ChildExited,
                WorkerError::ChannelClosed {
                    command,
                    generation,
                    rows_delivered,
                    stderr_tail,
                },
            ),
            (Broken::Frame(source), _) => (
                RestartReason::ProtocolViolation,
                WorkerError::Frame {
                    command,
                    generation,
                    rows_delivered,
                    source,
                    stderr_tail,
                },
            ),
            (Broken::Protocol { kind, detail }, _) => (
                RestartReason::ProtocolViolation,
                WorkerError::Protocol {
                    command,
                    generation,
                    kind,
                    detail,
                    rows_delivered,
                    stderr_tail,
                },
            ),
            (Broken::Timeout, _) => (
                RestartReason::Timeout,
                WorkerError::Timeout {
                    command: name,
                    generation,
                    timeout,
                    rows_delivered,
                    stderr_tail,
                },
            ),
            (Broken::GraceExpired, _) => (
                RestartReason::CancelTimeout,
                WorkerError::CancelForced {
                    command: name,
                    generation,
                    grace: cancel_grace,
                    rows_delivered,
                    stderr_tail,
                },
            ),
            (Broken::MemoryLimit { rss, limit }, _) => (
                RestartReason::RssHardLimit { rss, limit },
                WorkerError::MemoryLimit {
                    command: name,
                    generation,
                    limit,
                    rss: Rss::Bytes(rss),
                    enforcer: MemoryEnforcer::Sampler,
                    rows_delivered,
                    stderr_tail,
                },
            ),
        };
        tracing::warn!(generation, reason = reason.name(), error = %error, "child lost");
        // Unless the next child was started: then the state is its.
        if early.is_none() {
            self.go_down(reason);
        }
        error
    }

    /// Shuts the current generation down; the next request starts a new one.
    async fn replace_gracefully(&mut self, reason: RestartReason) {
        if let Some(generation) = self.take_generation(reason) {
            self.end_gracefully(*generation).await;
        }
    }

    /// Kills the current generation; the next request starts a new one.
    /// Returns the end of its stderr.
    async fn replace_now(&mut self, reason: RestartReason) -> String {
        match self.take_generation(reason) {
            Some(generation) => generation.kill().await.stderr_tail,
            None => String::new(),
        }
    }
}

/// The reason and error for a child a kernel limit ended during a request.
fn limit_error(
    config: &WorkerConfig,
    command: String,
    generation: u64,
    exit: ChildExit,
    rows_delivered: u64,
    stderr_tail: String,
) -> (RestartReason, WorkerError) {
    let cpu = config.cpu_time_limit;
    let memory = config.memory_limit.as_ref().map(|limit| limit.bytes);
    match (exit.limit, cpu, memory) {
        (Some(LimitHit::CpuTime), Some(limit), _) => (
            RestartReason::CpuLimit { limit },
            WorkerError::CpuLimit {
                command,
                generation,
                limit,
                rows_delivered,
                stderr_tail,
            },
        ),
        (Some(LimitHit::Memory { enforcer }), _, Some(limit)) => (
            RestartReason::MemoryLimit { limit, enforcer },
            WorkerError::MemoryLimit {
                command,
                generation,
                limit,
                rss: Rss::Unavailable,
                enforcer,
                rows_delivered,
                stderr_tail,
            },
        ),
        _ => (
            RestartReason::ChildExited,
            WorkerError::ChildExited {
                command: Some(command),
                generation,
                exit,
                rows_delivered,
                stderr_tail,
            },
        ),
    }
}

/// The error for a request that was spoiled (a delivery failed) or
/// cancelled by the caller, whatever its terminal frame said; a delivery
/// failure wins.
fn ended_early(
    command: &str,
    spoiled: Option<Spoiled>,
    cancelled: bool,
    generation: u64,
    rows_delivered: u64,
) -> Option<WorkerError> {
    match spoiled {
        Some(spoiled) => Some(spoiled_error(command, spoiled, rows_delivered)),
        None if cancelled => Some(WorkerError::Cancelled {
            command: command.to_owned(),
            generation,
            rows_delivered,
        }),
        None => None,
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
