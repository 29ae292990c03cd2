//! Asking a child for its own health findings.

use serde::{Deserialize, Serialize};

use super::{Worker, WorkerError};
use crate::wire::{DOCTOR_COMMAND, Finding, RemoteErrorKind};

/// The protocol's doctor command: no arguments, findings back.
#[derive(Serialize, Deserialize)]
struct Doctor;

impl crate::Command for Doctor {
    const NAME: &'static str = DOCTOR_COMMAND;
    type Output = Vec<Finding>;
}

impl crate::UnaryCommand for Doctor {}

impl Worker {
    /// Runs the child's doctor handler ([`DOCTOR_COMMAND`]) and returns its
    /// findings, or `None` when the child has no doctor handler. Like any
    /// request, it starts a child first if none is running.
    ///
    /// ```no_run
    /// # async fn demo(worker: &mut bulkhead::Worker) -> Result<(), bulkhead::WorkerError> {
    /// for finding in worker.doctor().await?.unwrap_or_default() {
    ///     println!("{finding}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn doctor(&mut self) -> Result<Option<Vec<Finding>>, WorkerError> {
        if self.info().is_some_and(|info| !info.doctor) {
            return Ok(None);
        }
        match self.call(&Doctor).await {
            Ok(findings) => Ok(Some(findings)),
            Err(WorkerError::Remote { source, .. })
                if source.kind == RemoteErrorKind::UnknownCommand =>
            {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }
}
