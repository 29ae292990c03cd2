//! From "a child name" to a checked, ready [`Worker`] or [`Pool`].
//!
//! [`Child`] resolves the binary ([`ChildLocator`]), picks the transport
//! (stdio unless told otherwise), starts the child, checks what its
//! handshake says against what the parent expects (name, version
//! requirement, commands and their kinds), asks its doctor handler, and
//! optionally opens a session. [`Child::check`] runs the same steps and
//! returns every finding in a [`CheckReport`] instead of failing at the
//! first problem; [`Child::worker`] and [`Child::pool`] fail with the
//! report when it holds an error.

mod checks;
mod report;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::pool::{Pool, PoolBuilder, SessionKey};
use crate::transport::{StdioTransport, Transport};
use crate::worker::{Worker, WorkerBuilder};
use crate::{ChildLocator, StreamCommand, UnaryCommand};

pub use report::{BuildError, CheckReport};

use checks::{Expected, ExpectedCommand};

type Configure = Arc<dyn Fn(WorkerBuilder) -> WorkerBuilder + Send + Sync>;

/// Where the child binary comes from.
#[derive(Debug, Clone)]
enum Source {
    /// Found by a locator; a failure is a finding.
    Locate(ChildLocator),
    /// Run as given: a bare name is looked up on `PATH` by the OS.
    Program(PathBuf),
}

/// A child binary and what the parent expects of it; builds a checked
/// [`Worker`] or [`Pool`], or a [`CheckReport`].
///
/// ```no_run
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize, bulkhead::Command)]
/// # #[command(row = u64, summary = u64)]
/// # struct Count { n: u64 }
/// # async fn demo() -> Result<(), bulkhead::child::BuildError> {
/// let mut worker = bulkhead::Child::named("counter-child")
///     .env_override("COUNTER_CHILD")
///     .expect_name("counter")
///     .expect_version("^1.2")
///     .require_stream::<Count>()
///     .configure(|worker| worker.request_timeout(std::time::Duration::from_secs(5)))
///     .worker()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Child {
    source: Source,
    args: Vec<OsString>,
    transport: Option<Arc<dyn Transport>>,
    configure: Option<Configure>,
    expected: Expected,
    session: Option<Box<RawValue>>,
}

impl Child {
    /// The child binary called `name`, found by [`ChildLocator::new`]:
    /// next to the running executable, then in cargo's target directories.
    pub fn named(name: impl Into<String>) -> Self {
        Self::located(ChildLocator::new(name))
    }

    /// The child binary `locator` finds.
    pub fn located(locator: ChildLocator) -> Self {
        Self::from_source(Source::Locate(locator))
    }

    /// Runs `program` as given, with no search: a bare name is looked up on
    /// `PATH` by the operating system, so an interpreter works
    /// (`Child::program("python3").arg("child.py")`).
    pub fn program(program: impl Into<PathBuf>) -> Self {
        Self::from_source(Source::Program(program.into()))
    }

    fn from_source(source: Source) -> Self {
        Self {
            source,
            args: Vec::new(),
            transport: None,
            configure: None,
            expected: Expected::default(),
            session: None,
        }
    }

    /// Takes the path from the environment variable `variable` when it is
    /// set (see [`ChildLocator::env_override`]). No effect on a
    /// [`program`](Child::program).
    pub fn env_override(mut self, variable: impl Into<String>) -> Self {
        if let Source::Locate(locator) = self.source {
            self.source = Source::Locate(locator.env_override(variable));
        }
        self
    }

