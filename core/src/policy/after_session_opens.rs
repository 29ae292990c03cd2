use super::{Decision, GenerationFacts, RestartPolicy, RestartReason};

/// Cycles after a generation has served `n` session opens (the expensive,
/// import-like requests that tend to leave memory behind). Stable name:
/// `"after_session_opens"`. `n = 0` cycles before every request.
///
/// ```
/// use bulkhead::policy::{AfterSessionOpens, Decision, GenerationFacts, RestartPolicy};
///
/// let mut facts = GenerationFacts::new(1);
/// facts.session_opens = 5;
/// assert!(matches!(AfterSessionOpens::new(5).decide(&facts), Decision::Cycle(_)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterSessionOpens {
    session_opens: u64,
}

impl AfterSessionOpens {
    /// Cycles once `session_opens` session opens have been served.
    pub fn new(session_opens: u64) -> Self {
        Self { session_opens }
    }

    /// The threshold.
    pub fn session_opens(&self) -> u64 {
        self.session_opens
    }
}

impl RestartPolicy for AfterSessionOpens {
    fn decide(&self, facts: &GenerationFacts) -> Decision {
        if facts.session_opens >= self.session_opens {
            Decision::Cycle(RestartReason::Policy("after_session_opens"))
        } else {
            Decision::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(session_opens: u64) -> GenerationFacts {
        GenerationFacts {
            session_opens,
            requests: 1_000,
            ..GenerationFacts::new(1)
        }
    }

    #[test]
    fn cycles_exactly_at_the_threshold_and_ignores_other_requests() {
        let policy = AfterSessionOpens::new(2);
        assert_eq!(policy.decide(&facts(1)), Decision::Keep);
        let cycle = Decision::Cycle(RestartReason::Policy("after_session_opens"));
        assert_eq!(policy.decide(&facts(2)), cycle);
        assert_eq!(policy.decide(&facts(3)), cycle);
    }
}
