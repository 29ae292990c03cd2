use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::policy::{Never, RestartPolicy};
use crate::transport::Transport;
use crate::wire::{DEFAULT_MAX_FRAME, MIN_MAX_FRAME};

use super::{Worker, WorkerError};

/// Everything a [`Worker`] needs to launch and supervise its children.
///
/// Built with [`WorkerBuilder`]; each setter there documents its default.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Child executable.
    pub program: PathBuf,
    /// Arguments passed to the child.
    pub args: Vec<OsString>,
    /// Variables added to the child's environment.
    pub env: Vec<(OsString, OsString)>,
    /// Start the child with an empty environment (plus `env` and the
    /// transport's own variables) instead of inheriting the parent's.
    pub env_clear: bool,
    /// How the parent talks to the child.
    pub transport: Arc<dyn Transport>,
    /// Limit for spawn plus handshake.
    pub startup_timeout: Duration,
    /// Limit for one request, from send to terminal frame, rows included.
    pub request_timeout: Duration,
    /// How long a cancelled request may take to end before the child is
    /// killed.
    pub cancel_grace: Duration,
    /// How long a child may take to exit after a shutdown frame before it is
    /// terminated.
    pub shutdown_timeout: Duration,
    /// How long a terminated child may take to exit before it is killed.
    pub terminate_timeout: Duration,
    /// At most this many unplanned replacements per `restart_window`.
    pub restart_limit: u32,
    /// The sliding window of `restart_limit`.
    pub restart_window: Duration,
    /// Children failing right after start this many times in a row make the
    /// worker refuse work with [`WorkerError::CrashLoop`].
    pub crash_loop_limit: u32,
    /// Resident set size at which a running request is killed, if any.
    pub rss_hard_limit: Option<u64>,
    /// How often the resident set size is sampled during a request under a
    /// hard limit.
    pub rss_sample_interval: Duration,
    /// Largest frame body the parent accepts from the child.
    pub max_frame: u32,
    /// Bytes of the child's stderr kept for error reports.
    pub stderr_capacity: usize,
    /// Decides when to cycle the child between requests.
    pub policy: Arc<dyn RestartPolicy>,
}

/// Builds a [`Worker`].
///
/// ```no_run
/// # async fn demo(transport: impl bulkhead::Transport) -> Result<(), bulkhead::WorkerError> {
/// use std::time::Duration;
///
/// let worker = bulkhead::Worker::builder("target/release/my-child")
///     .transport(transport)
///     .startup_timeout(Duration::from_secs(5))
///     .spawn()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct WorkerBuilder {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_clear: bool,
    transport: Option<Arc<dyn Transport>>,
    startup_timeout: Duration,
    request_timeout: Duration,
    cancel_grace: Duration,
    shutdown_timeout: Duration,
    terminate_timeout: Duration,
    restart_limit: u32,
    restart_window: Duration,
    crash_loop_limit: u32,
    rss_hard_limit: Option<u64>,
    rss_sample_interval: Duration,
    max_frame: u32,
    stderr_capacity: usize,
    policy: Arc<dyn RestartPolicy>,
}

