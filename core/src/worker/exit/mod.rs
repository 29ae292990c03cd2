//! How a child process ended, told from its exit status.

use std::fmt;
use std::process::ExitStatus;

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
    /// Whether this looks like an out-of-memory kill.
    pub oom: Oom,
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
        }
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
        match self.oom {
            Oom::No => Ok(()),
            Oom::Suspected => f.write_str(" (likely an out-of-memory kill)"),
            Oom::Confirmed => f.write_str(" (out-of-memory kill recorded by the memory cgroup)"),
        }
    }
}
