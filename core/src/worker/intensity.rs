//! Restart arithmetic, apart from spawning: the sliding-window limit on
//! unplanned replacements, the streak of children that fail at start, and
//! the back-off once either guard trips.
//!
//! Two kinds of failure are told apart. A *start-up failure* is a child that
//! never took a request: the spawn, the transport or the handshake failed,
//! or it exited before its first request. Only these feed the crash-loop
//! streak. A *request death* is a child that ended during a request, often
//! because of its input; it counts against the restart window like any
//! unplanned replacement, never as a crash loop.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::policy::jitter;

use super::Backoff;

/// Counts replacements, start-up failures and back-offs; decides nothing
/// else.
#[derive(Debug, Clone)]
pub(crate) struct Intensity {
    limit: u32,
    window: Duration,
    replacements: VecDeque<Instant>,
    streak_limit: u32,
    streak: u32,
    backoff: Backoff,
    /// Back-offs in a row since a child last finished a request.
    trips: u32,
    /// State of the jitter's random sequence.
    random: u64,
}

impl Intensity {
    pub(crate) fn new(limit: u32, window: Duration, streak_limit: u32, backoff: Backoff) -> Self {
        Self {
            limit,
            window,
            replacements: VecDeque::new(),
            streak_limit,
            streak: 0,
            backoff,
            trips: 0,
            random: jitter::random_seed(),
        }
    }

    /// Whether an unplanned replacement may start at `now` within the
    /// sliding window.
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        while let Some(oldest) = self.replacements.front() {
            if now.duration_since(*oldest) >= self.window {
                self.replacements.pop_front();
            } else {
                break;
            }
        }
        self.replacements.len() < self.limit as usize
    }

    /// Records an unplanned replacement started at `now`.
    pub(crate) fn replaced(&mut self, now: Instant) {
        self.replacements.push_back(now);
    }

    /// Records a start-up failure. Returns the streak length once it
    /// reaches the limit (the crash-loop guard trips).
    pub(crate) fn start_failed(&mut self) -> Option<u32> {
        self.streak += 1;
        (self.streak >= self.streak_limit).then_some(self.streak)
    }

    /// A child took a request: whatever happens to it now is not a
    /// start-up failure, and the streak is over.
    pub(crate) fn took_request(&mut self) {
        self.streak = 0;
    }

    /// A child finished a request and lives: back-offs start over from the
    /// first.
    pub(crate) fn served(&mut self) {
        self.trips = 0;
    }

    /// A guard tripped at `now`: the instant until which no child may start.
    pub(crate) fn trip(&mut self, now: Instant) -> Instant {
        self.trips = self.trips.saturating_add(1);
        self.random = self.random.wrapping_add(1);
        // 53 random bits as a fraction in 0.0..1.0.
        let unit = (jitter::mix(self.random) >> 11) as f64 / (1u64 << 53) as f64;
        now + self.backoff.delay(self.trips, unit)
    }

    /// Forgets the streak and the back-offs, for an explicit retry.
    pub(crate) fn reset(&mut self) {
        self.streak = 0;
        self.trips = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intensity(limit: u32, streak_limit: u32) -> Intensity {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).jitter(0.0);
        Intensity::new(limit, Duration::from_secs(60), streak_limit, backoff)
    }

    #[test]
    fn the_window_refuses_past_the_limit_and_reopens() {
        let start = Instant::now();
        let mut intensity = intensity(3, 3);
        for second in 0..3 {
            let now = start + Duration::from_secs(second);
            assert!(intensity.admit(now));
            intensity.replaced(now);
        }
        assert!(!intensity.admit(start + Duration::from_secs(10)));
        assert!(intensity.admit(start + Duration::from_secs(60)));
    }

    #[test]
    fn the_streak_trips_at_its_limit_and_ends_when_a_child_takes_a_request() {
        let mut intensity = intensity(16, 3);
        assert_eq!(intensity.start_failed(), None);
        assert_eq!(intensity.start_failed(), None);
        intensity.took_request();
        assert_eq!(intensity.start_failed(), None);
        assert_eq!(intensity.start_failed(), None);
        assert_eq!(intensity.start_failed(), Some(3));
        assert_eq!(intensity.start_failed(), Some(4));
    }

    #[test]
    fn back_offs_grow_until_a_child_serves() {
        let now = Instant::now();
        let mut intensity = intensity(16, 3);
        let waits: Vec<_> = (0..5)
            .map(|_| intensity.trip(now).duration_since(now).as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000]);
        intensity.served();
        assert_eq!(intensity.trip(now).duration_since(now).as_millis(), 100);
        intensity.trip(now);
        intensity.reset();
        assert_eq!(intensity.trip(now).duration_since(now).as_millis(), 100);
        assert_eq!(intensity.start_failed(), None);
    }

    #[test]
    fn jittered_back_offs_differ_and_stay_within_bounds() {
        let now = Instant::now();
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let mut intensity = Intensity::new(1, Duration::from_secs(60), 1, backoff);
        let waits: Vec<_> = (0..50).map(|_| intensity.trip(now) - now).collect();
        assert!(
            waits
                .iter()
                .all(|wait| (Duration::from_millis(800)..=Duration::from_secs(1)).contains(wait))
        );
        assert!(waits.windows(2).any(|pair| pair[0] != pair[1]));
    }
}
