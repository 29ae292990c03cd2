use super::{Decision, GenerationFacts, RestartPolicy};

/// Cycles only when both `a` and `b` cycle, with the reason of `a`. Nest it,
/// or use [`RestartPolicyExt::and`](super::RestartPolicyExt::and), for more
/// than two.
///
/// ```
/// use std::time::Duration;
/// use bulkhead::policy::{AfterIdle, AfterRequests, Decision, GenerationFacts, RestartPolicy, all};
///
/// // Cycle a child that has done some work and then gone quiet.
/// let policy = all(AfterIdle::new(Duration::from_secs(60)), AfterRequests::new(1));
/// let mut facts = GenerationFacts::new(1);
/// facts.idle = Duration::from_secs(120);
/// assert_eq!(policy.decide(&facts), Decision::Keep);
/// ```
pub fn all<A: RestartPolicy, B: RestartPolicy>(a: A, b: B) -> All<A, B> {
    All { a, b }
}

/// Cycles when both of two policies cycle. Built by [`all`].
#[derive(Debug, Clone, Copy)]
pub struct All<A, B> {
    a: A,
    b: B,
}

impl<A: RestartPolicy, B: RestartPolicy> RestartPolicy for All<A, B> {
    fn reads_rss(&self) -> bool {
        self.a.reads_rss() || self.b.reads_rss()
    }

    fn decide(&self, facts: &GenerationFacts) -> Decision {
        match (self.a.decide(facts), self.b.decide(facts)) {
            (cycle @ Decision::Cycle(_), Decision::Cycle(_)) => cycle,
            _ => Decision::Keep,
        }
    }
}

/// Cycles when every policy in a list cycles, with the reason of the first.
/// An empty list keeps: with no policy there is no reason to give. The
/// element type defaults to `Box<dyn RestartPolicy>`, as in [`AnyOf`](super::AnyOf).
///
/// ```
/// use bulkhead::policy::{AfterRequests, AfterSessionOpens, AllOf, RestartPolicyExt};
///
/// let policy = AllOf(vec![AfterRequests::new(10).boxed(), AfterSessionOpens::new(2).boxed()]);
/// # let _ = policy;
/// ```
#[derive(Debug, Clone)]
pub struct AllOf<P = Box<dyn RestartPolicy>>(pub Vec<P>);

impl<P: RestartPolicy> RestartPolicy for AllOf<P> {
    fn reads_rss(&self) -> bool {
        self.0.iter().any(RestartPolicy::reads_rss)
    }

    fn decide(&self, facts: &GenerationFacts) -> Decision {
        let mut first = None;
        for policy in &self.0 {
            match policy.decide(facts) {
                Decision::Keep => return Decision::Keep,
                Decision::Cycle(reason) => {
                    first.get_or_insert(reason);
                }
            }
        }
        first.map_or(Decision::Keep, Decision::Cycle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RestartReason::Policy;
    use crate::policy::{AfterRequests, AfterSessionOpens, RestartPolicyExt};

    /// Facts before a session open, so `AfterSessionOpens` can cycle.
    fn facts(requests: u64, session_opens: u64) -> GenerationFacts {
        GenerationFacts {
            requests,
            session_opens,
            opening_session: true,
            ..GenerationFacts::new(1)
        }
    }

    #[test]
    fn all_cycles_only_when_every_policy_does_with_the_first_reason() {
        let policy = all(AfterSessionOpens::new(1), AfterRequests::new(2));
        assert_eq!(policy.decide(&facts(2, 0)), Decision::Keep);
        assert_eq!(policy.decide(&facts(1, 1)), Decision::Keep);
        assert_eq!(
            policy.decide(&facts(2, 1)),
            Decision::Cycle(Policy("after_session_opens"))
        );
    }

    #[test]
    fn all_of_needs_every_policy_and_keeps_when_empty() {
        let policy = AllOf(vec![
            AfterRequests::new(2).boxed(),
            AfterSessionOpens::new(1).boxed(),
        ]);
        assert_eq!(policy.decide(&facts(2, 0)), Decision::Keep);
        assert_eq!(
            policy.decide(&facts(2, 1)),
            Decision::Cycle(Policy("after_requests"))
        );
        assert_eq!(
            AllOf::<AfterRequests>(vec![]).decide(&facts(9, 9)),
            Decision::Keep
        );
    }
}
