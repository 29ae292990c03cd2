use super::{AfterRequests, Any, RssCeiling, any};

/// The usual policy for memory-hungry children: cycle between requests when
/// RSS exceeds `ceiling_bytes` ([`RssCeiling`], reason `"rss_ceiling"`), or
/// after about `max_requests` requests ([`AfterRequests`] with 10 % jitter,
/// reason `"after_requests"`), whichever comes first.
///
/// The request bound still holds where RSS cannot be measured, since the
/// ceiling then keeps ([`UnavailablePolicy::Keep`](super::UnavailablePolicy::Keep)).
/// Both are soft, checked between requests. A child that blows past its
/// budget in the middle of a request is stopped by the hard in-request
/// limit, a worker setting configured separately
/// (`WorkerBuilder::rss_hard_limit`).
///
/// ```
/// use bulkhead::policy::{Decision, GenerationFacts, RestartPolicy, memory_bounded};
/// use bulkhead::Rss;
///
/// let policy = memory_bounded(512 << 20, 1_000);
/// let mut facts = GenerationFacts::new(1);
/// facts.rss = Rss::Bytes(600 << 20);
/// assert!(matches!(policy.decide(&facts), Decision::Cycle(_)));
/// ```
pub fn memory_bounded(ceiling_bytes: u64, max_requests: u64) -> Any<RssCeiling, AfterRequests> {
    any(
        RssCeiling::new(ceiling_bytes),
        AfterRequests::new(max_requests).with_jitter(max_requests / 10),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RestartReason::Policy;
    use crate::policy::{Decision, GenerationFacts, RestartPolicy, RestartReason};
    use crate::rss::Rss;

    fn facts(generation: u64, requests: u64, rss: Rss) -> GenerationFacts {
        GenerationFacts {
            requests,
            rss,
            ..GenerationFacts::new(generation)
        }
    }

    #[test]
    fn memory_bounded_cycles_on_memory_first() {
        let policy = memory_bounded(1_000, 100);
        assert_eq!(
            policy.decide(&facts(1, 0, Rss::Bytes(1_000))),
            Decision::Keep
        );
        assert_eq!(
            policy.decide(&facts(1, 500, Rss::Bytes(1_001))),
            Decision::Cycle(RestartReason::RssCeiling {
                rss: 1_001,
                ceiling: 1_000
            })
        );
    }

    #[test]
    fn memory_bounded_still_bounds_requests_without_rss() {
        let policy = memory_bounded(1_000, 100);
        for generation in 1..=50 {
            assert_eq!(
                policy.decide(&facts(generation, 99, Rss::Unavailable)),
                Decision::Keep
            );
            assert_eq!(
                policy.decide(&facts(generation, 110, Rss::Unavailable)),
                Decision::Cycle(Policy("after_requests"))
            );
        }
    }
}
