use std::time::Duration;

use super::{Decision, GenerationFacts, RestartPolicy, RestartReason};

/// Cycles a child that has sat idle for at least `d`, so work arriving after
/// a lull gets a fresh child rather than one with stale state. Stable name:
/// `"after_idle"`. Checked before a request: the replacement happens when
/// work arrives, not while idle. `Duration::ZERO` cycles before every
/// request.
///
/// ```
/// use std::time::Duration;
/// use bulkhead::policy::{AfterIdle, Decision, GenerationFacts, RestartPolicy};
///
/// let mut facts = GenerationFacts::new(1);
/// facts.idle = Duration::from_secs(300);
/// let policy = AfterIdle::new(Duration::from_secs(300));
/// assert!(matches!(policy.decide(&facts), Decision::Cycle(_)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterIdle {
    idle: Duration,
}

impl AfterIdle {
    /// Cycles once the child has been idle for `idle`.
    pub fn new(idle: Duration) -> Self {
        Self { idle }
    }

    /// The threshold.
    pub fn idle(&self) -> Duration {
        self.idle
    }
}

impl RestartPolicy for AfterIdle {
    fn reads_rss(&self) -> bool {
        false
    }

    fn decide(&self, facts: &GenerationFacts) -> Decision {
        if facts.idle >= self.idle {
            Decision::Cycle(RestartReason::Policy("after_idle"))
        } else {
            Decision::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(idle: Duration) -> GenerationFacts {
        GenerationFacts {
            idle,
            age: Duration::MAX,
            ..GenerationFacts::new(1)
        }
    }

    #[test]
    fn cycles_exactly_at_the_threshold_and_ignores_age() {
        let policy = AfterIdle::new(Duration::from_secs(10));
        assert_eq!(
            policy.decide(&facts(Duration::from_millis(9_999))),
            Decision::Keep
        );
        let cycle = Decision::Cycle(RestartReason::Policy("after_idle"));
        assert_eq!(policy.decide(&facts(Duration::from_secs(10))), cycle);
        assert_eq!(policy.decide(&facts(Duration::from_secs(11))), cycle);
    }
}
