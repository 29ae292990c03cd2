//! Replacing, in the background, a worker whose child is gone.
//!
//! A worker comes back from a lease (or a failed grant) without a running
//! child when its request killed the child, the child died, or its start
//! failed. Instead of leaving the replacement to the next acquirer, the pool
//! starts it at once on a task of its own, while the other workers serve.
//! A worker whose guard trips (restart limit, crash loop) backs off; the
//! task sleeps until the back-off ends and tries again. Acquirers never get
//! such a worker: they wait in the queue, or are refused when every worker
//! is backing off and none will serve them in time (see the table).

use std::sync::{Arc, Weak};
use std::time::Instant;

use super::SessionKey;
use super::parked::Parked;
use super::pool::Shared;
use super::slot::BackedOff;

/// Brings the worker of slot `index` back to a running child, then returns
/// it to the pool. Gives up (and empties the slot) when the worker has been
/// failing for the pool's idle retirement time; stops when the pool closes.
/// Holds the pool only while it reports, so that dropping every handle
/// ends the task (and the worker with it).
pub(super) async fn recover<K: SessionKey>(
    pool: Weak<Shared<K>>,
    index: usize,
    mut parked: Box<Parked<K>>,
) {
    let since = Instant::now();
    loop {
        let result = parked.worker.ready(false).await;
        let Some(shared) = pool.upgrade() else {
            return;
        };
        let error = match result {
            Ok(()) => break Shared::give_back(&shared, index, Some(parked)),
            Err(_) if shared.closing.is_cancelled() => {
                break Shared::give_back(&shared, index, Some(parked));
            }
            Err(error) => error,
        };
        let until = parked.worker.backing_off_until();
        tracing::warn!(slot = index, %error, "replacing a pooled worker's child failed");
        let backoff = until.map(|until| BackedOff {
            until,
            crash_loop: parked.worker.crash_looping_until().is_some(),
            error: Arc::new(error),
        });
        Shared::changed(&shared, |table| {
            table.recovering(index, parked.stats(), backoff);
        });
        // Without a back-off, try again at once: the crash-loop guard
        // bounds how often.
        let Some(until) = until else {
            continue;
        };
        if shared
            .config
            .idle_cycle_after
            .is_some_and(|after| since.elapsed() >= after)
        {
            tracing::warn!(slot = index, "giving up on a worker that keeps failing");
            break Shared::retired(&shared, index, parked.stats());
        }
        let closing = shared.closing.clone();
        drop(shared);
        tokio::select! {
            () = tokio::time::sleep_until(until.into()) => {}
            () = closing.cancelled() => {
                if let Some(shared) = pool.upgrade() {
                    Shared::give_back(&shared, index, Some(parked));
                }
                return;
            }
        }
    }
}
