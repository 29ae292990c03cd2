//! Handlers in progress, so that the end of serving can wait for them.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Counts the handlers running on the serving threads.
#[derive(Debug, Default)]
pub(crate) struct Running {
    count: Mutex<usize>,
    idle: Condvar,
}

/// One handler in progress; dropping it marks the handler done.
#[derive(Debug)]
pub(crate) struct Busy<'a>(&'a Running);

impl Running {
    /// Marks a handler as started until the returned guard drops.
    pub(crate) fn enter(&self) -> Busy<'_> {
        *self.count() += 1;
        Busy(self)
    }

    /// Waits up to `grace` for every handler to finish. Returns whether
    /// none is running any more.
    pub(crate) fn wait_idle(&self, grace: Duration) -> bool {
        let (count, _timeout) = self
            .idle
            .wait_timeout_while(self.count(), grace, |count| *count > 0)
            .unwrap_or_else(PoisonError::into_inner);
        *count == 0
    }

    fn count(&self) -> MutexGuard<'_, usize> {
        self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let mut count = self.0.count();
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.0.idle.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_when_no_handler_runs() {
        let running = Running::default();
        assert!(running.wait_idle(Duration::ZERO));
        let busy = running.enter();
        assert!(!running.wait_idle(Duration::from_millis(1)));
        drop(busy);
        assert!(running.wait_idle(Duration::ZERO));
    }

    #[test]
    fn waiting_ends_when_the_last_handler_finishes() {
        let running = Running::default();
        let busy = running.enter();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| running.wait_idle(Duration::from_secs(30)));
            drop(busy);
            assert!(waiter.join().unwrap());
        });
    }
}