    /// Appends one argument for the child.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments for the child.
    pub fn args<I: IntoIterator<Item = A>, A: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The transport. Default: [`StdioTransport`] on every platform.
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Further worker settings (timeouts, limits, policies), applied to the
    /// [`WorkerBuilder`] after the program, arguments and transport.
    pub fn configure(
        mut self,
        configure: impl Fn(WorkerBuilder) -> WorkerBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Arc::new(configure));
        self
    }

    /// The capability name the child must announce.
    pub fn expect_name(mut self, name: impl Into<String>) -> Self {
        self.expected.name = Some(name.into());
        self
    }

    /// A semantic-version requirement the child's version must meet, such
    /// as `"^1.2"` or `">=0.3, <0.5"`. A requirement that does not parse
    /// is an error finding.
    pub fn expect_version(mut self, requirement: impl Into<String>) -> Self {
        self.expected.version = Some(requirement.into());
        self
    }

    /// The child must serve `C` as a unary command.
    pub fn require_unary<C: UnaryCommand>(mut self) -> Self {
        let command = ExpectedCommand::typed::<C>(Some(false), None);
        self.expected.commands.push(command);
        self
    }

    /// The child must serve `C` as a streaming command.
    pub fn require_stream<C: StreamCommand>(mut self) -> Self {
        let row = std::any::type_name::<C::Row>();
        let command = ExpectedCommand::typed::<C>(Some(true), Some(row));
        self.expected.commands.push(command);
        self
    }

    /// The child must serve a command called `name`, of either kind.
    pub fn require_command(mut self, name: impl Into<String>) -> Self {
        self.expected
            .commands
            .push(ExpectedCommand::named(name.into()));
        self
    }

    /// Opens the session `key` on the worker before handing it out (a
    /// failed open is an error finding). Pools open sessions per lease
    /// instead; this setting is for [`worker`](Child::worker) and
    /// [`check`](Child::check).
    pub fn session(mut self, key: &impl Serialize) -> Result<Self, serde_json::Error> {
        self.session = Some(serde_json::value::to_raw_value(key)?);
        Ok(self)
    }

    /// Runs every step and returns what it found; never fails. The child
    /// started for the check is shut down before this returns.
    pub async fn check(self) -> CheckReport {
        let (mut report, worker) = self.start().await;
        if let Some(mut worker) = worker {
            checks::shutdown(&mut report, &mut worker).await;
        }
        report
    }

    /// A started, checked worker. Warnings are logged; an error finding
    /// shuts the child down and fails with the report.
    pub async fn worker(self) -> Result<Worker, BuildError> {
        match self.start().await {
            (report, Some(worker)) if !report.has_errors() => {
                report.log_warnings();
                Ok(worker)
            }
            (report, worker) => {
                if let Some(mut worker) = worker {
                    worker.shutdown().await;
                }
                Err(BuildError::Check(Box::new(report)))
            }
        }
    }

    /// A pool of workers like the one [`worker`](Child::worker) builds,
    /// its limits set by `pool`. One child is started and checked first,
    /// then shut down; the pool starts its own children on demand.
    pub async fn pool<K: SessionKey>(
        self,
        pool: impl FnOnce(PoolBuilder<K>) -> PoolBuilder<K>,
    ) -> Result<Pool<K>, BuildError> {
        let (mut report, worker) = self.clone().start().await;
        if let Some(mut worker) = worker {
            checks::shutdown(&mut report, &mut worker).await;
        }
        if report.has_errors() {
            return Err(BuildError::Check(Box::new(report)));
        }
        report.log_warnings();
        let Some(program) = report.program.clone() else {
            return Err(BuildError::Check(Box::new(report)));
        };
        pool(Pool::builder(self.builder(program)))
            .build()
            .map_err(BuildError::Pool)
    }

    /// The worker settings for `program`.
    fn builder(&self, program: PathBuf) -> WorkerBuilder {
        let transport = self
            .transport
            .clone()
            .unwrap_or_else(|| Arc::new(StdioTransport));
        let builder = WorkerBuilder::new(program)
            .args(self.args.iter().cloned())
            .shared_transport(transport);
        match &self.configure {
            Some(configure) => configure(builder),
            None => builder,
        }
    }

    /// Resolves, starts and checks a child; the worker is returned whenever
    /// one started, whatever was found.
    async fn start(self) -> (CheckReport, Option<Worker>) {
        let transport = self
            .transport
            .as_ref()
            .map_or(crate::env::STDIO_TRANSPORT, |transport| transport.name());
        let mut report = CheckReport::new(transport);
        let program = match &self.source {
            Source::Program(program) => program.clone(),
            Source::Locate(locator) => match locator.locate() {
                Ok(path) => path,
                Err(err) => {
                    report.push(checks::not_found(&err));
                    return (report, None);
                }
            },
        };
        report.program = Some(program.clone());
        let started = Instant::now();
        let mut worker = match self.builder(program).spawn().await {
            Ok(worker) => worker,
            Err(err) => {
                checks::not_started(&mut report, &err);
                return (report, None);
            }
        };
        report.startup = Some(started.elapsed());
        report.rss_after_start = worker.sample_rss().bytes();
        report.info = worker.info().cloned();
        checks::started(&mut report);
        self.expected.check(&mut report);
        checks::doctor(&mut report, &mut worker).await;
        if let Some(key) = &self.session {
            checks::open_session(&mut report, &mut worker, key).await;
        }
        (report, Some(worker))
    }
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("source", &self.source)
            .field("args", &self.args)
            .field("transport", &self.transport)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}
