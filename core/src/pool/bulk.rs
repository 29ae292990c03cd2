//! One request on the pool in one call: acquire, run, release.

use crate::command::{StreamCommand, UnaryCommand};
use crate::row::Row;
use crate::sink::Sink;
use crate::worker::{StreamSummary, WorkerError};

use super::{CallError, Lease, Pool, SessionKey};

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
        self.run_on_lease(key, async |lease| lease.call(command).await)
            .await
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
        self.run_on_lease(key, async |lease| lease.stream(command, &mut sink).await)
            .await
    }

    /// Acquires a lease warm for `key`, runs `work` on it, and gives it
    /// back. If the lease went stale before its request reached a child
    /// (the worker was cycled or replaced between the grant and the send:
    /// [`WorkerError::StaleLease`]), `work` runs again, once, on a fresh
    /// lease. Nothing that reached a child is ever run again; every other
    /// outcome is returned as it is.
    pub async fn run_on_lease<T>(
        &self,
        key: K,
        work: impl AsyncFnMut(&mut Lease<K>) -> Result<T, WorkerError>,
    ) -> Result<T, CallError> {
        let acquire = async |key| self.acquire(key).await.map_err(CallError::from);
        lease_and_run(key, acquire, work).await
    }
}

/// Gets a lease for `key` from `acquire` and runs `work` on it; once more
/// on a fresh lease if the first was stale before its request was sent.
pub(super) async fn lease_and_run<K: SessionKey, T, E: From<WorkerError>>(
    key: K,
    mut acquire: impl AsyncFnMut(K) -> Result<Lease<K>, E>,
    mut work: impl AsyncFnMut(&mut Lease<K>) -> Result<T, WorkerError>,
) -> Result<T, E> {
    let mut lease = acquire(key.clone()).await?;
    match work(&mut lease).await {
        Err(WorkerError::StaleLease { .. }) => {
            drop(lease);
            let mut lease = acquire(key).await?;
            Ok(work(&mut lease).await?)
        }
        outcome => Ok(outcome?),
    }
}
