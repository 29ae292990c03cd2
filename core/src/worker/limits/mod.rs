//! Limits the kernel enforces on each child: memory and CPU time.
//!
//! Where the parent's own sampling ([`rss_hard_limit`]) looks at the child
//! every few hundred milliseconds, these limits are enforced by the kernel
//! at the instant they are passed:
//!
//! - **Memory** ([`memory_limit`]): on Linux, a memory cgroup of the child's
//!   own (cgroup v2 `memory.max`, or v1 `memory.limit_in_bytes`) created
//!   under the parent's cgroup or a directory you name; the kernel's OOM
//!   killer ends the child when it passes the limit. Where no cgroup can be
//!   created, and on other Unixes, the address-space limit (`RLIMIT_AS`):
//!   an allocation past it fails, which a Rust child turns into an abort.
//!   On Windows, a job object's per-process memory limit.
//! - **CPU time** ([`cpu_time_limit`]): `RLIMIT_CPU` on Unix, the total CPU
//!   time a child may use over its life; the kernel sends SIGXCPU when it
//!   is used up.
//!
//! A death caused by either is reported as
//! [`WorkerError::MemoryLimit`] (naming the
//! [`MemoryEnforcer`]) or [`WorkerError::CpuLimit`].
//!
//! [`rss_hard_limit`]: super::WorkerBuilder::rss_hard_limit
//! [`memory_limit`]: super::WorkerBuilder::memory_limit
//! [`cpu_time_limit`]: super::WorkerBuilder::cpu_time_limit

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use tokio::process::Command;

use super::{ChildExit, Oom, WorkerConfig, WorkerError};

#[cfg(unix)]
mod rlimit;

#[cfg(target_os = "linux")]
mod cgroup;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(all(unix, not(target_os = "linux")))]
mod unix;
#[cfg(all(unix, not(target_os = "linux")))]
use unix as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

/// What enforced a memory limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemoryEnforcer {
    /// The parent sampled the child's resident set size during a request
    /// and killed it above [`rss_hard_limit`](super::WorkerBuilder::rss_hard_limit).
    Sampler,
    /// The child's own memory cgroup (Linux): the kernel's OOM killer ended
    /// it when its memory passed the cgroup's limit.
    Cgroup,
    /// The address-space limit (`RLIMIT_AS`, Unix): an allocation past it
    /// failed and the child aborted.
    AddressSpace,
    /// A job object's per-process memory limit (Windows): an allocation
    /// past it failed and the child aborted.
    JobObject,
}

impl MemoryEnforcer {
    /// A stable snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            MemoryEnforcer::Sampler => "sampler",
            MemoryEnforcer::Cgroup => "cgroup",
            MemoryEnforcer::AddressSpace => "address_space",
            MemoryEnforcer::JobObject => "job_object",
        }
    }
}

impl fmt::Display for MemoryEnforcer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemoryEnforcer::Sampler => "sampled by the parent",
            MemoryEnforcer::Cgroup => "enforced by its memory cgroup",
            MemoryEnforcer::AddressSpace => "enforced by the address-space limit (RLIMIT_AS)",
            MemoryEnforcer::JobObject => "enforced by its job object",
        })
    }
}

/// A memory limit the kernel enforces on every child of a worker; set with
/// [`WorkerBuilder::memory_limit`](super::WorkerBuilder::memory_limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLimit {
    /// The limit, in bytes.
    pub bytes: u64,
    /// The enforcer to use; `None` picks the best the platform allows (see
    /// the [module docs](self)).
    pub enforcer: Option<MemoryEnforcer>,
    /// Where children's memory cgroups are created (Linux); `None` means
    /// under the parent's own memory cgroup.
    pub cgroup_parent: Option<PathBuf>,
}

/// Which kernel limit ended a child (the figures are in the worker's
/// configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitHit {
    /// The memory limit, enforced by `enforcer`.
    Memory {
        /// What enforced it.
        enforcer: MemoryEnforcer,
    },
    /// The CPU-time limit.
    CpuTime,
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitHit::Memory { enforcer } => write!(f, "ended by its memory limit, {enforcer}"),
            LimitHit::CpuTime => f.write_str("ended by its CPU-time limit"),
        }
    }
}

/// What a platform's guard set up for one child.
#[derive(Debug)]
pub(super) struct Prepared<G> {
    pub(super) guard: G,
    /// The memory limit and its enforcer, if one is set.
    pub(super) memory: Option<(u64, MemoryEnforcer)>,
}

/// A limit that could not be set up: what was being done, and why.
#[derive(Debug)]
pub(super) struct SetupError {
    pub(super) what: &'static str,
    pub(super) source: std::io::Error,
}

impl SetupError {
    pub(super) fn new(what: &'static str, source: std::io::Error) -> Self {
        Self { what, source }
    }

    /// The platform offers no such enforcer.
    pub(super) fn unsupported(what: &'static str, why: &'static str) -> Self {
        Self::new(
            what,
            std::io::Error::new(std::io::ErrorKind::Unsupported, why),
        )
    }
}

/// The kernel limits of one child, from before its spawn until it is gone.
#[derive(Debug)]
pub(crate) struct Limits {
    memory: Option<(u64, MemoryEnforcer)>,
    cpu: Option<Duration>,
    guard: platform::Guard,
}

impl Limits {
    /// Sets up what the limits of generation `number` need before spawn
    /// (a memory cgroup, for instance).
    pub(crate) fn prepare(config: &WorkerConfig, number: u64) -> Result<Self, WorkerError> {
        let Prepared { guard, memory } =
            platform::Guard::prepare(config.memory_limit.as_ref(), config.cpu_time_limit).map_err(
                |SetupError { what, source }| WorkerError::Limits {
                    generation: number,
                    what,
                    source,
                },
            )?;
        Ok(Self {
            memory,
            cpu: config.cpu_time_limit,
            guard,
        })
    }

    /// Makes the child start under the limits (before spawn).
    pub(crate) fn install(&self, command: &mut Command) {
        self.guard.install(command);
    }

    /// Puts the spawned child under the limits that can only be set after
    /// spawn (a Windows job object).
    pub(crate) fn attach(
        &mut self,
        child: &dyn process_wrap::tokio::ChildWrapper,
    ) -> std::io::Result<()> {
        self.guard.attach(child)
    }

    /// What enforces the memory limit, if one is set.
    pub(crate) fn memory_enforcer(&self) -> Option<MemoryEnforcer> {
        self.memory.map(|(_, enforcer)| enforcer)
    }

    /// Which limit, if any, explains `exit`.
    pub(crate) fn explain(&self, exit: &ChildExit) -> Option<LimitHit> {
        if self.cpu.is_some() && platform::is_cpu_signal(exit.signal) {
            return Some(LimitHit::CpuTime);
        }
        let (_, enforcer) = self.memory?;
        let hit = match enforcer {
            MemoryEnforcer::Cgroup => self.guard.oom_killed(),
            MemoryEnforcer::AddressSpace | MemoryEnforcer::JobObject => {
                exit.oom == Oom::AllocationFailed
            }
            MemoryEnforcer::Sampler => false,
        };
        hit.then_some(LimitHit::Memory { enforcer })
    }

    /// Waits, briefly, until what holds the limits can be removed, and
    /// removes it. For after the child and its group were killed.
    pub(crate) async fn release(&mut self) {
        self.guard.release().await;
    }
}
