//! Running a [`Plan`]: each batch on one lease warm for its key, its items
//! one after another, the batches side by side.

use tokio_util::sync::CancellationToken;

use crate::plan::{Plan, PlannedBatch, WorkItem};
use crate::worker::WorkerError;

use super::batch::{Each, ItemWork, acquire_unless_stopped};
use super::bulk::LeaseWork;
use super::{Batch, BatchTotals, CallError, ItemError, Lease, Pool, SessionKey};

/// What running a plan did: per batch, in plan order, the outcome of each
/// item; and totals over the items.
#[derive(Debug)]
pub struct PlanReport<O> {
    /// One entry per batch of the plan, in plan order.
    pub batches: Vec<BatchOutcome<O>>,
    /// Counts over the items (the pool's counters as in
    /// [`BatchReport`](super::BatchReport)).
    pub totals: BatchTotals,
}

/// What became of one planned batch.
#[derive(Debug)]
pub struct BatchOutcome<O> {
    /// The batch's fingerprint.
    pub fingerprint: String,
    /// Each item's id and outcome, in the batch's order; or why the batch
    /// did not run at all (no lease, cancelled, stopped).
    pub items: Result<Vec<ItemOutcome<O>>, ItemError>,
}

/// One item's id and outcome.
pub type ItemOutcome<O> = (String, Result<O, ItemError>);

impl<K: SessionKey> Pool<K> {
    /// Runs `plan`: each batch on a lease warm for its key (one session
    /// open for the whole batch), its items one after another through
    /// `work`, at most `max_workers` batches at once, costliest first.
    ///
    /// An item whose request ended the child is reported as failed, and
    /// the batch goes on with the next item on a fresh lease. A lease that
    /// went stale before an item's request was sent is traded for a fresh
    /// one and the item run again, once.
    pub async fn run_plan<T, O, F>(&self, plan: Plan<K, T>, work: F) -> PlanReport<O>
    where
        T: Send + Sync,
        O: Send,
        F: for<'a> Fn(&'a mut Lease<K>, &'a WorkItem<K, T>) -> LeaseWork<'a, O> + Sync,
    {
        self.run_plan_with(plan, |batch| batch, work).await
    }

    /// As [`run_plan`](Self::run_plan), with the run over the batches set up
    /// by `configure` (concurrency, cancellation, stopping at the first
    /// failed batch, progress per batch).
    pub async fn run_plan_with<T, O, F>(
        &self,
        plan: Plan<K, T>,
        configure: impl for<'p> FnOnce(
            Batch<'p, K, PlannedBatch<K, T>>,
        ) -> Batch<'p, K, PlannedBatch<K, T>>,
        work: F,
    ) -> PlanReport<O>
    where
        T: Send + Sync,
        O: Send,
        F: for<'a> Fn(&'a mut Lease<K>, &'a WorkItem<K, T>) -> LeaseWork<'a, O> + Sync,
    {
        let batches = plan.into_batches();
        let fingerprints: Vec<String> = batches
            .iter()
            .map(|batch| batch.fingerprint().to_owned())
            .collect();
        let sizes: Vec<usize> = batches.iter().map(|batch| batch.items().len()).collect();
        let items = batches
            .into_iter()
            .map(|batch| (batch.key().clone(), batch));
        let each = Planned { pool: self, work };
        let report = configure(self.batch(items)).run_each(&each).await;
        let mut totals = BatchTotals {
            rows: report.totals.rows,
            warm_hits: report.totals.warm_hits,
            sessions_opened: report.totals.sessions_opened,
            restarts_by_reason: report.totals.restarts_by_reason,
            elapsed: report.totals.elapsed,
            ..BatchTotals::default()
        };
        let batches = report
            .outcomes
            .into_iter()
            .zip(fingerprints)
            .zip(sizes)
            .map(|((items, fingerprint), size)| {
                count(&mut totals, &items, size);
                BatchOutcome { fingerprint, items }
            })
            .collect();
        PlanReport { batches, totals }
    }
}

