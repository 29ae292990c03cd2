use std::fmt;
use std::sync::Arc;

use super::{Decision, GenerationFacts};

/// Decides whether to cycle the child before the next request.
///
/// A decision from facts: no I/O, no clocks, no blocking. The built-ins are
/// pure, so the same facts always give the same decision; a policy of your
/// own may also read state it shares with the caller, such as a counter the
/// capability reports (see `examples/custom_policy.rs`). Object safe: the
/// worker holds an `Arc<dyn RestartPolicy>`, and `Box`/`Arc` of a policy are
/// policies too. Composition lives in [`RestartPolicyExt`](super::RestartPolicyExt).
pub trait RestartPolicy: fmt::Debug + Send + Sync + 'static {
    /// The decision for these facts. Must not block.
    fn decide(&self, facts: &GenerationFacts) -> Decision;

    /// Whether [`decide`](Self::decide) reads
    /// [`GenerationFacts::rss`]. The worker samples the child's resident
    /// set size before a request only for a policy that does (a sample is
    /// a read of `/proc` on Linux); for one that does not, `facts.rss` is
    /// [`Rss::Unavailable`](crate::Rss::Unavailable). The default, `true`,
    /// is right for any policy; the built-ins that never look at RSS say
    /// `false`.
    fn reads_rss(&self) -> bool {
        true
    }
}

impl<P: RestartPolicy + ?Sized> RestartPolicy for Box<P> {
    fn decide(&self, facts: &GenerationFacts) -> Decision {
        (**self).decide(facts)
    }

    fn reads_rss(&self) -> bool {
        (**self).reads_rss()
    }
}

impl<P: RestartPolicy + ?Sized> RestartPolicy for Arc<P> {
    fn decide(&self, facts: &GenerationFacts) -> Decision {
        (**self).decide(facts)
    }

    fn reads_rss(&self) -> bool {
        (**self).reads_rss()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::policy::*;

    #[test]
    fn every_built_in_works_as_a_boxed_trait_object() {
        let policies: Vec<Box<dyn RestartPolicy>> = vec![
            Box::new(Never),
            Box::new(AfterRequests::new(2).with_jitter(1)),
            Box::new(AfterSessionOpens::new(2)),
            Box::new(AfterIdle::new(Duration::from_secs(1))),
            Box::new(AfterAge::new(Duration::from_secs(1))),
            Box::new(RssCeiling::new(1024)),
            Box::new(any(Never, AfterRequests::new(1))),
            Box::new(all(Never, AfterRequests::new(1))),
            Box::new(memory_bounded(1024, 100)),
            Box::new(Never.or(Never).and(Never)),
            Box::new(AnyOf(vec![Never.boxed()])),
            Box::new(AllOf(vec![Arc::new(Never) as Arc<dyn RestartPolicy>])),
        ];
        let fresh = GenerationFacts::new(1);
        assert!(policies.iter().all(|p| p.decide(&fresh) == Decision::Keep));
        let first_open = GenerationFacts {
            opening_session: true,
            ..GenerationFacts::new(1)
        };
        assert!(
            policies
                .iter()
                .all(|p| p.decide(&first_open) == Decision::Keep)
        );
        let boxed: Box<dyn RestartPolicy> = Box::new(AnyOf(policies));
        assert_eq!(boxed.decide(&fresh), Decision::Keep);
    }
}
