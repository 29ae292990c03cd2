//! Resident set size of a child, sampled honestly.
//!
//! A sample that cannot be taken is [`Rss::Unavailable`], never zero, and
//! nothing treats it as under budget.
//!
//! [`RssSampler`] takes samples of one process with the cheapest call the
//! platform offers, chosen once at compile time:
//!
//! | platform | source | cost per sample |
//! |---|---|---|
//! | Linux | `/proc/<pid>/statm`, opened once and re-read with `pread` | ~0.5 µs |
//! | Windows | `K32GetProcessMemoryInfo` (`WorkingSetSize`) on a handle opened once | not measured here |
//! | macOS | `proc_pidinfo(PROC_PIDTASKINFO)` (`pti_resident_size`); untested | not measured |
//! | elsewhere | `sysinfo`, refreshing that one process | ~40 µs |
//!
//! ```
//! use bulkhead::rss::{Rss, RssSampler};
//!
//! let mut sampler = RssSampler::new(std::process::id());
//! match sampler.sample() {
//!     Rss::Bytes(bytes) => assert!(bytes > 0),
//!     Rss::Unavailable => {} // a platform or sandbox that gives no figure
//! }
//! ```

use std::fmt;

mod sampler;

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod sys;

#[cfg(windows)]
#[path = "windows.rs"]
mod sys;

#[cfg(target_os = "macos")]
#[path = "macos.rs"]
mod sys;

#[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
#[path = "fallback.rs"]
mod sys;

pub use sampler::RssSampler;

/// One resident-set-size sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rss {
    /// Resident bytes.
    Bytes(u64),
    /// The sample could not be taken (the process is gone, the platform
    /// gives no figure, permission was denied).
    Unavailable,
}

/// Bytes, or `null` when unavailable.
impl serde::Serialize for Rss {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.bytes().serialize(serializer)
    }
}

impl Rss {
    /// The bytes, if the sample was taken.
    pub fn bytes(self) -> Option<u64> {
        match self {
            Rss::Bytes(bytes) => Some(bytes),
            Rss::Unavailable => None,
        }
    }

    /// Whether the sample is known to exceed `limit`. `Unavailable` is not
    /// known to exceed anything.
    pub fn exceeds(self, limit: u64) -> bool {
        self.bytes().is_some_and(|bytes| bytes > limit)
    }

    /// Whether the sample is known to be within `limit`. `Unavailable` is
    /// never known to be within budget.
    pub fn within(self, limit: u64) -> bool {
        self.bytes().is_some_and(|bytes| bytes <= limit)
    }
}

impl Default for Rss {
    /// No sample yet: [`Rss::Unavailable`].
    fn default() -> Self {
        Rss::Unavailable
    }
}

impl fmt::Display for Rss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rss::Bytes(bytes) => write!(f, "{:.1} MiB", *bytes as f64 / (1024.0 * 1024.0)),
            Rss::Unavailable => f.write_str("unavailable"),
        }
    }
}
