use std::time::Duration;

use super::{Decision, GenerationFacts, RestartPolicy, RestartReason};

/// Cycles a child once it is at least `d` old (time since it became ready),
/// however busy or idle it has been. Stable name: `"after_age"`.
/// `Duration::ZERO` cycles before every request.
///
/// ```
/// use std::time::Duration;
/// use bulkhead::policy::{AfterAge, Decision, GenerationFacts, RestartPolicy};
///
/// let mut facts = GenerationFacts::new(1);
/// facts.age = Duration::from_secs(59);
/// let policy = AfterAge::new(Duration::from_secs(60));
/// assert_eq!(policy.decide(&facts), Decision::Keep);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterAge {
    age: Duration,
}

impl AfterAge {
    /// Cycles once the child is `age` old.
    pub fn new(age: Duration) -> Self {
        Self { age }
    }

    /// The threshold.
    pub fn age(&self) -> Duration {
        self.age
    }
}

impl RestartPolicy for AfterAge {
    fn reads_rss(&self) -> bool {
        false
    }

    fn decide(&self, facts: &GenerationFacts) -> Decision {
        if facts.age >= self.age {
            Decision::Cycle(RestartReason::Policy("after_age"))
        } else {
            Decision::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(age: Duration) -> GenerationFacts {
        GenerationFacts {
            age,
            idle: Duration::MAX,
            ..GenerationFacts::new(1)
        }
    }

    #[test]
    fn cycles_exactly_at_the_threshold_and_ignores_idle() {
        let policy = AfterAge::new(Duration::from_secs(60));
        assert_eq!(
            policy.decide(&facts(Duration::from_millis(59_999))),
            Decision::Keep
        );
        let cycle = Decision::Cycle(RestartReason::Policy("after_age"));
        assert_eq!(policy.decide(&facts(Duration::from_secs(60))), cycle);
        assert_eq!(policy.decide(&facts(Duration::from_secs(61))), cycle);
    }
}
