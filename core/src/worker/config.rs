use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::policy::{Never, PolicyFactory, RestartPolicy};
use crate::transport::Transport;
use crate::wire::{DEFAULT_MAX_FRAME, MIN_MAX_FRAME};

use super::{Backoff, MemoryEnforcer, MemoryLimit, Worker, WorkerError};

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
    /// Children failing before they take a request this many times in a
    /// row make the worker back off ([`WorkerError::CrashLoop`]).
    pub crash_loop_limit: u32,
    /// How long the worker waits before trying a fresh child once the
    /// restart limit or the crash-loop guard tripped.
    pub backoff: Backoff,
    /// A memory limit the kernel enforces on each child, if any.
    pub memory_limit: Option<MemoryLimit>,
    /// A CPU-time limit the kernel enforces on each child, if any.
    pub cpu_time_limit: Option<Duration>,
    /// Resident set size at which a running request is killed, if any.
    pub rss_hard_limit: Option<u64>,
    /// How often the resident set size is sampled during a request under a
    /// hard limit.
    pub rss_sample_interval: Duration,
    /// Largest frame body the parent accepts from the child.
    pub max_frame: u32,
    /// Bytes of the child's stderr kept for error reports.
    pub stderr_capacity: usize,
    /// Whether each line the child writes to stderr is also logged as a
    /// `tracing` event (target `bulkhead::child`).
    pub forward_stderr: bool,
    /// Makes each worker's restart policy, which decides when to cycle the
    /// child between requests.
    pub policy: PolicyFactory,
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
    transport: Arc<dyn Transport>,
    startup_timeout: Duration,
    request_timeout: Duration,
    cancel_grace: Duration,
    shutdown_timeout: Duration,
    terminate_timeout: Duration,
    restart_limit: u32,
    restart_window: Duration,
    crash_loop_limit: u32,
    backoff: Backoff,
    memory_limit: Option<MemoryLimit>,
    cpu_time_limit: Option<Duration>,
    rss_hard_limit: Option<u64>,
    rss_sample_interval: Duration,
    max_frame: u32,
    stderr_capacity: usize,
    forward_stderr: bool,
    policy: PolicyFactory,
}

