//! Many items through the pool in one call: bounded concurrency, outcomes
//! in input order, totals, cancellation, progress.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::describe::Span;
use crate::worker::WorkerError;

use super::bulk::LeaseWork;
use super::{CallError, Lease, Pool, PoolSnapshot, SessionKey};

/// A batch of items to run through a pool, built by [`Pool::batch`] or
/// [`Pool::batch_stream`] and run by [`run`](Batch::run).
///
/// Each item is a session key and the caller's data. At most
/// [`concurrency`](Batch::concurrency) items run at once (by default the
/// pool's `max_workers`), each on a lease warm for its key. A failed item
/// does not stop the batch unless
/// [`stop_at_first_failure`](Batch::stop_at_first_failure) asks it to.
///
/// ```no_run
/// # async fn demo(pool: bulkhead::Pool<String>) {
/// # #[derive(serde::Serialize, serde::Deserialize, bulkhead::Command)]
/// # #[command(response = String)]
/// # struct Check { module: String }
/// let modules = ["Basic", "Lemmas", "Main"];
/// let items = modules.map(|module| ("imports: Init".to_owned(), module.to_owned()));
/// let report = pool
///     .batch(items)
///     .run(|lease, module| {
///         Box::pin(async move { lease.call(&Check { module: module.clone() }).await })
///     })
///     .await;
/// println!("{}", report.totals);
/// for (module, outcome) in modules.iter().zip(&report.outcomes) {
///     println!("{module}: {}", if outcome.is_ok() { "ok" } else { "failed" });
/// }
/// # }
/// ```
#[must_use = "a batch does nothing until it is run"]
pub struct Batch<'p, K: SessionKey, T> {
    pool: &'p Pool<K>,
    items: Items<'p, K, T>,
    concurrency: usize,
    cancel: CancellationToken,
    stop_at_first_failure: bool,
    progress: Option<OnProgress<'p>>,
    bar: bool,
}

/// The caller's progress callback.
type OnProgress<'p> = Box<dyn FnMut(&BatchProgress) + Send + 'p>;

/// Where a batch's items come from.
enum Items<'p, K, T> {
    /// A collection: items never started are reported as not run.
    Iter(Box<dyn Iterator<Item = (K, T)> + Send + 'p>),
    /// A stream: items never taken from it are not reported.
    Stream(Pin<Box<dyn Stream<Item = (K, T)> + Send + 'p>>),
}

impl<K, T> Items<'_, K, T> {
    async fn next(&mut self) -> Option<(K, T)> {
        match self {
            Items::Iter(items) => items.next(),
            Items::Stream(items) => items.next().await,
        }
    }

    /// How many items there are, if the source says so exactly.
    fn len(&self) -> Option<usize> {
        let (low, high) = match self {
            Items::Iter(items) => items.size_hint(),
            Items::Stream(items) => items.size_hint(),
        };
        (Some(low) == high).then_some(low)
    }
}

/// Why a batch's item has no result of its own.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ItemError {
    /// The item got no lease, or its request failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The item was not run: the batch was cancelled first. (An item
    /// cancelled while it ran ends in its request's
    /// [`WorkerError::Cancelled`].)
    #[error("not run: the batch was cancelled")]
    Cancelled,
    /// The item was not run: an earlier item failed, and the batch stops
    /// at the first failure.
    #[error("not run: the batch stopped at an earlier failure")]
    Stopped,
}

impl From<WorkerError> for ItemError {
    fn from(error: WorkerError) -> Self {
        ItemError::Call(CallError::Request(error))
    }
}

impl ItemError {
    /// Whether the item ran (or tried to get a lease) at all.
    pub fn ran(&self) -> bool {
        matches!(self, ItemError::Call(_))
    }
}

/// How far a batch has got; given to the
/// [`on_progress`](Batch::on_progress) callback after each item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchProgress {
    /// Items finished, in any outcome.
    pub done: usize,
    /// Items that succeeded.
    pub ok: usize,
    /// Items that failed.
    pub failed: usize,
    /// Items in the batch, if the source said so exactly.
    pub total: Option<usize>,
    /// The item that finished last, by its position in the input.
    pub last: usize,
    /// Time since the batch started.
    pub elapsed: Duration,
}

/// What a batch did: one outcome per item, in input order, and totals.
#[derive(Debug)]
pub struct BatchReport<O> {
    /// The outcome of each item, in the order the items came. For a batch
    /// over a collection there is one per item; for one over a stream, one
    /// per item taken from it.
    pub outcomes: Vec<Result<O, ItemError>>,
    /// Counts over the whole batch.
    pub totals: BatchTotals,
}

