//! Where a worker stands between requests, and every change of it.
//!
//! The diagram and the table of transitions are in `docs/lifecycle.md`
//! ("States"). Each transition is a named method here; no other file
//! assigns [`Worker::state`](super::Worker). While a generation is being
//! ended or started, the worker is already `Down`: a caller that drops the
//! future midway leaves it there, and the next request starts over.

use crate::policy::RestartReason;

use super::Worker;
use super::generation::Generation;
use super::restart::Halt;

/// Where a worker stands between requests.
pub(super) enum State {
    /// No child was started yet; the next request starts the first.
    Unstarted,
    /// A child is running and its channel is consistent.
    Ready(Box<Generation>),
    /// The last child ended; the next request starts a new generation.
    Down(RestartReason),
    /// A guard tripped: no child starts before the back-off ends; then the
    /// next request starts one.
    BackingOff(Box<Halt>),
    /// Shut down; every request is refused.
    Closed,
}

impl State {
    /// The running generation, if there is one.
    pub(super) fn generation(&self) -> Option<&Generation> {
        match self {
            State::Ready(generation) => Some(generation),
            _ => None,
        }
    }

    /// The running generation, to use, if there is one.
    pub(super) fn generation_mut(&mut self) -> Option<&mut Generation> {
        match self {
            State::Ready(generation) => Some(generation),
            _ => None,
        }
    }
}

impl Worker {
    /// Unstarted or down → ready: a started generation becomes current.
    pub(super) fn become_ready(&mut self, generation: Generation) {
        self.state = State::Ready(Box::new(generation));
    }

    /// Ready → down for `reason`: takes the running generation out, to be
    /// ended by the caller. `None` (and no change) if none runs.
    pub(super) fn take_generation(&mut self, reason: RestartReason) -> Option<Box<Generation>> {
        if !matches!(self.state, State::Ready(_)) {
            return None;
        }
        match std::mem::replace(&mut self.state, State::Down(reason)) {
            State::Ready(generation) => Some(generation),
            _ => None,
        }
    }

    /// → down for `reason`, with no generation running: a start failed, or
    /// a back-off ended. A closed worker stays closed.
    pub(super) fn go_down(&mut self, reason: RestartReason) {
        if !matches!(self.state, State::Closed) {
            self.state = State::Down(reason);
        }
    }

    /// Down → backing off: a guard tripped.
    pub(super) fn go_back_off(&mut self, halt: Halt) {
        self.state = State::BackingOff(Box::new(halt));
    }

    /// Any state → closed; returns the generation that was running, if one
    /// was, to be ended by the caller.
    pub(super) fn close(&mut self) -> Option<Box<Generation>> {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Ready(generation) => Some(generation),
            _ => None,
        }
    }
}
