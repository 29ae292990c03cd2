//! Starting the next generation, and the two guards that may refuse to: the
//! restart limit (unplanned replacements in a sliding window) and the
//! crash-loop guard (children failing before they take a request). A
//! tripped guard never refuses for good: the worker backs off (see
//! [`Backoff`](super::Backoff)) and the first request after the back-off
//! starts a fresh child by itself.

use std::sync::Arc;
use std::time::Instant;

use crate::policy::RestartReason;

use super::generation::Generation;
use super::state::State;
use super::{Worker, WorkerConfig, WorkerError};

/// What starts next.
#[derive(Debug)]
pub(super) enum Next {
    /// The worker's first child.
    First,
    /// A replacement of a child that ended for `reason`.
    Replace(RestartReason),
    /// A replacement after a back-off, which was the price of passing the
    /// restart limit: it goes ahead without asking the limit again.
    AfterBackoff(RestartReason),
}

impl Next {
    /// Why the current child is gone.
    pub(super) fn reason(&self) -> RestartReason {
        match self {
            // Only an unstarted worker starts its first child.
            Next::First => RestartReason::StartFailed,
            Next::Replace(reason) | Next::AfterBackoff(reason) => reason.clone(),
        }
    }
}

/// A tripped guard: no child starts before `until`.
#[derive(Debug)]
pub(super) struct Halt {
    pub(super) until: Instant,
    guard: Guard,
}

#[derive(Debug)]
enum Guard {
    /// Start-up failures in a row reached the crash-loop limit.
    CrashLoop {
        attempts: u32,
        last: Arc<WorkerError>,
    },
    /// The restart limit refused a replacement of a child that ended for
    /// `reason`.
    RestartLimit { reason: RestartReason },
}

impl Halt {
    /// Why the worker is down.
    pub(super) fn reason(&self) -> RestartReason {
        match &self.guard {
            Guard::CrashLoop { .. } => RestartReason::StartFailed,
            Guard::RestartLimit { reason } => reason.clone(),
        }
    }

    /// The refusal of a request at `now`.
    pub(super) fn error(&self, config: &WorkerConfig, now: Instant) -> WorkerError {
        let retry_after = self.until.saturating_duration_since(now);
        match &self.guard {
            Guard::CrashLoop { attempts, last } => WorkerError::CrashLoop {
                attempts: *attempts,
                retry_after,
                last: Arc::clone(last),
            },
            Guard::RestartLimit { reason } => WorkerError::RestartLimit {
                limit: config.restart_limit,
                window: config.restart_window,
                reason: reason.clone(),
                retry_after,
            },
        }
    }

    /// Whether the children failed to start (rather than died in requests).
    pub(super) fn is_crash_loop(&self) -> bool {
        matches!(self.guard, Guard::CrashLoop { .. })
    }
}

impl Worker {
    /// Starts the next generation, unless the restart limit refuses.
    pub(super) async fn start_next(&mut self, next: Next) -> Result<(), WorkerError> {
        // A report about the child being replaced no longer applies.
        self.pending = None;
        let now = Instant::now();
        let reason = match next {
            Next::First => None,
            Next::Replace(reason) => {
                if counts_against_limit(&reason) {
                    if !self.intensity.admit(now) {
                        return Err(self.back_off(Guard::RestartLimit { reason }, now));
                    }
                    self.intensity.replaced(now);
                }
                Some(reason)
            }
            Next::AfterBackoff(reason) => {
                if counts_against_limit(&reason) {
                    self.intensity.replaced(now);
                }
                Some(reason)
            }
        };
        let number = self.next_number();
        self.stats.generation = number;
        if let Some(reason) = &reason {
            crate::metrics::restart(reason.name());
            self.stats.restarts += 1;
            *self
                .stats
                .restarts_by_reason
                .entry(reason.name())
                .or_default() += 1;
        }
        match Generation::start(&self.config, number).await {
            Ok(generation) => {
                if let Some(reason) = &reason {
                    tracing::info!(
                        generation = number,
                        reason = reason.name(),
                        "child replaced"
                    );
                }
                self.admit(generation);
                Ok(())
            }
            Err(error) => Err(self.start_failed(error)),
        }
    }

    /// Records a start-up failure: the worker is down, or backing off once
    /// the crash-loop streak reaches its limit. Returns the caller's error.
    pub(super) fn start_failed(&mut self, error: WorkerError) -> WorkerError {
        self.stats.start_failures += 1;
        self.go_down(RestartReason::StartFailed);
        match self.intensity.start_failed() {
            None => error,
            Some(attempts) => {
                let last = Arc::new(error);
                self.back_off(Guard::CrashLoop { attempts, last }, Instant::now())
            }
        }
    }

    /// Trips a guard at `now`: the worker backs off.
    fn back_off(&mut self, guard: Guard, now: Instant) -> WorkerError {
        let until = self.intensity.trip(now);
        self.stats.backoffs += 1;
        let halt = Halt { until, guard };
        let error = halt.error(&self.config, now);
        tracing::error!(%error, "backing off");
        self.go_back_off(halt);
        error
    }

    /// Whether the worker is backing off because its children fail to
    /// start, and until when.
    pub(crate) fn crash_looping_until(&self) -> Option<Instant> {
        match &self.state {
            State::BackingOff(halt) if halt.is_crash_loop() => Some(halt.until),
            _ => None,
        }
    }
}

/// Whether a replacement for `reason` counts against the restart limit:
/// unplanned ones do, except retries after a failed start, which the
/// crash-loop guard counts instead.
fn counts_against_limit(reason: &RestartReason) -> bool {
    !reason.is_planned() && *reason != RestartReason::StartFailed
}
