use super::{Decision, GenerationFacts, RestartPolicy};

/// Cycles when `a` or `b` cycles, with the reason of the first that does
/// (`a` first). Nest it, or use [`RestartPolicyExt::or`](super::RestartPolicyExt::or),
/// for more than two.
///
/// ```
/// use std::time::Duration;
/// use bulkhead::policy::{AfterAge, AfterRequests, Decision, GenerationFacts, RestartPolicy, any};
///
/// let policy = any(AfterRequests::new(100), AfterAge::new(Duration::from_secs(3_600)));
/// let mut facts = GenerationFacts::new(1);
/// facts.requests = 100;
/// assert!(matches!(policy.decide(&facts), Decision::Cycle(_)));
/// ```
pub fn any<A: RestartPolicy, B: RestartPolicy>(a: A, b: B) -> Any<A, B> {
    Any { a, b }
}

/// Cycles when either of two policies cycles. Built by [`any`].
#[derive(Debug, Clone, Copy)]
pub struct Any<A, B> {
    a: A,
    b: B,
}

impl<A: RestartPolicy, B: RestartPolicy> RestartPolicy for Any<A, B> {
    fn reads_rss(&self) -> bool {
        self.a.reads_rss() || self.b.reads_rss()
    }

    fn decide(&self, facts: &GenerationFacts) -> Decision {
        match self.a.decide(facts) {
            Decision::Keep => self.b.decide(facts),
            cycle => cycle,
        }
    }
}

/// Cycles when any policy in a list cycles, with the reason of the first that
/// does. An empty list keeps. For lists built at run time; the default element
/// type is `Box<dyn RestartPolicy>`, and `Arc<dyn RestartPolicy>` makes the
/// list `Clone`.
///
/// ```
/// use bulkhead::policy::{AfterRequests, AnyOf, Never, RestartPolicy, RestartPolicyExt};
///
/// let policy = AnyOf(vec![Never.boxed(), AfterRequests::new(10).boxed()]);
/// # let _ = policy;
/// ```
#[derive(Debug, Clone)]
pub struct AnyOf<P = Box<dyn RestartPolicy>>(pub Vec<P>);

impl<P: RestartPolicy> RestartPolicy for AnyOf<P> {
    fn reads_rss(&self) -> bool {
        self.0.iter().any(RestartPolicy::reads_rss)
    }

    fn decide(&self, facts: &GenerationFacts) -> Decision {
        self.0
            .iter()
            .map(|policy| policy.decide(facts))
            .find(|decision| *decision != Decision::Keep)
            .unwrap_or(Decision::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RestartReason::Policy;
    use crate::policy::{AfterRequests, AfterSessionOpens, Never, RestartPolicyExt};

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
    fn any_cycles_with_the_reason_of_the_first_policy_that_cycles() {
        let policy = any(AfterRequests::new(2), AfterSessionOpens::new(1));
        assert_eq!(policy.decide(&facts(1, 0)), Decision::Keep);
        assert_eq!(
            policy.decide(&facts(2, 0)),
            Decision::Cycle(Policy("after_requests"))
        );
        assert_eq!(
            policy.decide(&facts(1, 1)),
            Decision::Cycle(Policy("after_session_opens"))
        );
        let ordinary = GenerationFacts {
            opening_session: false,
            ..facts(1, 1)
        };
        assert_eq!(policy.decide(&ordinary), Decision::Keep);
        assert_eq!(
            policy.decide(&facts(2, 1)),
            Decision::Cycle(Policy("after_requests"))
        );
    }

    #[test]
    fn any_of_follows_list_order_and_keeps_when_empty() {
        let policy = AnyOf(vec![
            Never.boxed(),
            AfterSessionOpens::new(1).boxed(),
            AfterRequests::new(1).boxed(),
        ]);
        assert_eq!(policy.decide(&facts(0, 0)), Decision::Keep);
        assert_eq!(
            policy.decide(&facts(1, 1)),
            Decision::Cycle(Policy("after_session_opens"))
        );
        assert_eq!(AnyOf::<Never>(vec![]).decide(&facts(9, 9)), Decision::Keep);
    }
}