/// Counts over a batch.
///
/// The pool's counters (`rows`, `warm_hits`, `sessions_opened`,
/// `restarts_by_reason`) are the pool's own, taken before and after the
/// batch: on a pool that serves others at the same time they include their
/// work too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchTotals {
    /// Items with an outcome.
    pub items: usize,
    /// Items that succeeded.
    pub ok: usize,
    /// Items that failed, by the kind of their error
    /// ([`CallError::kind`]).
    pub failed: BTreeMap<&'static str, usize>,
    /// Items not run: the batch was cancelled, or stopped at a failure.
    pub not_run: usize,
    /// Rows delivered.
    pub rows: u64,
    /// Leases served by a worker already warm for their key.
    pub warm_hits: u64,
    /// Sessions opened on children.
    pub sessions_opened: u64,
    /// Children replaced, by reason, by the time the batch ended. A child
    /// that an item's request ended is replaced in the background, so in a
    /// quick batch some replacements come after it.
    pub restarts_by_reason: BTreeMap<&'static str, u64>,
    /// From the start of the batch to its last outcome.
    pub elapsed: Duration,
}

impl BatchTotals {
    /// Items that failed, of any kind.
    pub fn failed_count(&self) -> usize {
        self.failed.values().sum()
    }
}

impl fmt::Display for BatchTotals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} items: {} ok, {} failed",
            self.items,
            self.ok,
            self.failed_count()
        )?;
        write_counts(f, &self.failed)?;
        write!(
            f,
            ", {} not run; {} rows, {} warm hits, {} sessions opened",
            self.not_run, self.rows, self.warm_hits, self.sessions_opened
        )?;
        if !self.restarts_by_reason.is_empty() {
            write!(f, "; restarts")?;
            write_counts(f, &self.restarts_by_reason)?;
        }
        write!(f, "; {}", Span(self.elapsed))
    }
}

/// ` (a 1, b 2)`, or nothing for no counts.
fn write_counts<N: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    counts: &BTreeMap<&'static str, N>,
) -> fmt::Result {
    if counts.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = counts
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    write!(f, " ({})", listed.join(", "))
}

impl<K: SessionKey> Pool<K> {
    /// A batch over a collection of `(session key, item)` pairs.
    pub fn batch<'p, T, I>(&'p self, items: I) -> Batch<'p, K, T>
    where
        T: Send + 'p,
        I: IntoIterator<Item = (K, T)>,
        I::IntoIter: Send + 'p,
    {
        Batch::new(self, Items::Iter(Box::new(items.into_iter())))
    }

    /// A batch over a stream of `(session key, item)` pairs, taken as
    /// room frees up; the stream may be endless, until cancelled.
    pub fn batch_stream<'p, T, S>(&'p self, items: S) -> Batch<'p, K, T>
    where
        T: Send + 'p,
        S: Stream<Item = (K, T)> + Send + 'p,
    {
        Batch::new(self, Items::Stream(Box::pin(items)))
    }
}

