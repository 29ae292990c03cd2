use std::collections::BTreeMap;

/// Counters of one worker across all its generations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// The current (or last) generation number; 0 before the first start.
    pub generation: u64,
    /// Requests that ended in terminal success.
    pub requests_ok: u64,
    /// Requests that ended in any other outcome.
    pub requests_failed: u64,
    /// Rows delivered to sinks.
    pub rows: u64,
    /// Frame bytes received from children, length prefixes included.
    pub bytes_received: u64,
    /// Frame bytes sent to children, length prefixes included.
    pub bytes_sent: u64,
    /// Children started after the first.
    pub restarts: u64,
    /// Restarts by the stable name of their reason.
    pub restarts_by_reason: BTreeMap<&'static str, u64>,
}

impl WorkerStats {
    /// Requests that ended, in any outcome.
    pub fn requests(&self) -> u64 {
        self.requests_ok + self.requests_failed
    }
}
