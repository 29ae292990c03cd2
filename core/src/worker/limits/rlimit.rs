//! Resource limits a child sets on itself between fork and exec.

use std::io;
use std::time::Duration;

/// The `setrlimit` limits of one child.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Rlimits {
    /// `RLIMIT_AS`, in bytes.
    pub(super) address_space: Option<u64>,
    /// `RLIMIT_CPU`, in whole seconds (rounded up).
    pub(super) cpu_seconds: Option<u64>,
}

impl Rlimits {
    pub(super) fn new(address_space: Option<u64>, cpu: Option<Duration>) -> Self {
        let cpu_seconds = cpu.map(|limit| {
            let whole = limit.as_secs();
            if limit.subsec_nanos() > 0 || whole == 0 {
                whole + 1
            } else {
                whole
            }
        });
        Self {
            address_space,
            cpu_seconds,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.address_space.is_none() && self.cpu_seconds.is_none()
    }

    /// Sets the limits on the calling process. Async-signal-safe (only
    /// `setrlimit`), so it may run between fork and exec.
    pub(super) fn apply(&self) -> io::Result<()> {
        if let Some(bytes) = self.address_space {
            set(libc::RLIMIT_AS, bytes, bytes)?;
        }
        // The soft limit sends SIGXCPU; one second later the hard limit
        // sends SIGKILL, for a child that ignores the first.
        if let Some(seconds) = self.cpu_seconds {
            set(libc::RLIMIT_CPU, seconds, seconds.saturating_add(1))?;
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_os = "linux"))]
type Resource = libc::c_int;

fn set(resource: Resource, soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we pass and nothing else.
    if unsafe { libc::setrlimit(resource, &limit) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether `signal` is the one the CPU-time limit sends.
pub(super) fn is_cpu_signal(signal: Option<i32>) -> bool {
    signal == Some(libc::SIGXCPU)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_rounds_up_to_whole_seconds() {
        let seconds = |millis| Rlimits::new(None, Some(Duration::from_millis(millis))).cpu_seconds;
        assert_eq!(seconds(0), Some(1));
        assert_eq!(seconds(1), Some(1));
        assert_eq!(seconds(1_000), Some(1));
        assert_eq!(seconds(1_001), Some(2));
        assert!(Rlimits::new(None, None).is_empty());
    }
}