impl<'p, K: SessionKey, T: Send + 'p> Batch<'p, K, T> {
    fn new(pool: &'p Pool<K>, items: Items<'p, K, T>) -> Self {
        Self {
            pool,
            items,
            concurrency: pool.config().max_workers,
            cancel: CancellationToken::new(),
            stop_at_first_failure: false,
            progress: None,
            bar: false,
        }
    }

    /// At most `items` run at once (at least 1); by default the pool's
    /// `max_workers`.
    pub fn concurrency(mut self, items: usize) -> Self {
        self.concurrency = items.max(1);
        self
    }

    /// Cancelling `token` stops the batch: no item starts any more, and the
    /// running items' requests are cancelled (cooperatively: see
    /// [`Request::cancel`](crate::worker::Request::cancel)).
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Stops at the first failed item: no item starts any more, and the
    /// running items' requests are cancelled. By default a batch runs every
    /// item.
    pub fn stop_at_first_failure(mut self) -> Self {
        self.stop_at_first_failure = true;
        self
    }

    /// Calls `report` after each item finishes, for callers who draw their
    /// own progress.
    pub fn on_progress(mut self, report: impl FnMut(&BatchProgress) + Send + 'p) -> Self {
        self.progress = Some(Box::new(report));
        self
    }

    /// Draws a progress bar on standard error while the batch runs, if
    /// standard error is a terminal (nothing otherwise).
    #[cfg(feature = "progress-bar")]
    pub fn progress_bar(mut self) -> Self {
        self.bar = true;
        self
    }

    /// Runs every item through `work`, which gets a lease warm for the
    /// item's key and the item (write it as
    /// `|lease, item| Box::pin(async move { ... })`, see [`LeaseWork`]),
    /// and returns the outcomes in input order with the totals.
    ///
    /// An item whose lease went stale before its request reached a child
    /// runs again on a fresh lease, once (as for
    /// [`Pool::run_on_lease`]). The batch's requests are cancelled with
    /// the batch ([`Lease::cancel_with`]).
    pub async fn run<O, F>(self, work: F) -> BatchReport<O>
    where
        T: Sync,
        O: Send,
        F: for<'a> Fn(&'a mut Lease<K>, &'a T) -> LeaseWork<'a, O> + Sync,
    {
        let pool = self.pool;
        self.run_each(&OnLease { pool, work }).await
    }

    /// Runs every item through `each`, which gets its leases itself.
    pub(super) async fn run_each<O: Send>(self, each: &impl Each<K, T, O>) -> BatchReport<O> {
        let Batch {
            pool,
            mut items,
            concurrency,
            cancel,
            stop_at_first_failure,
            mut progress,
            bar,
        } = self;
        // Cancelled with the caller's token, or at the first failure.
        let stop = cancel.child_token();
        let bar = Bar::new(bar, items.len());
        let before = pool.snapshot();
        let started = Instant::now();
        let mut outcomes: Vec<Option<Result<O, ItemError>>> = Vec::new();
        let mut seen = BatchProgress {
            done: 0,
            ok: 0,
            failed: 0,
            total: items.len(),
            last: 0,
            elapsed: Duration::ZERO,
        };
        let mut running = FuturesUnordered::new();
        let mut exhausted = false;
        loop {
            let room = !exhausted && running.len() < concurrency && !stop.is_cancelled();
            tokio::select! {
                biased;
                Some((index, outcome)) = running.next(), if !running.is_empty() => {
                    let outcome: Result<O, ItemError> = outcome;
                    if outcome.is_err() && stop_at_first_failure {
                        stop.cancel();
                    }
                    seen.done += 1;
                    match &outcome {
                        Ok(_) => seen.ok += 1,
                        Err(_) => seen.failed += 1,
                    }
                    seen.last = index;
                    seen.elapsed = started.elapsed();
                    if let Some(report) = &mut progress {
                        report(&seen);
                    }
                    bar.advance(&seen);
                    outcomes[index] = Some(outcome);
                }
                next = items.next(), if room => match next {
                    Some((key, item)) => {
                        let index = outcomes.len();
                        outcomes.push(None);
                        let stop = &stop;
                        running.push(async move { (index, each.run(key, &item, stop).await) });
                    }
                    None => exhausted = true,
                },
                else => break,
            }
        }
        bar.finish();
        // What was never started, from a collection: not run.
        if !exhausted && let Items::Iter(rest) = items {
            let why = || {
                if cancel.is_cancelled() {
                    ItemError::Cancelled
                } else {
                    ItemError::Stopped
                }
            };
            outcomes.extend(rest.map(|_| Some(Err(why()))));
        }
        let outcomes: Vec<_> = outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or(Err(ItemError::Stopped)))
            .collect();
        let totals = totals(&outcomes, &before, &pool.snapshot(), started.elapsed());
        BatchReport { outcomes, totals }
    }
}

/// An item's outcome, to come; boxed so that it can be named `Send`.
pub(super) type ItemWork<'a, O> = Pin<Box<dyn Future<Output = Result<O, ItemError>> + Send + 'a>>;

/// What a batch does with each item, getting its leases itself.
pub(super) trait Each<K, T, O>: Sync {
    /// The outcome of `item` of `key`; `stop` says when the batch stops.
    fn run<'a>(&'a self, key: K, item: &'a T, stop: &'a CancellationToken) -> ItemWork<'a, O>
    where
        O: 'a;
}

/// A batch's items, each on a lease of its own.
struct OnLease<'p, K: SessionKey, F> {
    pool: &'p Pool<K>,
    work: F,
}

