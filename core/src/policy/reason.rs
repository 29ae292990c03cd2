use std::fmt;
use std::time::Duration;

use crate::describe::Span;
use crate::rss::Rss;
use crate::worker::MemoryEnforcer;

/// Why a child generation ended. Each reason has a stable snake_case name,
/// used in statistics and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RestartReason {
    /// The caller asked for a fresh child.
    Explicit,
    /// A restart policy decided; carries the policy's stable name.
    Policy(&'static str),
    /// The resident set size passed a soft ceiling between requests.
    RssCeiling {
        /// The sample, in bytes.
        rss: u64,
        /// The ceiling, in bytes.
        ceiling: u64,
    },
    /// The resident set size could not be sampled, and an
    /// [`RssCeiling`](super::RssCeiling) set to
    /// [`UnavailablePolicy::Cycle`](super::UnavailablePolicy::Cycle) cycles
    /// an unmeasurable child.
    RssUnavailable,
    /// The resident set size passed the hard limit during a request; the
    /// child was killed.
    RssHardLimit {
        /// The sample, in bytes.
        rss: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A memory limit enforced by the kernel ended the child (see
    /// [`WorkerBuilder::memory_limit`](crate::WorkerBuilder::memory_limit)).
    MemoryLimit {
        /// The limit, in bytes.
        limit: u64,
        /// What enforced it.
        enforcer: MemoryEnforcer,
    },
    /// The child used up its CPU-time limit (see
    /// [`WorkerBuilder::cpu_time_limit`](crate::WorkerBuilder::cpu_time_limit)).
    CpuLimit {
        /// The limit.
        limit: Duration,
    },
    /// The child exited or its channel closed.
    ChildExited,
    /// The last start failed: the child never became ready.
    StartFailed,
    /// The child reported a panic and asked to be replaced.
    ChildRequested,
    /// The child broke the protocol.
    ProtocolViolation,
    /// A request passed its timeout; the child was killed.
    Timeout,
    /// A cancelled request did not end within the grace period; the child
    /// was killed.
    CancelTimeout,
    /// A request was abandoned midway (its future dropped), so unread
    /// frames may remain in the channel.
    ChannelLost,
}

impl RestartReason {
    /// The stable name of this reason.
    pub fn name(&self) -> &'static str {
        match self {
            RestartReason::Explicit => "explicit",
            RestartReason::Policy(name) => name,
            RestartReason::RssCeiling { .. } => "rss_ceiling",
            RestartReason::RssUnavailable => "rss_unavailable",
            RestartReason::RssHardLimit { .. } => "rss_hard_limit",
            RestartReason::MemoryLimit { .. } => "memory_limit",
            RestartReason::CpuLimit { .. } => "cpu_limit",
            RestartReason::ChildExited => "child_exited",
            RestartReason::StartFailed => "start_failed",
            RestartReason::ChildRequested => "child_requested",
            RestartReason::ProtocolViolation => "protocol_violation",
            RestartReason::ChannelLost => "channel_lost",
            RestartReason::Timeout => "timeout",
            RestartReason::CancelTimeout => "cancel_timeout",
        }
    }
}

impl RestartReason {
    /// Whether this replacement was planned (explicit or by policy) rather
    /// than forced by a failure. Only unplanned ones count against the
    /// restart limit.
    pub fn is_planned(&self) -> bool {
        matches!(
            self,
            RestartReason::Explicit
                | RestartReason::Policy(_)
                | RestartReason::RssCeiling { .. }
                | RestartReason::RssUnavailable
        )
    }
}

impl fmt::Display for RestartReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            RestartReason::RssCeiling { rss, ceiling } => {
                write!(
                    f,
                    " (resident {} over the {} ceiling)",
                    Rss::Bytes(*rss),
                    Rss::Bytes(*ceiling)
                )
            }
            RestartReason::RssHardLimit { rss, limit } => {
                write!(
                    f,
                    " (resident {} over the {} hard limit)",
                    Rss::Bytes(*rss),
                    Rss::Bytes(*limit)
                )
            }
            RestartReason::MemoryLimit { limit, enforcer } => {
                write!(f, " (over {}, {enforcer})", Rss::Bytes(*limit))
            }
            RestartReason::CpuLimit { limit } => write!(f, " (used {} of CPU time)", Span(*limit)),
            _ => Ok(()),
        }
    }
}
