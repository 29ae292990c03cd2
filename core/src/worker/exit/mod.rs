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

/// How a child process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildExit {
    /// Exit code, when the child exited normally.
    pub code: Option<i32>,
    /// Terminating signal number (Unix), when a signal ended the child.
    pub signal: Option<i32>,
    /// The signal's name, such as `"SIGABRT"`.
    pub signal_name: Option<&'static str>,
    /// Whether bulkhead itself killed the child.
    pub killed_by_parent: bool,
}

impl ChildExit {
    /// Classifies an exit status.
    pub fn from_status(status: ExitStatus, killed_by_parent: bool) -> Self {
        let signal = platform::signal(&status);
        Self {
            code: status.code(),
            signal,
            signal_name: signal.and_then(platform::signal_name),
            killed_by_parent,
        }
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
        Ok(())
    }
}
