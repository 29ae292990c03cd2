use std::time::Duration;

use super::RestartReason;
use crate::rss::Rss;

/// Facts about the current child generation, gathered by the worker before
/// each request.
///
/// ```
/// use bulkhead::{GenerationFacts, Rss};
///
/// let mut facts = GenerationFacts::new(1);
/// facts.requests = 10;
/// facts.rss = Rss::Bytes(64 << 20);
/// assert_eq!(facts.generation, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GenerationFacts {
    /// Generation number, from 1.
    pub generation: u64,
    /// Requests this generation has finished.
    pub requests: u64,
    /// Rows this generation delivered, over all its requests.
    pub rows: u64,
    /// Frame bytes (payloads with their headers) received from this
    /// generation.
    pub bytes_received: u64,
    /// Time since this generation became ready.
    pub age: Duration,
    /// Time since the last request finished (or since ready, if none).
    pub idle: Duration,
    /// Session opens (the expensive, import-like requests) this generation
    /// has served.
    pub session_opens: u64,
    /// Whether the request about to run opens a session (see
    /// [`Request::opens_session`](crate::worker::Request::opens_session));
    /// false when the decision is not made for a particular request.
    pub opening_session: bool,
    /// Resident set size sampled just before this decision.
    pub rss: Rss,
    /// Resident set size sampled right after the handshake.
    pub startup_rss: Rss,
}

impl GenerationFacts {
    /// Facts for a fresh generation: no requests, rows or bytes, no age, no session opens,
    /// not opening a session, RSS unavailable.
    /// For tests of policies and for callers building facts by hand.
    pub fn new(generation: u64) -> Self {
        Self {
            generation,
            requests: 0,
            rows: 0,
            bytes_received: 0,
            age: Duration::ZERO,
            idle: Duration::ZERO,
            session_opens: 0,
            opening_session: false,
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
