//! Handlers in progress, so that the end of serving can wait for them.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Counts the handlers running on the serving threads.
#[derive(Debug, Default)]
pub(crate) struct Running {
    count: Mutex<Count>,
    idle: Condvar,
}

/// Handlers running, and threads waiting for them all to finish.
#[derive(Debug, Default)]
struct Count {
    running: usize,
    waiting: usize,
}

/// One handler in progress; dropping it marks the handler done.
#[derive(Debug)]
pub(crate) struct Busy<'a>(&'a Running);

impl Running {
    /// Marks a handler as started until the returned guard drops.
    pub(crate) fn enter(&self) -> Busy<'_> {
        self.count().running += 1;
        Busy(self)
    }

    /// Waits up to `grace` for every handler to finish. Returns whether
    /// none is running any more.
    pub(crate) fn wait_idle(&self, grace: Duration) -> bool {
        let mut count = self.count();
        count.waiting += 1;
        let (mut count, _timeout) = self
            .idle
            .wait_timeout_while(count, grace, |count| count.running > 0)
            .unwrap_or_else(PoisonError::into_inner);
        count.waiting -= 1;
        count.running == 0
    }

    fn count(&self) -> MutexGuard<'_, Count> {
        self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let mut count = self.0.count();
        count.running = count.running.saturating_sub(1);
        // Waking costs a system call; skip it when no one waits.
        if count.running == 0 && count.waiting > 0 {
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
