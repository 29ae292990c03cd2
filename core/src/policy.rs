//! Restart policies decide, between requests, whether to replace the child.
//!
//! A policy is a pure function from [`GenerationFacts`] to a [`Decision`]; the
//! worker carries the decision out. Built-in policies beyond [`Never`] and
//! [`AfterRequests`] come with the memory-cycling work.

use std::fmt;
use std::time::Duration;

mod reason;

pub use reason::RestartReason;

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
            generation: 1,
            requests,
            age: Duration::ZERO,
            idle: Duration::ZERO,
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
