//! A synchronous facade for callers without an async runtime.

use serde_json::value::RawValue;

use crate::command::{StreamCommand, UnaryCommand};
use crate::row::{RawRow, Row};
use crate::sink::Sink;
use crate::wire::ChildInfo;

use super::{ShutdownReport, StreamSummary, Worker, WorkerBuilder, WorkerError, WorkerStats};

/// A [`Worker`] with its own single-threaded tokio runtime, driven by
/// blocking calls.
///
/// Do not use it from inside an async runtime: blocking calls there panic
/// (tokio forbids nesting runtimes). Dropping it shuts the worker down.
///
/// ```no_run
/// # fn demo(builder: bulkhead::WorkerBuilder) -> Result<(), bulkhead::WorkerError> {
/// let mut worker = bulkhead::worker::BlockingWorker::spawn(builder)?;
/// println!("serving {}", worker.info().map_or("?", |info| info.name.as_str()));
/// worker.shutdown();
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct BlockingWorker {
    runtime: tokio::runtime::Runtime,
    worker: Option<Worker>,
}

impl BlockingWorker {
    /// Builds the worker and starts its first child.
    pub fn spawn(builder: WorkerBuilder) -> Result<Self, WorkerError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| WorkerError::Spawn {
                program: "tokio runtime".into(),
                source,
            })?;
        let worker = runtime.block_on(builder.spawn())?;
        Ok(Self {
            runtime,
            worker: Some(worker),
        })
    }

    /// Runs a unary command. See [`Worker::call`].
    pub fn call<C: UnaryCommand>(&mut self, command: &C) -> Result<C::Output, WorkerError> {
        let Self { runtime, worker } = self;
        let worker = worker.as_mut().ok_or(WorkerError::Closed)?;
        runtime.block_on(worker.call(command))
    }

    /// Runs a streaming command. See [`Worker::stream`].
    pub fn stream<C, S>(
        &mut self,
        command: &C,
        sink: S,
    ) -> Result<StreamSummary<C::Output>, WorkerError>
    where
        C: StreamCommand,
        S: Sink<Row<C::Row>>,
    {
        let Self { runtime, worker } = self;
        let worker = worker.as_mut().ok_or(WorkerError::Closed)?;
        runtime.block_on(worker.stream(command, sink))
    }

    /// Runs a command by name with JSON arguments. See [`Worker::raw_request`].
    pub fn call_raw(
        &mut self,
        command: &str,
        args: &RawValue,
    ) -> Result<Box<RawValue>, WorkerError> {
        let Self { runtime, worker } = self;
        let worker = worker.as_mut().ok_or(WorkerError::Closed)?;
        runtime.block_on(worker.raw_request(command, args).call_raw())
    }

    /// Streams a command by name with JSON arguments, rows as JSON text.
    pub fn stream_raw<S: Sink<RawRow>>(
        &mut self,
        command: &str,
        args: &RawValue,
        sink: S,
    ) -> Result<StreamSummary<Box<RawValue>>, WorkerError> {
        let Self { runtime, worker } = self;
        let worker = worker.as_mut().ok_or(WorkerError::Closed)?;
        runtime.block_on(worker.raw_request(command, args).stream_raw(sink))
    }

    /// Replaces the child now. See [`Worker::cycle`].
    pub fn cycle(&mut self) -> Result<(), WorkerError> {
        let Self { runtime, worker } = self;
        let worker = worker.as_mut().ok_or(WorkerError::Closed)?;
        runtime.block_on(worker.cycle())
    }

    /// What the current child said about itself.
    pub fn info(&self) -> Option<&ChildInfo> {
        self.worker.as_ref().and_then(Worker::info)
    }

    /// Counters across all generations.
    pub fn stats(&self) -> Option<&WorkerStats> {
        self.worker.as_ref().map(Worker::stats)
    }

    /// Shuts the worker down. See [`Worker::shutdown`].
    pub fn shutdown(&mut self) -> Option<ShutdownReport> {
        let mut worker = self.worker.take()?;
        Some(self.runtime.block_on(worker.shutdown()))
    }
}

impl Drop for BlockingWorker {
    fn drop(&mut self) {
        if let Some(mut worker) = self.worker.take() {
            self.runtime.block_on(worker.shutdown());
        }
    }
}
