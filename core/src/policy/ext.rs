use super::{All, Any, RestartPolicy, all, any};

/// Combinators for every [`RestartPolicy`], by blanket impl.
///
/// ```
/// use std::time::Duration;
/// use bulkhead::policy::{AfterIdle, AfterRequests, RestartPolicyExt, RssCeiling};
///
/// let policy = RssCeiling::new(512 << 20)
///     .or(AfterRequests::new(1_000).with_jitter(100))
///     .or(AfterIdle::new(Duration::from_secs(600)));
/// # let _ = policy;
/// ```
pub trait RestartPolicyExt: RestartPolicy {
    /// Cycles when `self` or `other` cycles, with the reason of the first
    /// that does (`self` first). Same as [`any`].
    fn or<P: RestartPolicy>(self, other: P) -> Any<Self, P>
    where
        Self: Sized,
    {
        any(self, other)
    }

    /// Cycles only when both `self` and `other` cycle, with the reason of
    /// `self`. Same as [`all`].
    fn and<P: RestartPolicy>(self, other: P) -> All<Self, P>
    where
        Self: Sized,
    {
        all(self, other)
    }

    /// This policy as a trait object, for lists such as
    /// [`AnyOf`](super::AnyOf).
    fn boxed(self) -> Box<dyn RestartPolicy>
    where
        Self: Sized,
    {
        Box::new(self)
    }
}

impl<P: RestartPolicy + ?Sized> RestartPolicyExt for P {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RestartReason::Policy;
    use crate::policy::{AfterRequests, AfterSessionOpens, Decision, GenerationFacts, Never};

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
    fn or_takes_the_reason_of_the_first_policy_that_cycles() {
        let policy = AfterRequests::new(5).or(AfterSessionOpens::new(1));
        assert_eq!(policy.decide(&facts(0, 0)), Decision::Keep);
        assert_eq!(
            policy.decide(&facts(0, 1)),
            Decision::Cycle(Policy("after_session_opens"))
        );
        let ordinary = GenerationFacts {
            opening_session: false,
            ..facts(0, 1)
        };
        assert_eq!(policy.decide(&ordinary), Decision::Keep);
        assert_eq!(
            policy.decide(&facts(5, 1)),
            Decision::Cycle(Policy("after_requests"))
        );
    }

    #[test]
    fn and_cycles_only_when_both_do() {
        let policy = AfterRequests::new(5).and(AfterSessionOpens::new(1));
        assert_eq!(policy.decide(&facts(5, 0)), Decision::Keep);
        assert_eq!(
            policy.decide(&facts(5, 1)),
            Decision::Cycle(Policy("after_requests"))
        );
    }

    #[test]
    fn boxed_policies_keep_their_behaviour() {
        let policy = AfterRequests::new(1).boxed().or(Never.boxed());
        assert_eq!(
            policy.decide(&facts(1, 0)),
            Decision::Cycle(Policy("after_requests"))
        );
    }
}
