//! How a child process ended, told from its exit status.

use std::fmt;
use std::process::ExitStatus;

use super::LimitHit;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

#[cfg(target_os = "linux")]
mod cgroup;
#[cfg(target_os = "linux")]
pub(crate) use cgroup::oom_kills;
#[cfg(not(target_os = "linux"))]
mod no_cgroup;
#[cfg(not(target_os = "linux"))]
pub(crate) use no_cgroup::oom_kills;

/// Whether the kernel's out-of-memory killer ended the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oom {
    /// Nothing points to it.
    No,
    /// Killed by SIGKILL that bulkhead did not send: the usual signature of
    /// an OOM kill, unconfirmed.
    Suspected,
    /// As `Suspected`, and the memory cgroup recorded an OOM kill while the
    /// child ran (`memory.events`). The count is cgroup-wide, so another
    /// process of the same cgroup could be the victim.
    Confirmed,
    /// The child ended abnormally right after its stderr reported a failed
    /// memory allocation (Rust's `memory allocation of N bytes failed`,
    /// C++'s `std::bad_alloc`, an `out of memory` message): it ran out of
    /// memory and aborted.
    AllocationFailed,
}

/// How a child process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildExit {
    /// Exit code, when the child exited normally.
    pub code: Option<i32>,
    /// Terminating signal number (Unix), when a signal ended the child.
    pub signal: Option<i32>,
    /// The signal's name, such as `"SIGABRT"`.
    pub signal_name: Option<&'static str>,
    /// Whether bulkhead itself signalled the child (SIGTERM or SIGKILL, or
    /// ended its job on Windows).
    pub killed_by_parent: bool,
    /// Whether this looks like an out-of-memory kill or abort.
    pub oom: Oom,
    /// The kernel limit that ended the child, if one did (see
    /// [`WorkerBuilder::memory_limit`](super::WorkerBuilder::memory_limit)
    /// and [`cpu_time_limit`](super::WorkerBuilder::cpu_time_limit)).
    pub limit: Option<LimitHit>,
}

impl ChildExit {
    /// Classifies an exit status. `oom_kills_at_start` is the memory
    /// cgroup's OOM-kill count when the child started, where readable.
    pub fn from_status(
        status: ExitStatus,
        killed_by_parent: bool,
        oom_kills_at_start: Option<u64>,
    ) -> Self {
        let signal = platform::signal(&status);
        let oom = match signal {
            Some(signal) if platform::is_sigkill(signal) && !killed_by_parent => {
                match (oom_kills_at_start, oom_kills()) {
                    (Some(before), Some(now)) if now > before => Oom::Confirmed,
                    _ => Oom::Suspected,
                }
            }
            _ => Oom::No,
        };
        Self {
            code: status.code(),
            signal,
            signal_name: signal.and_then(platform::signal_name),
            killed_by_parent,
            oom,
            limit: None,
        }
    }

    /// The same exit, classified as an out-of-memory abort when it was
    /// abnormal and the end of the child's stderr reports a failed
    /// allocation.
    pub(crate) fn with_stderr(mut self, stderr_tail: &str) -> Self {
        if !self.success() && self.oom == Oom::No && reports_failed_allocation(stderr_tail) {
            self.oom = Oom::AllocationFailed;
        }
        self
    }

    /// The same exit with no out-of-memory suspicion: for a child that was
    /// asked to exit, which may end itself (and its group) by SIGKILL.
    pub(crate) fn without_oom(mut self) -> Self {
        self.oom = Oom::No;
        self
    }

    /// Whether the child ended with exit code 0 and no signal.
    pub fn success(&self) -> bool {
        self.code == Some(0) && self.signal.is_none()
    }
}

impl fmt::Display for ChildExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal, self.signal_name) {
            (Some(code), _, _) => write!(f, "exited with code {code}")?,
            (None, Some(signal), Some(name)) => write!(f, "killed by {name} ({signal})")?,
            (None, Some(signal), None) => write!(f, "killed by signal {signal}")?,
            (None, None, _) => f.write_str("ended without an exit code")?,
        }
        if self.killed_by_parent {
            f.write_str(", sent by bulkhead")?;
        }
        match (self.limit, self.oom) {
            (Some(limit), _) => write!(f, " ({limit})"),
            (None, Oom::No) => Ok(()),
            (None, Oom::Suspected) => f.write_str(" (likely an out-of-memory kill)"),
            (None, Oom::Confirmed) => {
                f.write_str(" (out-of-memory kill recorded by the memory cgroup)")
            }
            (None, Oom::AllocationFailed) => {
                f.write_str(" (out of memory: its stderr reports a failed allocation)")
            }
        }
    }
}

/// Bytes at the end of the stderr tail searched for an allocation failure.
const ALLOCATION_FAILURE_SEARCH: usize = 4096;

/// Whether the last lines of a child's stderr report a failed allocation.
fn reports_failed_allocation(stderr_tail: &str) -> bool {
    let mut start = stderr_tail.len().saturating_sub(ALLOCATION_FAILURE_SEARCH);
    while !stderr_tail.is_char_boundary(start) {
        start += 1;
    }
    let end = &stderr_tail[start..];
    end.lines().any(|line| {
        (line.contains("memory allocation of") && line.contains("failed"))
            || line.contains("std::bad_alloc")
            || line.to_ascii_lowercase().contains("out of memory")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_allocations_are_recognised_in_the_stderr_tail() {
        assert!(reports_failed_allocation(
            "working\nmemory allocation of 1073741824 bytes failed\n"
        ));
        assert!(reports_failed_allocation(
            "terminate called after throwing an instance of 'std::bad_alloc'"
        ));
        assert!(reports_failed_allocation("fatal: Out of memory"));
        assert!(!reports_failed_allocation(
            "memory allocation of 8 bytes succeeded"
        ));
        assert!(!reports_failed_allocation(""));
        let long = format!("out of memory\n{}", "x".repeat(10_000));
        assert!(!reports_failed_allocation(&long));
        let multibyte = format!("{}memory allocation of 1 bytes failed", "é".repeat(3_000));
        assert!(reports_failed_allocation(&multibyte));
    }
}
