use std::fmt;
use std::sync::Arc;

use super::RestartPolicy;

/// Makes the restart policy of each worker, so that workers of a pool do
/// not share a policy's state.
///
/// [`WorkerBuilder::policy`](crate::WorkerBuilder::policy) gives each
/// worker a clone of one policy; [`WorkerBuilder::policy_with`] calls a
/// function per worker, for policies whose state or jitter seed should be
/// fresh for each. To share one instance on purpose, pass an `Arc` of it:
/// an `Arc<P>` is a policy, and its clones are the same instance.
///
/// ```
/// use bulkhead::policy::{AfterRequests, PolicyFactory};
///
/// // A fresh random jitter seed for every worker.
/// let factory = PolicyFactory::new(|| AfterRequests::new(500).with_jitter(50));
/// let (a, b) = (factory.make(), factory.make());
/// # let _ = (a, b);
/// ```
///
/// [`WorkerBuilder::policy_with`]: crate::WorkerBuilder::policy_with
#[derive(Clone)]
pub struct PolicyFactory(Arc<dyn Fn() -> Arc<dyn RestartPolicy> + Send + Sync>);

impl PolicyFactory {
    /// Calls `make` for each worker.
    pub fn new<P: RestartPolicy>(make: impl Fn() -> P + Send + Sync + 'static) -> Self {
        Self(Arc::new(move || Arc::new(make()) as Arc<dyn RestartPolicy>))
    }

    /// Gives each worker a clone of `policy`.
    pub fn cloning<P: RestartPolicy + Clone>(policy: P) -> Self {
        Self::new(move || policy.clone())
    }

    /// The policy for one more worker.
    pub fn make(&self) -> Arc<dyn RestartPolicy> {
        (self.0)()
    }
}

impl fmt::Debug for PolicyFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PolicyFactory").field(&self.make()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::policy::{Decision, GenerationFacts, RestartReason};

    /// Cycles every other decision: state of its own.
    #[derive(Debug, Default)]
    struct Alternating(AtomicU64);

    impl RestartPolicy for Alternating {
        fn decide(&self, _facts: &GenerationFacts) -> Decision {
            if self.0.fetch_add(1, Ordering::Relaxed) % 2 == 1 {
                Decision::Cycle(RestartReason::Policy("alternating"))
            } else {
                Decision::Keep
            }
        }
    }

    #[test]
    fn each_worker_gets_its_own_state() {
        let factory = PolicyFactory::new(Alternating::default);
        let (a, b) = (factory.make(), factory.make());
        let facts = GenerationFacts::new(1);
        assert_eq!(a.decide(&facts), Decision::Keep);
        assert_eq!(b.decide(&facts), Decision::Keep);
        assert!(matches!(a.decide(&facts), Decision::Cycle(_)));
    }

    #[test]
    fn an_arc_is_shared_on_purpose() {
        let shared = Arc::new(Alternating::default());
        let factory = PolicyFactory::cloning(Arc::clone(&shared));
        let (a, b) = (factory.make(), factory.make());
        let facts = GenerationFacts::new(1);
        assert_eq!(a.decide(&facts), Decision::Keep);
        assert!(matches!(b.decide(&facts), Decision::Cycle(_)));
    }
}