impl<K, T, O, F> Each<K, T, O> for OnLease<'_, K, F>
where
    K: SessionKey,
    T: Sync,
    O: Send,
    F: for<'a> Fn(&'a mut Lease<K>, &'a T) -> LeaseWork<'a, O> + Sync,
{
    fn run<'a>(&'a self, key: K, item: &'a T, stop: &'a CancellationToken) -> ItemWork<'a, O>
    where
        O: 'a,
    {
        Box::pin(one(self.pool, &self.work, stop, key, item))
    }
}

/// One item: a lease (unless the batch stops first), `work` on it; once
/// more on a fresh lease if the first was stale before its request was
/// sent.
async fn one<K, T, O, F>(
    pool: &Pool<K>,
    work: &F,
    stop: &CancellationToken,
    key: K,
    item: &T,
) -> Result<O, ItemError>
where
    K: SessionKey,
    F: for<'a> Fn(&'a mut Lease<K>, &'a T) -> LeaseWork<'a, O>,
{
    let mut lease = acquire_unless_stopped(pool, key.clone(), stop).await?;
    lease.cancel_with(stop.clone());
    match work(&mut lease, item).await {
        Err(WorkerError::StaleLease { .. }) => {
            drop(lease);
            let mut lease = acquire_unless_stopped(pool, key, stop).await?;
            lease.cancel_with(stop.clone());
            Ok(work(&mut lease, item).await?)
        }
        outcome => Ok(outcome?),
    }
}

/// A lease for `key`, unless `stop` is cancelled first. Only the wait for a
/// lease is cut short: a running request is cancelled through its token,
/// so that its child stays consistent.
pub(super) async fn acquire_unless_stopped<K: SessionKey>(
    pool: &Pool<K>,
    key: K,
    stop: &CancellationToken,
) -> Result<Lease<K>, ItemError> {
    tokio::select! {
        biased;
        () = stop.cancelled() => Err(ItemError::Cancelled),
        lease = pool.acquire(key) => lease.map_err(|error| ItemError::Call(error.into())),
    }
}

fn totals<K, O>(
    outcomes: &[Result<O, ItemError>],
    before: &PoolSnapshot<K>,
    after: &PoolSnapshot<K>,
    elapsed: Duration,
) -> BatchTotals {
    let mut totals = BatchTotals {
        items: outcomes.len(),
        rows: after.totals.rows.saturating_sub(before.totals.rows),
        warm_hits: after
            .leases
            .warm_hits
            .saturating_sub(before.leases.warm_hits),
        sessions_opened: after
            .leases
            .sessions_opened
            .saturating_sub(before.leases.sessions_opened),
        elapsed,
        ..BatchTotals::default()
    };
    for outcome in outcomes {
        match outcome {
            Ok(_) => totals.ok += 1,
            Err(ItemError::Call(error)) => *totals.failed.entry(error.kind()).or_default() += 1,
            Err(ItemError::Cancelled | ItemError::Stopped) => totals.not_run += 1,
        }
    }
    for (reason, count) in &after.totals.restarts_by_reason {
        let earlier = before.totals.restarts_by_reason.get(reason).copied();
        let during = count.saturating_sub(earlier.unwrap_or(0));
        if during > 0 {
            totals.restarts_by_reason.insert(reason, during);
        }
    }
    totals
}

/// The optional progress bar.
struct Bar {
    #[cfg(feature = "progress-bar")]
    bar: Option<indicatif::ProgressBar>,
}

impl Bar {
    #[cfg_attr(not(feature = "progress-bar"), allow(unused_variables))]
    fn new(wanted: bool, total: Option<usize>) -> Self {
        #[cfg(feature = "progress-bar")]
        {
            let bar = wanted.then(|| {
                let target = indicatif::ProgressDrawTarget::stderr();
                let bar = indicatif::ProgressBar::with_draw_target(
                    total.map(|total| total as u64),
                    target,
                );
                let template = "{bar:30} {pos}/{len} items {elapsed_precise} {msg}";
                if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                    bar.set_style(style);
                }
                bar
            });
            Self { bar }
        }
        #[cfg(not(feature = "progress-bar"))]
        Self {}
    }

    #[cfg_attr(not(feature = "progress-bar"), allow(unused_variables))]
    fn advance(&self, seen: &BatchProgress) {
        #[cfg(feature = "progress-bar")]
        if let Some(bar) = &self.bar {
            bar.set_position(seen.done as u64);
            bar.set_message(format!("{} ok, {} failed", seen.ok, seen.failed));
        }
    }

    fn finish(&self) {
        #[cfg(feature = "progress-bar")]
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
