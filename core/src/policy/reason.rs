use std::fmt;

/// Why a child generation ended. Each reason has a stable snake_case name,
/// used in statistics and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RestartReason {
    /// The caller asked for a fresh child.
    Explicit,
    /// A restart policy decided; carries the policy's stable name.
    Policy(&'static str),
    /// The child exited or its channel closed.
    ChildExited,
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
            RestartReason::ChildExited => "child_exited",
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
        matches!(self, RestartReason::Explicit | RestartReason::Policy(_))
    }
}

impl fmt::Display for RestartReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
