//! Counters, histograms and gauges through the `metrics` facade, with the
//! `metrics` feature; nothing at all without it. Names and labels are
//! listed in `docs/observability.md`.

use std::time::Duration;

/// When a request began, read only with the feature.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    #[cfg(feature = "metrics")]
    began: std::time::Instant,
}

impl Clock {
    #[inline]
    pub(crate) fn start() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            began: std::time::Instant::now(),
        }
    }
}

/// A request ended: `outcome` is `"ok"` or the error's kind.
#[inline]
pub(crate) fn request(command: &str, outcome: &'static str, began: Clock) {
    #[cfg(feature = "metrics")]
    {
        let elapsed = began.began.elapsed();
        let command = command.to_owned();
        metrics::counter!("bulkhead_requests_total", "command" => command.clone(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!("bulkhead_request_seconds", "command" => command)
            .record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (command, outcome, began);
}

/// Rows delivered and frame bytes received by one request.
#[inline]
pub(crate) fn traffic(rows: u64, bytes: u64) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("bulkhead_rows_total").increment(rows);
        metrics::counter!("bulkhead_bytes_received_total").increment(bytes);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (rows, bytes);
}

/// A child was replaced for `reason`.
pub(crate) fn restart(reason: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("bulkhead_restarts_total", "reason" => reason).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}

/// A child started: spawn plus handshake took `elapsed`; `ok` says whether
/// it succeeded.
pub(crate) fn spawn(elapsed: Duration, ok: bool) {
    #[cfg(feature = "metrics")]
    {
        let outcome = if ok { "ok" } else { "failed" };
        metrics::histogram!("bulkhead_spawn_seconds", "outcome" => outcome)
            .record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (elapsed, ok);
}

/// An acquirer waited `elapsed` for a slot; `outcome` is `"granted"` or the
/// pool error's kind.
pub(crate) fn queue_wait(elapsed: Duration, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::histogram!("bulkhead_queue_wait_seconds", "outcome" => outcome)
        .record(elapsed.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = (elapsed, outcome);
}

/// The pool's workers by state, and their children's total RSS.
#[cfg(feature = "metrics")]
pub(crate) fn workers<K: PartialEq>(snapshot: &crate::PoolSnapshot<K>) {
    {
        let states = [
            ("idle", snapshot.idle),
            ("leased", snapshot.leased),
            ("replacing", snapshot.replacing),
            ("backing_off", snapshot.backing_off),
        ];
        for (state, count) in states {
            metrics::gauge!("bulkhead_workers", "state" => state).set(count as f64);
        }
        metrics::gauge!("bulkhead_queue_depth").set(snapshot.queue_depth as f64);
        if let Some(bytes) = snapshot.rss_total().bytes() {
            metrics::gauge!("bulkhead_rss_bytes").set(bytes as f64);
        }
    }
}
