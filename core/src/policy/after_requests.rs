use super::jitter;
use super::{Decision, GenerationFacts, RestartPolicy, RestartReason};

/// Cycles after a generation has served a number of requests, optionally
/// jittered so a pool's workers do not all cycle at once. Stable name:
/// `"after_requests"`.
///
/// Generation `g` cycles once it has served [`threshold(g)`](Self::threshold)
/// requests: `n` plus an offset in `0..=jitter` derived from `g` and the
/// instance's seed. The decision stays a pure function of the facts: the same
/// instance (or a clone, which keeps the seed) decides the same way for the
/// same facts. `n = 0` cycles before every request.
///
/// ```
/// use bulkhead::policy::{AfterRequests, Decision, GenerationFacts, RestartPolicy};
///
/// let policy = AfterRequests::new(1_000).with_jitter(100);
/// let mut facts = GenerationFacts::new(3);
/// facts.requests = policy.threshold(3);
/// assert!((1_000..=1_100).contains(&facts.requests));
/// assert!(matches!(policy.decide(&facts), Decision::Cycle(_)));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AfterRequests {
    requests: u64,
    jitter: u64,
    seed: u64,
}

impl AfterRequests {
    /// Cycles after `requests` requests, with no jitter and a random seed.
    pub fn new(requests: u64) -> Self {
        Self {
            requests,
            jitter: 0,
            seed: jitter::random_seed(),
        }
    }

    /// Adds up to `jitter` requests to each generation's threshold.
    /// Default: 0, every generation cycles after exactly `n`.
    pub fn with_jitter(mut self, jitter: u64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Fixes the seed the offsets are derived from, for reproducible
    /// thresholds. Default: random, chosen by [`new`](Self::new) from
    /// [`RandomState`](std::collections::hash_map::RandomState). Workers sharing one instance (or clones of it) share
    /// their thresholds; give each its own instance or seed to spread them.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The base threshold `n`.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The largest offset added to `n`.
    pub fn jitter(&self) -> u64 {
        self.jitter
    }

    /// Requests after which generation `generation` cycles.
    pub fn threshold(&self, generation: u64) -> u64 {
        let offset = jitter::offset(self.seed, generation, self.jitter);
        self.requests.saturating_add(offset)
    }
}

impl RestartPolicy for AfterRequests {
    fn reads_rss(&self) -> bool {
        false
    }

    fn decide(&self, facts: &GenerationFacts) -> Decision {
        if facts.requests >= self.threshold(facts.generation) {
            Decision::Cycle(RestartReason::Policy("after_requests"))
        } else {
            Decision::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn facts(generation: u64, requests: u64) -> GenerationFacts {
        GenerationFacts {
            requests,
            ..GenerationFacts::new(generation)
        }
    }

    fn thresholds(policy: AfterRequests) -> Vec<u64> {
        (1..=200).map(|g| policy.threshold(g)).collect()
    }

    #[test]
    fn cycles_exactly_at_the_threshold() {
        let policy = AfterRequests::new(3);
        assert_eq!(policy.decide(&facts(1, 2)), Decision::Keep);
        let cycle = Decision::Cycle(RestartReason::Policy("after_requests"));
        assert_eq!(policy.decide(&facts(1, 3)), cycle);
        assert_eq!(policy.decide(&facts(1, 4)), cycle);
    }

    #[test]
    fn jittered_thresholds_are_the_boundary_of_each_generation() {
        let policy = AfterRequests::new(10).with_jitter(5).with_seed(42);
        for g in 1..=50 {
            let t = policy.threshold(g);
            assert_eq!(policy.decide(&facts(g, t - 1)), Decision::Keep);
            assert!(matches!(policy.decide(&facts(g, t)), Decision::Cycle(_)));
        }
    }

    #[test]
    fn jitter_spreads_thresholds_across_generations_within_bounds() {
        let seen: BTreeSet<u64> = thresholds(AfterRequests::new(100).with_jitter(10).with_seed(7))
            .into_iter()
            .collect();
        assert!(seen.iter().all(|t| (100..=110).contains(t)), "{seen:?}");
        assert!(seen.len() >= 8, "poorly spread: {seen:?}");
    }

    #[test]
    fn a_seed_makes_thresholds_reproducible() {
        let policy = AfterRequests::new(100).with_jitter(10);
        assert_eq!(
            thresholds(policy.with_seed(1)),
            thresholds(policy.with_seed(1))
        );
        assert_ne!(
            thresholds(policy.with_seed(1)),
            thresholds(policy.with_seed(2))
        );
        let copy = policy;
        assert_eq!(thresholds(policy), thresholds(copy));
    }

    #[test]
    fn new_instances_draw_different_seeds() {
        let a = AfterRequests::new(100).with_jitter(10);
        let b = AfterRequests::new(100).with_jitter(10);
        assert_ne!(thresholds(a), thresholds(b));
    }

    #[test]
    fn zero_jitter_means_no_jitter() {
        assert!(
            thresholds(AfterRequests::new(100).with_seed(9))
                .iter()
                .all(|&t| t == 100)
        );
    }

    #[test]
    fn thresholds_saturate_instead_of_overflowing() {
        let policy = AfterRequests::new(u64::MAX).with_jitter(u64::MAX);
        assert_eq!(policy.threshold(1), u64::MAX);
    }
}
