//! A plan run through the nodes: each batch's items one after another on
//! a node warm for its key, the batches side by side.

use bulkhead::command::UnaryCommand;
use bulkhead::plan::{Plan, WorkItem};
use bulkhead::pool::SessionKey;
use futures_util::StreamExt;

use super::RemotePool;
use crate::error::RemoteError;

/// What a plan run through the nodes did: one entry per batch, in the
/// plan's order.
#[derive(Debug)]
pub struct RemotePlanReport<O> {
    /// Each batch's outcomes.
    pub batches: Vec<RemoteBatchOutcome<O>>,
}

/// The outcomes of one planned batch.
#[derive(Debug)]
pub struct RemoteBatchOutcome<O> {
    /// The batch's fingerprint (see [`PlannedBatch::fingerprint`]).
    ///
    /// [`PlannedBatch::fingerprint`]: bulkhead::plan::PlannedBatch::fingerprint
    pub fingerprint: String,
    /// Each item's id and outcome, in the batch's order.
    pub items: Vec<(String, Result<O, RemoteError>)>,
}

impl<O> RemotePlanReport<O> {
    /// Items that succeeded and items that failed.
    pub fn counts(&self) -> (usize, usize) {
        let outcomes = self.batches.iter().flat_map(|batch| &batch.items);
        outcomes.fold((0, 0), |(ok, failed), (_, outcome)| match outcome {
            Ok(_) => (ok + 1, failed),
            Err(_) => (ok, failed + 1),
        })
    }
}

impl<K: SessionKey> RemotePool<K> {
    /// Runs a [`Plan`] through the nodes: at most `plan.workers()` batches
    /// at once, each batch's items one after another with its key, so
    /// that they go to the node its first item warmed. `command` makes
    /// each item's command. A failed item does not stop its batch.
    ///
    /// This is the remote form of [`Pool::run_plan`]; the work of an item
    /// is one unary command rather than code on a lease, which cannot
    /// cross the network.
    ///
    /// [`Pool::run_plan`]: bulkhead::Pool::run_plan
    pub async fn run_plan<T, C, F>(
        &self,
        plan: Plan<K, T>,
        command: F,
    ) -> RemotePlanReport<C::Output>
    where
        C: UnaryCommand,
        F: Fn(&WorkItem<K, T>) -> C,
    {
        let workers = plan.workers().max(1);
        let command = &command;
        let batches = futures_util::stream::iter(plan.into_batches())
            .map(|batch| async move {
                let mut items = Vec::with_capacity(batch.items().len());
                for item in batch.items() {
                    let outcome = self.call(batch.key().clone(), &command(item)).await;
                    items.push((item.id.clone(), outcome));
                }
                RemoteBatchOutcome {
                    fingerprint: batch.fingerprint().to_owned(),
                    items,
                }
            })
            .buffered(workers)
            .collect()
            .await;
        RemotePlanReport { batches }
    }
}
