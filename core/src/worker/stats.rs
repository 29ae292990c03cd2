use std::collections::BTreeMap;

use crate::rss::Rss;

/// Counters of one worker across all its generations. Serializes with
/// serde (RSS figures as bytes or `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
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
    /// Times a row sink was not ready for the next row, so that reading
    /// from the child paused (backpressure).
    pub backpressure_waits: u64,
    /// Restarts by the stable name of their reason.
    pub restarts_by_reason: BTreeMap<&'static str, u64>,
    /// Requests that ended their child (a crash, a timeout, a protocol
    /// violation, a limit, a panic), by command name.
    pub request_deaths: BTreeMap<String, u64>,
    /// Children that failed before taking a request: the spawn, the
    /// transport or the handshake failed, or they exited first.
    pub start_failures: u64,
    /// Times a guard (the crash-loop guard or the restart limit) tripped
    /// and the worker backed off.
    pub backoffs: u64,
    /// The child's resident set size at the last sample: at start, before
    /// each request when the restart policy reads RSS
    /// ([`RestartPolicy::reads_rss`](crate::policy::RestartPolicy::reads_rss)),
    /// during requests under a hard limit, and on
    /// [`Worker::sample_rss`](crate::Worker::sample_rss).
    pub rss: Rss,
    /// The largest resident set size sampled in any generation.
    pub peak_rss: Rss,
}

impl WorkerStats {
    /// Requests that ended, in any outcome.
    pub fn requests(&self) -> u64 {
        self.requests_ok + self.requests_failed
    }
}

impl WorkerStats {
    /// Adds `other`'s counters to these (the RSS figures and generation
    /// are left alone).
    pub(crate) fn add(&mut self, other: &WorkerStats) {
        self.requests_ok += other.requests_ok;
        self.requests_failed += other.requests_failed;
        self.rows += other.rows;
        self.bytes_received += other.bytes_received;
        self.bytes_sent += other.bytes_sent;
        self.backpressure_waits += other.backpressure_waits;
        self.restarts += other.restarts;
        self.start_failures += other.start_failures;
        self.backoffs += other.backoffs;
        for (reason, count) in &other.restarts_by_reason {
            *self.restarts_by_reason.entry(reason).or_default() += count;
        }
        for (command, count) in &other.request_deaths {
            *self.request_deaths.entry(command.clone()).or_default() += count;
        }
    }

    /// Records a sample in `rss` and `peak_rss`.
    pub(crate) fn record_rss(&mut self, rss: Rss) {
        self.rss = rss;
        if let Rss::Bytes(bytes) = rss
            && self.peak_rss.bytes().is_none_or(|peak| bytes > peak)
        {
            self.peak_rss = rss;
        }
    }
}
