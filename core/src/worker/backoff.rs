//! How long a worker waits before it tries a fresh child again, once one of
//! its guards (the crash-loop guard or the restart limit) has tripped.

use std::time::Duration;

/// Exponential back-off with jitter, bounded.
///
/// The `n`-th back-off in a row (counted from 1, reset whenever a child
/// finishes a request) lasts `initial × 2^(n-1)`, at most `max`, shortened
/// by a random fraction of at most `jitter` so that workers tripped together
/// do not all come back at the same instant.
///
/// ```
/// use std::time::Duration;
/// use bulkhead::worker::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30)).jitter(0.0);
/// assert_eq!(backoff.delay(1, 0.5), Duration::from_millis(100));
/// assert_eq!(backoff.delay(4, 0.5), Duration::from_millis(800));
/// assert_eq!(backoff.delay(40, 0.5), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: f64,
}

impl Default for Backoff {
    /// 100 ms first, doubling up to 30 s, up to 20 % shorter at random.
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(30))
    }
}

impl Backoff {
    /// Back-off starting at `initial`, doubling up to `max`, with the
    /// default jitter of 20 %.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            jitter: 0.2,
        }
    }

    /// Shortens each back-off by a random fraction of at most `fraction`
    /// (clamped to `0.0..=1.0`). Default: 0.2.
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// The first back-off.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The longest back-off.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The `n`-th back-off in a row (from 1), for a uniform random `unit` in
    /// `0.0..1.0`.
    pub fn delay(&self, n: u32, unit: f64) -> Duration {
        let doublings = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
        let grown = self.initial.as_secs_f64() * 2f64.powi(doublings);
        let base = Duration::try_from_secs_f64(grown).map_or(self.max, |base| base.min(self.max));
        base.mul_f64(1.0 - self.jitter * unit.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_bound() {
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(1)).jitter(0.0);
        let delays: Vec<_> = (1..=9).map(|n| backoff.delay(n, 0.9).as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(backoff.delay(0, 0.0), Duration::from_millis(10));
        assert_eq!(backoff.delay(u32::MAX, 0.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_only_shortens_and_stays_within_its_fraction() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(10)).jitter(0.25);
        assert_eq!(backoff.delay(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff.delay(1, 1.0), Duration::from_millis(750));
        assert_eq!(backoff.delay(2, 0.5), Duration::from_millis(1750));
    }

    #[test]
    fn jitter_is_clamped() {
        let backoff = Backoff::default().jitter(7.0);
        assert_eq!(backoff.delay(1, 1.0), Duration::ZERO);
        let backoff = Backoff::default().jitter(f64::NAN);
        assert_eq!(backoff.delay(1, 1.0), Duration::from_millis(100));
    }
}