impl WorkerBuilder {
    /// A builder for children running `program`, with every default.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_clear: false,
            transport: None,
            startup_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            cancel_grace: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(2),
            terminate_timeout: Duration::from_secs(1),
            restart_limit: 16,
            restart_window: Duration::from_secs(60),
            crash_loop_limit: 3,
            rss_hard_limit: None,
            rss_sample_interval: Duration::from_millis(250),
            max_frame: DEFAULT_MAX_FRAME,
            stderr_capacity: 64 * 1024,
            policy: Arc::new(Never),
        }
    }

    /// Appends one argument for the child. Default: none.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds one variable to the child's environment. Default: none added.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts children with an empty environment: only variables given with
    /// [`env`](Self::env) and the transport's own reach them. Default: the
    /// child inherits the parent's environment.
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self
    }

    /// The transport. Required: building without one is
    /// [`WorkerError::Config`].
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The transport, already shared.
    pub fn shared_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Limit for spawn plus handshake. Default: 10 s.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Limit for one request, from send to terminal frame, rows included;
    /// on expiry the child is killed and replaced. Default: 30 s. A request
    /// can override it with [`Request::timeout`](super::Request::timeout).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a cancelled request may take to end before the child is
    /// killed and replaced. Default: 1 s.
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// How long a child may take to exit after a shutdown frame before it is
    /// terminated (SIGTERM to its process group on Unix). Default: 2 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How long a terminated child may take to exit before it is killed.
    /// Default: 1 s.
    pub fn terminate_timeout(mut self, timeout: Duration) -> Self {
        self.terminate_timeout = timeout;
        self
    }

    /// At most `limit` unplanned replacements (crashes, protocol
    /// violations, timeouts) per sliding `window`; past it, requests fail
    /// with [`WorkerError::RestartLimit`] until the window allows another.
    /// Planned cycles (policy, explicit) do not count. Default: 16 per 60 s.
    pub fn restart_limit(mut self, limit: u32, window: Duration) -> Self {
        self.restart_limit = limit;
        self.restart_window = window;
        self
    }

    /// After this many children in a row fail to start or fail their first
    /// request, requests fail with [`WorkerError::CrashLoop`] until
    /// [`Worker::cycle`](super::Worker::cycle) is called. Default: 3.
    pub fn crash_loop_limit(mut self, limit: u32) -> Self {
        self.crash_loop_limit = limit;
        self
    }

    /// A hard limit on the child's resident set size during a request: it is
    /// sampled every [`rss_sample_interval`](Self::rss_sample_interval)
    /// while a request runs, and a child over the limit is killed and
    /// replaced, failing the request with [`WorkerError::MemoryLimit`].
    /// A sample that cannot be taken never counts as over (nor under) the
    /// limit. Default: no hard limit. For a soft ceiling between requests,
    /// use the [`RssCeiling`](crate::policy::RssCeiling) policy.
    pub fn rss_hard_limit(mut self, bytes: u64) -> Self {
        self.rss_hard_limit = Some(bytes);
        self
    }

    /// How often the hard limit is checked during a request. Default: 250 ms.
    pub fn rss_sample_interval(mut self, interval: Duration) -> Self {
        self.rss_sample_interval = interval;
        self
    }

    /// Largest frame body accepted from the child, checked before the body is
    /// buffered. Default: 16 MiB; at least 4 KiB.
    pub fn max_frame(mut self, bytes: u32) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Bytes of the child's stderr kept for error reports. Default: 64 KiB.
    pub fn stderr_capacity(mut self, bytes: usize) -> Self {
        self.stderr_capacity = bytes;
        self
    }

    /// The restart policy consulted before each request. Default: never cycle.
    pub fn policy(mut self, policy: impl RestartPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Checks the settings and returns the configuration.
    pub fn build(self) -> Result<WorkerConfig, WorkerError> {
        let transport = self.transport.ok_or(WorkerError::Config {
            reason: "no transport was set",
        })?;
        if self.max_frame < MIN_MAX_FRAME {
            return Err(WorkerError::Config {
                reason: "max_frame is below the 4 KiB minimum",
            });
        }
        if self.restart_limit == 0 || self.crash_loop_limit == 0 {
            return Err(WorkerError::Config {
                reason: "restart_limit and crash_loop_limit must be at least 1",
            });
        }
        if self.rss_sample_interval.is_zero() {
            return Err(WorkerError::Config {
                reason: "rss_sample_interval is zero",
            });
        }
        if self.startup_timeout.is_zero() {
            return Err(WorkerError::Config {
                reason: "startup_timeout is zero",
            });
        }
        Ok(WorkerConfig {
            program: self.program,
            args: self.args,
            env: self.env,
            env_clear: self.env_clear,
            transport,
            startup_timeout: self.startup_timeout,
            request_timeout: self.request_timeout,
            cancel_grace: self.cancel_grace,
            shutdown_timeout: self.shutdown_timeout,
            terminate_timeout: self.terminate_timeout,
            restart_limit: self.restart_limit,
            restart_window: self.restart_window,
            crash_loop_limit: self.crash_loop_limit,
            rss_hard_limit: self.rss_hard_limit,
            rss_sample_interval: self.rss_sample_interval,
            max_frame: self.max_frame,
            stderr_capacity: self.stderr_capacity,
            policy: self.policy,
        })
    }

    /// Builds the configuration, starts the first child and waits for its
    /// handshake.
    pub async fn spawn(self) -> Result<Worker, WorkerError> {
        Worker::start(self.build()?).await
    }
}
