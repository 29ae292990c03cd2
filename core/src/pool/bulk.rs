//! One request on the pool in one call: acquire, run, release.

use std::future::Future;
use std::pin::Pin;

use crate::command::{StreamCommand, UnaryCommand};
use crate::row::Row;
use crate::sink::Sink;
use crate::worker::{StreamSummary, WorkerError};

use super::{CallError, Lease, Pool, SessionKey};

/// Work on a lease, as [`Pool::run_on_lease`], a batch and a plan take it:
/// a boxed future, so that the caller's future is `Send` and can be
/// spawned. Write it as `|lease| Box::pin(async move { ... })`. It may
/// borrow the lease (and a batch's item); anything else it uses is moved
/// or cloned in (an `Arc` for shared data).
pub type LeaseWork<'a, T> = Pin<Box<dyn Future<Output = Result<T, WorkerError>> + Send + 'a>>;

impl<K: SessionKey> Pool<K> {
    /// Runs a unary command on a lease warm for `key` and gives the lease
    /// back. See [`run_on_lease`](Self::run_on_lease) for what is retried.
    ///
    /// ```no_run
    /// # async fn demo(pool: bulkhead::Pool<String>) -> Result<(), bulkhead::pool::CallError> {
    /// # #[derive(serde::Serialize, serde::Deserialize, bulkhead::Command)]
    /// # #[command(response = String)]
    /// # struct Prove { goal: String }
    /// let proof = pool
    ///     .call("Mathlib.Data.Nat".to_owned(), &Prove { goal: "1 + 1 = 2".into() })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn call<C: UnaryCommand>(&self, key: K, command: &C) -> Result<C::Output, CallError> {
        let mut lease = self.acquire(key.clone()).await?;
        match lease.call(command).await {
            // Stale before the request was sent: once more, on a fresh lease.
            Err(WorkerError::StaleLease { .. }) => {
                drop(lease);
                Ok(self.acquire(key).await?.call(command).await?)
            }
            outcome => Ok(outcome?),
        }
    }

    /// Runs a streaming command on a lease warm for `key`, rows into
    /// `sink`, and gives the lease back. See
    /// [`run_on_lease`](Self::run_on_lease) for what is retried.
    pub async fn stream<C, S>(
        &self,
        key: K,
        command: &C,
        mut sink: S,
    ) -> Result<StreamSummary<C::Output>, CallError>
    where
        C: StreamCommand,
        S: Sink<Row<C::Row>>,
    {
        let mut lease = self.acquire(key.clone()).await?;
        match lease.stream(command, &mut sink).await {
            // Stale before the request was sent: no row reached the sink.
            Err(WorkerError::StaleLease { .. }) => {
                drop(lease);
                let mut lease = self.acquire(key).await?;
                Ok(lease.stream(command, sink).await?)
            }
            outcome => Ok(outcome?),
        }
    }

    /// Acquires a lease warm for `key`, runs `work` on it, and gives it
    /// back. If the lease went stale before its request reached a child
    /// (the worker was cycled or replaced between the grant and the send:
    /// [`WorkerError::StaleLease`]), `work` runs again, once, on a fresh
    /// lease. Nothing that reached a child is ever run again; every other
    /// outcome is returned as it is.
    ///
    /// ```no_run
    /// # async fn demo(pool: bulkhead::Pool<String>) -> Result<(), bulkhead::pool::CallError> {
    /// # #[derive(serde::Serialize, serde::Deserialize, bulkhead::Command)]
    /// # #[command(response = String)]
    /// # struct Prove { goal: String }
    /// let (a, b) = pool
    ///     .run_on_lease("Mathlib.Data.Nat".to_owned(), |lease| {
    ///         Box::pin(async move {
    ///             let a = lease.call(&Prove { goal: "a".into() }).await?;
    ///             let b = lease.call(&Prove { goal: "b".into() }).await?;
    ///             Ok((a, b))
    ///         })
    ///     })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_on_lease<T, F>(&self, key: K, mut work: F) -> Result<T, CallError>
    where
        F: for<'a> FnMut(&'a mut Lease<K>) -> LeaseWork<'a, T> + Send,
    {
        let mut lease = self.acquire(key.clone()).await?;
        match work(&mut lease).await {
            // Stale before the request was sent: once more, on a fresh lease.
            Err(WorkerError::StaleLease { .. }) => {
                drop(lease);
                let mut lease = self.acquire(key).await?;
                Ok(work(&mut lease).await?)
            }
            outcome => Ok(outcome?),
        }
    }
}
