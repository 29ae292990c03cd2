//! Restart policies decide, between requests, whether to replace the child.
//!
//! A policy is a pure function from [`GenerationFacts`] to a [`Decision`]; the
//! worker carries the decision out. Built-in policies beyond [`Never`] and
//! [`AfterRequests`] come with the memory-cycling work.

use std::fmt;
use std::time::Duration;

mod reason;

pub use reason::RestartReason;

use crate::rss::Rss;

/// Facts about the current child generation, gathered by the worker before
/// each request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GenerationFacts {
    /// Generation number, from 1.
    pub generation: u64,
    /// Requests this generation has finished.
    pub requests: u64,
    /// Time since this generation became ready.
    pub age: Duration,
    /// Time since the last request finished (or since ready, if none).
    pub idle: Duration,
    /// Session opens (the expensive, import-like requests) this generation
    /// has served.
    pub session_opens: u64,
    /// Resident set size sampled just before this decision.
    pub rss: Rss,
    /// Resident set size sampled right after the handshake.
    pub startup_rss: Rss,
}

impl GenerationFacts {
    /// Facts for a fresh generation: no requests, no age, RSS unavailable.
    /// For tests of policies and for callers building facts by hand.
    pub fn new(generation: u64) -> Self {
        Self {
            generation,
            requests: 0,
            age: Duration::ZERO,
            idle: Duration::ZERO,
            session_opens: 0,
            rss: Rss::Unavailable,
            startup_rss: Rss::Unavailable,
        }
    }
}

/// What a policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Keep the current child.
    Keep,
    /// Replace the child gracefully before the next request.
    Cycle(RestartReason),
}

/// Decides whether to cycle the child before the next request.
///
/// Object safe: workers hold a `Box<dyn RestartPolicy>`.
pub trait RestartPolicy: fmt::Debug + Send + Sync + 'static {
    /// The decision for these facts. Must not block.
    fn decide(&self, facts: &GenerationFacts) -> Decision;
}

/// Never cycles. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Never;

impl RestartPolicy for Never {
    fn decide(&self, _facts: &GenerationFacts) -> Decision {
        Decision::Keep
    }
}

/// Cycles after a generation has served `n` requests.
#[derive(Debug, Clone, Copy)]
pub struct AfterRequests(pub u64);

impl RestartPolicy for AfterRequests {
    fn decide(&self, facts: &GenerationFacts) -> Decision {
        if facts.requests >= self.0 {
            Decision::Cycle(RestartReason::Policy("after_requests"))
        } else {
            Decision::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(requests: u64) -> GenerationFacts {
        GenerationFacts {
            requests,
            ..GenerationFacts::new(1)
        }
    }

    #[test]
    fn policies_are_object_safe() {
        let policies: Vec<Box<dyn RestartPolicy>> =
            vec![Box::new(Never), Box::new(AfterRequests(2))];
        assert!(
            policies
                .iter()
                .all(|p| p.decide(&facts(0)) == Decision::Keep)
        );
    }

    #[test]
    fn after_requests_cycles_at_the_threshold() {
        let policy = AfterRequests(3);
        assert_eq!(policy.decide(&facts(2)), Decision::Keep);
        assert_eq!(
            policy.decide(&facts(3)),
            Decision::Cycle(RestartReason::Policy("after_requests"))
        );
    }
}
