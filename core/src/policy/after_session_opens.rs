use super::{Decision, GenerationFacts, RestartPolicy, RestartReason};

/// Lets a generation serve at most `n` session opens (the expensive,
/// import-like requests that tend to leave memory behind; see
/// [`Request::opens_session`](crate::worker::Request::opens_session)).
/// Stable name: `"after_session_opens"`.
///
/// It cycles only before a request that opens a session
/// ([`GenerationFacts::opening_session`]), once the generation has already
/// served `n` of them: the child is replaced before the `n + 1`-th open, not
/// after the `n`-th, so ordinary requests keep running in the warm session
/// meanwhile. Decisions not made before a session open (ordinary requests,
/// or no particular request) keep. `n = 0` cycles before every session
/// open, so each session gets a fresh child.
///
/// ```
/// use bulkhead::policy::{AfterSessionOpens, Decision, GenerationFacts, RestartPolicy};
///
/// let policy = AfterSessionOpens::new(5);
/// let mut facts = GenerationFacts::new(1);
/// facts.session_opens = 5;
/// // Ordinary requests keep using the warm session...
/// assert_eq!(policy.decide(&facts), Decision::Keep);
/// // ...but a sixth session open gets a fresh child.
/// facts.opening_session = true;
/// assert!(matches!(policy.decide(&facts), Decision::Cycle(_)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterSessionOpens {
    session_opens: u64,
}

impl AfterSessionOpens {
    /// Cycles before a session open once `session_opens` session opens have
    /// been served.
    pub fn new(session_opens: u64) -> Self {
        Self { session_opens }
    }

    /// The threshold: the most session opens one generation serves.
    pub fn session_opens(&self) -> u64 {
        self.session_opens
    }
}

impl RestartPolicy for AfterSessionOpens {
    fn reads_rss(&self) -> bool {
        false
    }

    fn decide(&self, facts: &GenerationFacts) -> Decision {
        if facts.opening_session && facts.session_opens >= self.session_opens {
            Decision::Cycle(RestartReason::Policy("after_session_opens"))
        } else {
            Decision::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(session_opens: u64, opening_session: bool) -> GenerationFacts {
        GenerationFacts {
            session_opens,
            opening_session,
            requests: 1_000,
            ..GenerationFacts::new(1)
        }
    }

    fn cycle() -> Decision {
        Decision::Cycle(RestartReason::Policy("after_session_opens"))
    }

    #[test]
    fn cycles_at_the_threshold_only_before_a_session_open() {
        let policy = AfterSessionOpens::new(2);
        assert_eq!(policy.decide(&facts(0, true)), Decision::Keep);
        assert_eq!(policy.decide(&facts(1, true)), Decision::Keep);
        assert_eq!(policy.decide(&facts(2, true)), cycle());
        assert_eq!(policy.decide(&facts(3, true)), cycle());
    }

    #[test]
    fn keeps_serving_ordinary_requests_after_n_opens() {
        let policy = AfterSessionOpens::new(2);
        for opens in [0, 1, 2, 3, u64::MAX] {
            assert_eq!(policy.decide(&facts(opens, false)), Decision::Keep);
        }
    }

    #[test]
    fn zero_cycles_before_every_open_but_not_before_ordinary_requests() {
        let policy = AfterSessionOpens::new(0);
        for opens in [0, 1, 5] {
            assert_eq!(policy.decide(&facts(opens, true)), cycle());
            assert_eq!(policy.decide(&facts(opens, false)), Decision::Keep);
        }
        assert_eq!(policy.decide(&GenerationFacts::new(1)), Decision::Keep);
    }
}
