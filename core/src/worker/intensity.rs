//! Restart arithmetic, apart from spawning: the sliding-window limit on
//! replacements and the streak of children that fail right after start.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Counts replacements and early failures; decides nothing else.
#[derive(Debug, Clone)]
pub(crate) struct Intensity {
    limit: u32,
    window: Duration,
    replacements: VecDeque<Instant>,
    streak_limit: u32,
    streak: u32,
}

impl Intensity {
    pub(crate) fn new(limit: u32, window: Duration, streak_limit: u32) -> Self {
        Self {
            limit,
            window,
            replacements: VecDeque::new(),
            streak_limit,
            streak: 0,
        }
    }

    /// `Ok` if an unplanned replacement may start at `now`; otherwise how
    /// long until the window allows one.
    pub(crate) fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        while let Some(oldest) = self.replacements.front() {
            if now.duration_since(*oldest) >= self.window {
                self.replacements.pop_front();
            } else {
                break;
            }
        }
        match self.replacements.front() {
            Some(oldest) if self.replacements.len() >= self.limit as usize => {
                Err(self.window.saturating_sub(now.duration_since(*oldest)))
            }
            _ => Ok(()),
        }
    }

    /// Records an unplanned replacement started at `now`.
    pub(crate) fn replaced(&mut self, now: Instant) {
        self.replacements.push_back(now);
    }

    /// Records a child that failed to start, or failed its first request.
    /// Returns the streak length once it reaches the limit.
    pub(crate) fn failed_early(&mut self) -> Option<u32> {
        self.streak += 1;
        (self.streak >= self.streak_limit).then_some(self.streak)
    }

    /// A child served a request: the streak is over.
    pub(crate) fn served(&mut self) {
        self.streak = 0;
    }

    /// Forgets the streak, for an explicit retry.
    pub(crate) fn reset_streak(&mut self) {
        self.streak = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_refuses_past_the_limit_and_reopens() {
        let start = Instant::now();
        let mut intensity = Intensity::new(3, Duration::from_secs(60), 3);
        for second in 0..3 {
            let now = start + Duration::from_secs(second);
            assert!(intensity.admit(now).is_ok());
            intensity.replaced(now);
        }
        let refused = intensity
            .admit(start + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(refused, Duration::from_secs(50));
        assert!(intensity.admit(start + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn the_streak_trips_at_its_limit_and_resets_on_service() {
        let mut intensity = Intensity::new(16, Duration::from_secs(60), 3);
        assert_eq!(intensity.failed_early(), None);
        assert_eq!(intensity.failed_early(), None);
        intensity.served();
        assert_eq!(intensity.failed_early(), None);
        assert_eq!(intensity.failed_early(), None);
        assert_eq!(intensity.failed_early(), Some(3));
    }
}
