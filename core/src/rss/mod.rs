//! Resident set size of a child, sampled honestly.
//!
//! A sample that cannot be taken is [`Rss::Unavailable`], never zero, and
//! nothing treats it as under budget.

use std::fmt;

/// One resident-set-size sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rss {
    /// Resident bytes.
    Bytes(u64),
    /// The sample could not be taken (the process is gone, the platform
    /// gives no figure, permission was denied).
    Unavailable,
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

impl fmt::Display for Rss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rss::Bytes(bytes) => write!(f, "{:.1} MiB", *bytes as f64 / (1024.0 * 1024.0)),
            Rss::Unavailable => f.write_str("unavailable"),
        }
    }
}