impl WorkerBuilder {
    /// A builder for children running `program`, with every default.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_clear: false,
            transport: Arc::new(crate::transport::StdioTransport),
            startup_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            cancel_grace: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(2),
            terminate_timeout: Duration::from_secs(1),
            restart_limit: 16,
            restart_window: Duration::from_secs(60),
            crash_loop_limit: 3,
            backoff: Backoff::default(),
            memory_limit: None,
            cpu_time_limit: None,
            rss_hard_limit: None,
            rss_sample_interval: Duration::from_millis(250),
            max_frame: DEFAULT_MAX_FRAME,
            stderr_capacity: 64 * 1024,
            forward_stderr: false,
            policy: PolicyFactory::cloning(Never),
        }
    }

    /// Appends one argument for the child. Default: none.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments for the child.
    pub fn args<I: IntoIterator<Item = A>, A: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
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

    /// The transport. Default:
    /// [`StdioTransport`](crate::transport::StdioTransport).
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Arc::new(transport);
        self
    }

    /// The transport, already shared.
    pub fn shared_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = transport;
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
    /// violations, timeouts, limits) per sliding `window`. Past it the
    /// worker backs off (see [`backoff`](Self::backoff)): requests fail at
    /// once with [`WorkerError::RestartLimit`], which says when the next
    /// child starts, and the first request after the back-off starts one.
    /// Planned cycles (policy, explicit) and retries after failed starts
    /// do not count. Default: 16 per 60 s.
    pub fn restart_limit(mut self, limit: u32, window: Duration) -> Self {
        self.restart_limit = limit;
        self.restart_window = window;
        self
    }

    /// After this many children in a row fail before taking a request (the
    /// spawn, the transport or the handshake failed, or they exited while
    /// idle), the worker backs off: requests fail at once with
    /// [`WorkerError::CrashLoop`], which carries the last failure and says
    /// when the next child starts. A child that dies *during* a request,
    /// even its first, is a request death and never counts here.
    /// [`Worker::cycle`](super::Worker::cycle) tries again at once.
    /// Default: 3.
    pub fn crash_loop_limit(mut self, limit: u32) -> Self {
        self.crash_loop_limit = limit;
        self
    }

    /// How long to back off once the restart limit or the crash-loop guard
    /// tripped: exponential with jitter, reset whenever a child finishes a
    /// request. Default: [`Backoff::default`], 100 ms doubling up to 30 s,
    /// up to 20 % shorter at random.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// A memory limit of `bytes` the kernel enforces on each child: a memory
    /// cgroup of its own on Linux where one can be created (under the
    /// parent's memory cgroup, or [`memory_limit_cgroup`](Self::memory_limit_cgroup)),
    /// else the address-space limit (`RLIMIT_AS`) on Unix; a job object's
    /// memory limit on Windows. A child it ends fails its request with
    /// [`WorkerError::MemoryLimit`] naming the enforcer;
    /// [`Worker::memory_enforcer`](super::Worker::memory_enforcer) tells
    /// which one a running child has. The address-space limit counts
    /// reserved address space, not resident memory: runtimes that reserve
    /// large ranges up front need a generous figure. See
    /// [`limits`](super::limits). Default: none.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(MemoryLimit {
            bytes,
            enforcer: self.memory_limit.as_ref().and_then(|limit| limit.enforcer),
            cgroup_parent: self.memory_limit.and_then(|limit| limit.cgroup_parent),
        });
        self
    }

    /// Insists on `enforcer` for [`memory_limit`](Self::memory_limit)
    /// instead of picking the best available; a child whose limit cannot be
    /// set that way is not started ([`WorkerError::Limits`]). Default: the
    /// best available.
    pub fn memory_limit_enforcer(mut self, enforcer: MemoryEnforcer) -> Self {
        if let Some(limit) = self.memory_limit.as_mut() {
            limit.enforcer = Some(enforcer);
        } else {
            self.memory_limit = Some(MemoryLimit {
                bytes: 0,
                enforcer: Some(enforcer),
                cgroup_parent: None,
            });
        }
        self
    }

    /// Creates children's memory cgroups under `dir` (a cgroup directory
    /// delegated to this process) instead of under the parent's own memory
    /// cgroup. Linux only. Default: the parent's memory cgroup.
    pub fn memory_limit_cgroup(mut self, dir: impl Into<PathBuf>) -> Self {
        let dir = Some(dir.into());
        if let Some(limit) = self.memory_limit.as_mut() {
            limit.cgroup_parent = dir;
        } else {
            self.memory_limit = Some(MemoryLimit {
                bytes: 0,
                enforcer: None,
                cgroup_parent: dir,
            });
        }
        self
    }

    /// A CPU-time limit the kernel enforces on each child (`RLIMIT_CPU`,
    /// Unix only), rounded up to whole seconds. It counts the CPU time a
    /// child uses over its whole life, across requests; the kernel sends
    /// SIGXCPU when it is used up, and the request fails with
    /// [`WorkerError::CpuLimit`]. Pair it with a restart policy such as
    /// [`AfterRequests`](crate::policy::AfterRequests) to make it a budget
    /// per so many requests. Default: none.
    pub fn cpu_time_limit(mut self, limit: Duration) -> Self {
        self.cpu_time_limit = Some(limit);
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

    /// Also logs each line the child writes to stderr, as it comes, as a
    /// `tracing` event at info level with target `bulkhead::child` and the
    /// fields `generation` and `pid`; the ring for error reports is kept as
    /// well. A line longer than 16 KiB is logged in pieces. Default: off.
    pub fn forward_stderr(mut self) -> Self {
        self.forward_stderr = true;
        self
    }

    /// The restart policy consulted before each request. Each worker built
    /// from this configuration (each worker of a pool) gets a clone of its
    /// own; pass an `Arc` to share one instance. Default: never cycle.
    pub fn policy(mut self, policy: impl RestartPolicy + Clone) -> Self {
        self.policy = PolicyFactory::cloning(policy);
        self
    }

    /// Calls `make` for the restart policy of each worker built from this
    /// configuration, so that each gets fresh state (and, for
    /// [`AfterRequests`](crate::policy::AfterRequests), a fresh jitter
    /// seed). Default: never cycle.
    pub fn policy_with<P: RestartPolicy>(
        mut self,
        make: impl Fn() -> P + Send + Sync + 'static,
    ) -> Self {
        self.policy = PolicyFactory::new(make);
        self
    }

    /// Checks the settings and returns the configuration.
    pub fn build(self) -> Result<WorkerConfig, WorkerError> {
        let transport = self.transport;
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
        match &self.memory_limit {
            Some(limit) if limit.bytes == 0 => {
                return Err(WorkerError::Config {
                    reason: "memory_limit is zero, or its enforcer or cgroup was set without it",
                });
            }
            Some(MemoryLimit {
                enforcer: Some(MemoryEnforcer::Sampler),
                ..
            }) => {
                return Err(WorkerError::Config {
                    reason: "the sampler is not a kernel enforcer: use rss_hard_limit",
                });
            }
            _ => {}
        }
        if self.cpu_time_limit.is_some_and(|limit| limit.is_zero()) {
            return Err(WorkerError::Config {
                reason: "cpu_time_limit is zero",
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
            backoff: self.backoff,
            memory_limit: self.memory_limit,
            cpu_time_limit: self.cpu_time_limit,
            rss_hard_limit: self.rss_hard_limit,
            rss_sample_interval: self.rss_sample_interval,
            max_frame: self.max_frame,
            stderr_capacity: self.stderr_capacity,
            forward_stderr: self.forward_stderr,
            policy: self.policy,
        })
    }

    /// Builds the configuration, starts the first child and waits for its
    /// handshake.
    pub async fn spawn(self) -> Result<Worker, WorkerError> {
        Worker::start(self.build()?).await
    }
}
