//! A pool lease's claim on one child generation.

use std::fmt;

use crate::policy::RestartReason;

use super::state::State;
use super::{Worker, WorkerError};

/// Binds the requests of one lease to the generation it was granted under.
///
/// A claimed request never starts a new generation: when the one it claims
/// has ended, or must go by the restart policy, or a request under the claim
/// was cancelled, it fails with [`WorkerError::StaleLease`] instead.
///
/// [`WorkerError::StaleLease`]: super::WorkerError::StaleLease
#[derive(Debug)]
pub(crate) struct Claim {
    /// The generation granted.
    pub(crate) generation: u64,
    /// Set once the claim is spent.
    pub(crate) spent: Option<StaleCause>,
}

impl Claim {
    pub(crate) fn new(generation: u64) -> Self {
        Self {
            generation,
            spent: None,
        }
    }
}

impl Worker {
    /// Like [`ready`](Self::ready) for a request under a pool lease: the
    /// claimed generation must still be usable; it is never replaced here.
    pub(super) async fn ready_claimed(
        &mut self,
        claim: &mut Claim,
        opening: bool,
    ) -> Result<(), WorkerError> {
        let cause = match (&claim.spent, &self.state) {
            (Some(cause), _) => Some(cause.clone()),
            // A guard only: a lease owns its worker, and claimed requests
            // never start a generation, so nothing else can replace it.
            (None, State::Ready(generation)) if generation.number != claim.generation => {
                Some(StaleCause::Ended(RestartReason::ChannelLost))
            }
            (None, State::BackingOff(halt)) => Some(StaleCause::Ended(halt.reason())),
            _ => self
                .retire_if_due(opening)
                .await?
                .map(|next| StaleCause::Ended(next.reason())),
        };
        match cause {
            None => Ok(()),
            Some(cause) => {
                claim.spent = Some(cause.clone());
                Err(WorkerError::StaleLease {
                    generation: claim.generation,
                    cause,
                })
            }
        }
    }
}

/// Why a pool lease went stale.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StaleCause {
    /// The generation ended, or had to end before the next request (a
    /// timeout, a crash, a restart policy's cycle, ...).
    Ended(RestartReason),
    /// A request on the lease was cancelled. The child stays warm and goes
    /// back to the pool; a new lease for the same key may get it again.
    Cancelled,
}

impl fmt::Display for StaleCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaleCause::Ended(reason) => write!(f, "ended: {reason}"),
            StaleCause::Cancelled => f.write_str("served a cancelled request"),
        }
    }
}
