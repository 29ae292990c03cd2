use super::{Decision, GenerationFacts, RestartPolicy};

/// Never cycles. The worker's default policy.
///
/// ```
/// use bulkhead::policy::{Decision, GenerationFacts, Never, RestartPolicy};
///
/// assert_eq!(Never.decide(&GenerationFacts::new(1)), Decision::Keep);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Never;

impl RestartPolicy for Never {
    fn reads_rss(&self) -> bool {
        false
    }

    fn decide(&self, _facts: &GenerationFacts) -> Decision {
        Decision::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_keeps_even_an_old_busy_child() {
        let facts = GenerationFacts {
            requests: u64::MAX,
            session_opens: u64::MAX,
            opening_session: true,
            age: std::time::Duration::MAX,
            ..GenerationFacts::new(7)
        };
        assert_eq!(Never.decide(&facts), Decision::Keep);
    }
}
