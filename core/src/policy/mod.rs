//! Restart policies decide, between requests, whether to replace the child.
//!
//! A policy is a pure function from [`GenerationFacts`] to a [`Decision`];
//! the worker carries the decision out and counts each cycle under the
//! policy's stable name ([`RestartReason::Policy`]). Policies are therefore
//! tested on facts alone, without processes.
//!
//! Built in: [`Never`] (the default), [`AfterRequests`] (with jitter),
//! [`AfterSessionOpens`] (at most `n` session opens per child, checked
//! before each open), [`AfterIdle`], [`AfterAge`] and [`RssCeiling`].
//! Combine them with [`any`]/[`all`] (or [`RestartPolicyExt::or`]/
//! [`and`](RestartPolicyExt::and)), or [`AnyOf`]/[`AllOf`] for lists built
//! at run time. [`memory_bounded`] is the usual preset for memory-hungry
//! children.
//!
//! ```
//! use std::time::Duration;
//! use bulkhead::policy::{AfterIdle, RestartPolicyExt, memory_bounded};
//!
//! let policy = memory_bounded(1 << 30, 500).or(AfterIdle::new(Duration::from_secs(900)));
//! # let _ = policy;
//! ```
//!
//! # Writing a policy
//!
//! Implement [`RestartPolicy`] on any `Debug + Send + Sync` type. This one
//! cycles a child whose memory has more than doubled since startup:
//!
//! ```
//! use bulkhead::policy::{Decision, GenerationFacts, RestartPolicy, RestartReason};
//! use bulkhead::Rss;
//!
//! #[derive(Debug, Clone)]
//! struct RssDoubled;
//!
//! impl RestartPolicy for RssDoubled {
//!     fn decide(&self, facts: &GenerationFacts) -> Decision {
//!         match (facts.startup_rss, facts.rss) {
//!             (Rss::Bytes(start), now) if now.exceeds(start.saturating_mul(2)) => {
//!                 Decision::Cycle(RestartReason::Policy("rss_doubled"))
//!             }
//!             _ => Decision::Keep,
//!         }
//!     }
//! }
//!
//! let mut facts = GenerationFacts::new(1);
//! facts.startup_rss = Rss::Bytes(100 << 20);
//! facts.rss = Rss::Bytes(250 << 20);
//! assert_eq!(RssDoubled.decide(&facts), Decision::Cycle(RestartReason::Policy("rss_doubled")));
//! ```

mod after_age;
mod after_idle;
mod after_requests;
mod after_session_opens;
mod all;
mod any;
mod ext;
mod factory;
mod facts;
pub(crate) mod jitter;
mod memory_bounded;
mod never;
mod reason;
mod restart_policy;
mod rss_ceiling;

pub use after_age::AfterAge;
pub use after_idle::AfterIdle;
pub use after_requests::AfterRequests;
pub use after_session_opens::AfterSessionOpens;
pub use all::{All, AllOf, all};
pub use any::{Any, AnyOf, any};
pub use ext::RestartPolicyExt;
pub use factory::PolicyFactory;
pub use facts::{Decision, GenerationFacts};
pub use memory_bounded::memory_bounded;
pub use never::Never;
pub use reason::RestartReason;
pub use restart_policy::RestartPolicy;
pub use rss_ceiling::{RssCeiling, UnavailablePolicy};
