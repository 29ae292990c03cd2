//! A synchronous facade for callers without an async runtime.

use crate::command::{StreamCommand, UnaryCommand};
use crate::row::Row;
use crate::sink::Sink;
use crate::worker::{ShutdownReport, StreamSummary};

use super::{
    Batch, BatchReport, BatchTotals, CallError, Pool, PoolBuilder, PoolError, PoolSnapshot,
    SessionKey,
};

/// A [`Pool`] with its own tokio runtime, driven by blocking calls, like
/// [`BlockingWorker`](crate::worker::BlockingWorker) for one worker.
///
/// The runtime has one thread of its own, so the pool's background work
/// (replacing dead children, retiring idle workers) goes on between calls.
/// Calls may come from several threads at once; each blocks its own. Do not
/// use it from inside an async runtime: blocking calls there panic (tokio
/// forbids nesting runtimes). Dropping it shuts the pool down.
///
/// ```no_run
/// # fn demo(builder: bulkhead::WorkerBuilder) -> Result<(), Box<dyn std::error::Error>> {
/// # #[derive(serde::Serialize, serde::Deserialize, bulkhead::Command)]
/// # #[command(response = String)]
/// # struct Check { module: String }
/// use bulkhead::pool::{BlockingPool, Pool};
///
/// let mut pool = BlockingPool::build(Pool::<String>::builder(builder).max_workers(2))?;
/// let items = ["A", "B"].map(|module| ("Init".to_owned(), Check { module: module.into() }));
/// let report = pool.run(items);
/// println!("{}", report.totals);
/// pool.shutdown();
/// # Ok(())
/// # }
/// ```
pub struct BlockingPool<K: SessionKey> {
    runtime: tokio::runtime::Runtime,
    pool: Option<Pool<K>>,
}

impl<K: SessionKey> BlockingPool<K> {
    /// Builds the pool on a runtime of its own. No child starts yet: the
    /// first request for a key starts one.
    pub fn build(builder: PoolBuilder<K>) -> Result<Self, PoolError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bulkhead-pool")
            .enable_all()
            .build()
            .map_err(|_| PoolError::Config {
                reason: "a tokio runtime for the blocking pool could not be built",
            })?;
        let pool = {
            let _entered = runtime.enter();
            builder.build()?
        };
        Ok(Self {
            runtime,
            pool: Some(pool),
        })
    }

    /// Runs a unary command on a lease warm for `key`. See [`Pool::call`].
    pub fn call<C: UnaryCommand>(&self, key: K, command: &C) -> Result<C::Output, CallError> {
        let pool = self.pool()?;
        self.runtime.block_on(pool.call(key, command))
    }

    /// Runs a streaming command on a lease warm for `key`. See
    /// [`Pool::stream`].
    pub fn stream<C, S>(
        &self,
        key: K,
        command: &C,
        sink: S,
    ) -> Result<StreamSummary<C::Output>, CallError>
    where
        C: StreamCommand,
        S: Sink<Row<C::Row>>,
    {
        let pool = self.pool()?;
        self.runtime.block_on(pool.stream(key, command, sink))
    }

    /// Runs a batch of unary commands, each on a lease warm for its key,
    /// and returns their responses in input order with the totals. See
    /// [`Pool::batch`].
    pub fn run<C, I>(&self, items: I) -> BatchReport<C::Output>
    where
        C: UnaryCommand + Send + Sync,
        I: IntoIterator<Item = (K, C)>,
        I::IntoIter: Send,
    {
        self.run_with(items, |batch| batch)
    }

    /// As [`run`](Self::run), with the batch set up by `configure`
    /// (concurrency, cancellation, progress).
    pub fn run_with<C, I>(
        &self,
        items: I,
        configure: impl for<'p> FnOnce(Batch<'p, K, C>) -> Batch<'p, K, C>,
    ) -> BatchReport<C::Output>
    where
        C: UnaryCommand + Send + Sync,
        I: IntoIterator<Item = (K, C)>,
        I::IntoIter: Send,
    {
        let Some(pool) = &self.pool else {
            // Shut down: every item is refused as the pool would refuse it.
            let outcomes: Vec<_> = items
                .into_iter()
                .map(|_| Err(CallError::Acquire(PoolError::ShuttingDown).into()))
                .collect();
            let mut totals = BatchTotals {
                items: outcomes.len(),
                ..BatchTotals::default()
            };
            if !outcomes.is_empty() {
                totals
                    .failed
                    .insert(PoolError::ShuttingDown.kind(), outcomes.len());
            }
            return BatchReport { outcomes, totals };
        };
        let batch = configure(pool.batch(items));
        self.runtime
            .block_on(batch.run(|lease, command| Box::pin(lease.call(command))))
    }

    /// The pool's state and counters now. See [`Pool::snapshot`].
    pub fn snapshot(&self) -> Option<PoolSnapshot<K>> {
        self.pool.as_ref().map(Pool::snapshot)
    }

    /// Shuts the pool down. See [`Pool::shutdown`].
    pub fn shutdown(&mut self) -> Vec<ShutdownReport> {
        match self.pool.take() {
            Some(pool) => self.runtime.block_on(pool.shutdown()),
            None => Vec::new(),
        }
    }

    fn pool(&self) -> Result<&Pool<K>, CallError> {
        self.pool
            .as_ref()
            .ok_or(CallError::Acquire(PoolError::ShuttingDown))
    }
}

impl<K: SessionKey> Drop for BlockingPool<K> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<K: SessionKey> std::fmt::Debug for BlockingPool<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingPool")
            .field("open", &self.pool.is_some())
            .finish_non_exhaustive()
    }
}
