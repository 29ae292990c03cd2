use super::{Decision, GenerationFacts, RestartPolicy, RestartReason};
use crate::rss::Rss;

/// A soft memory ceiling, checked between requests: cycles when the child's
/// resident set size is known to exceed `ceiling` bytes. Stable name:
/// `"rss_ceiling"`.
///
/// A child exactly at the ceiling is kept. What happens when no RSS figure
/// could be taken ([`Rss::Unavailable`]) is an explicit choice, see
/// [`on_unavailable`](Self::on_unavailable). Being soft, this never
/// interrupts a request; the hard in-request limit is a separate worker
/// setting (`WorkerBuilder::rss_hard_limit`).
///
/// ```
/// use bulkhead::policy::{Decision, GenerationFacts, RestartPolicy, RssCeiling};
/// use bulkhead::Rss;
///
/// let policy = RssCeiling::new(256 << 20);
/// let mut facts = GenerationFacts::new(1);
/// facts.rss = Rss::Bytes(300 << 20);
/// assert!(matches!(policy.decide(&facts), Decision::Cycle(_)));
/// facts.rss = Rss::Unavailable;
/// assert_eq!(policy.decide(&facts), Decision::Keep);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RssCeiling {
    ceiling: u64,
    on_unavailable: UnavailablePolicy,
}

/// What [`RssCeiling`] does when the RSS sample is [`Rss::Unavailable`].
///
/// Neither choice pretends the child is under budget; they differ in what
/// they give up. `Keep` gives up the ceiling, `Cycle` gives up throughput.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnavailablePolicy {
    /// Keep the child: with no figure the ceiling cannot be enforced. The
    /// default, because on a platform or sandbox that never yields RSS,
    /// `Cycle` would replace the child before every request, a restart
    /// storm that buys nothing since the next child is just as unmeasurable.
    /// Pair the ceiling with a bound that needs no measurement, such as
    /// [`AfterRequests`](super::AfterRequests) (as
    /// [`memory_bounded`](super::memory_bounded) does).
    #[default]
    Keep,
    /// Cycle the child, with the stable name `"rss_unavailable"` so these
    /// cycles are counted apart from real overruns. For deployments where
    /// sampling is expected to work and an unmeasurable child is not to be
    /// trusted; costs at most one replacement per request.
    Cycle,
}

impl RssCeiling {
    /// Cycles when RSS exceeds `ceiling` bytes.
    pub fn new(ceiling: u64) -> Self {
        Self {
            ceiling,
            on_unavailable: UnavailablePolicy::default(),
        }
    }

    /// What to do when RSS is unavailable. Default: [`UnavailablePolicy::Keep`].
    pub fn on_unavailable(mut self, policy: UnavailablePolicy) -> Self {
        self.on_unavailable = policy;
        self
    }

    /// The ceiling, in bytes.
    pub fn ceiling(&self) -> u64 {
        self.ceiling
    }

    /// What this policy does when RSS is unavailable.
    pub fn unavailable_policy(&self) -> UnavailablePolicy {
        self.on_unavailable
    }
}

impl RestartPolicy for RssCeiling {
    fn decide(&self, facts: &GenerationFacts) -> Decision {
        match (facts.rss, self.on_unavailable) {
            (Rss::Bytes(rss), _) if rss > self.ceiling => {
                Decision::Cycle(RestartReason::RssCeiling {
                    rss,
                    ceiling: self.ceiling,
                })
            }
            (Rss::Unavailable, UnavailablePolicy::Cycle) => {
                Decision::Cycle(RestartReason::RssUnavailable)
            }
            _ => Decision::Keep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(rss: Rss) -> GenerationFacts {
        GenerationFacts {
            rss,
            startup_rss: Rss::Bytes(0),
            ..GenerationFacts::new(1)
        }
    }

    #[test]
    fn cycles_only_above_the_ceiling() {
        let policy = RssCeiling::new(1_000);
        assert_eq!(policy.decide(&facts(Rss::Bytes(999))), Decision::Keep);
        assert_eq!(policy.decide(&facts(Rss::Bytes(1_000))), Decision::Keep);
        assert_eq!(
            policy.decide(&facts(Rss::Bytes(1_001))),
            Decision::Cycle(RestartReason::RssCeiling {
                rss: 1_001,
                ceiling: 1_000
            })
        );
    }

    #[test]
    fn unavailable_keeps_by_default() {
        let policy = RssCeiling::new(0);
        assert_eq!(policy.unavailable_policy(), UnavailablePolicy::Keep);
        assert_eq!(policy.decide(&facts(Rss::Unavailable)), Decision::Keep);
    }

    #[test]
    fn unavailable_cycles_under_its_own_name_when_asked() {
        let policy = RssCeiling::new(u64::MAX).on_unavailable(UnavailablePolicy::Cycle);
        assert_eq!(
            policy.decide(&facts(Rss::Unavailable)),
            Decision::Cycle(RestartReason::RssUnavailable)
        );
        assert_eq!(policy.decide(&facts(Rss::Bytes(u64::MAX))), Decision::Keep);
        assert_eq!(policy.ceiling(), u64::MAX);
    }
}