/// A plan's batches, each on a lease of its own.
struct Planned<'p, K: SessionKey, F> {
    pool: &'p Pool<K>,
    work: F,
}

impl<K, T, O, F> Each<K, PlannedBatch<K, T>, Vec<ItemOutcome<O>>> for Planned<'_, K, F>
where
    K: SessionKey,
    T: Send + Sync,
    O: Send,
    F: for<'a> Fn(&'a mut Lease<K>, &'a WorkItem<K, T>) -> LeaseWork<'a, O> + Sync,
{
    fn run<'a>(
        &'a self,
        key: K,
        batch: &'a PlannedBatch<K, T>,
        stop: &'a CancellationToken,
    ) -> ItemWork<'a, Vec<ItemOutcome<O>>>
    where
        Vec<ItemOutcome<O>>: 'a,
    {
        Box::pin(async move { Ok(self.run_batch(key, batch, stop).await) })
    }
}

impl<K, F> Planned<'_, K, F>
where
    K: SessionKey,
{
    /// The items of one batch, one after another on one lease warm for
    /// `key`, on a fresh lease after an item ended the child. Once the
    /// batch is stopped, the items left are reported as not run.
    async fn run_batch<T, O>(
        &self,
        key: K,
        batch: &PlannedBatch<K, T>,
        stop: &CancellationToken,
    ) -> Vec<ItemOutcome<O>>
    where
        F: for<'a> Fn(&'a mut Lease<K>, &'a WorkItem<K, T>) -> LeaseWork<'a, O>,
    {
        let mut lease: Option<Lease<K>> = None;
        let mut results = Vec::with_capacity(batch.items().len());
        for item in batch.items() {
            let outcome = match self.attempt(&mut lease, &key, item, stop).await {
                // Stale before the request was sent: once more.
                Err(ItemError::Call(CallError::Request(WorkerError::StaleLease { .. }))) => {
                    self.attempt(&mut lease, &key, item, stop).await
                }
                outcome => outcome,
            };
            results.push((item.id.clone(), outcome));
        }
        results
    }

    /// `work` on `item`, on the batch's lease; a missing or stale lease is
    /// first given back and a fresh one taken.
    async fn attempt<T, O>(
        &self,
        lease: &mut Option<Lease<K>>,
        key: &K,
        item: &WorkItem<K, T>,
        stop: &CancellationToken,
    ) -> Result<O, ItemError>
    where
        F: for<'a> Fn(&'a mut Lease<K>, &'a WorkItem<K, T>) -> LeaseWork<'a, O>,
    {
        if stop.is_cancelled() {
            return Err(ItemError::Cancelled);
        }
        let current = match lease.take() {
            Some(current) if !current.is_stale() => current,
            stale => {
                // Given back first: with one worker, it is the one to replace.
                drop(stale);
                let mut fresh = acquire_unless_stopped(self.pool, key.clone(), stop).await?;
                fresh.cancel_with(stop.clone());
                fresh
            }
        };
        let current = lease.insert(current);
        (self.work)(current, item).await.map_err(ItemError::from)
    }
}

/// Adds a batch's items to `totals`: each item's outcome, or, for a batch
/// that did not run, its `size` items as failed or not run.
fn count<O>(
    totals: &mut BatchTotals,
    outcome: &Result<Vec<ItemOutcome<O>>, ItemError>,
    size: usize,
) {
    totals.items += size;
    match outcome {
        Ok(items) => {
            for (_, outcome) in items {
                match outcome {
                    Ok(_) => totals.ok += 1,
                    Err(ItemError::Call(error)) => {
                        *totals.failed.entry(error.kind()).or_default() += 1
                    }
                    Err(ItemError::Cancelled | ItemError::Stopped) => totals.not_run += 1,
                }
            }
        }
        Err(ItemError::Call(error)) => *totals.failed.entry(error.kind()).or_default() += size,
        Err(ItemError::Cancelled | ItemError::Stopped) => totals.not_run += size,
    }
}
