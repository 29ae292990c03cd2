//! Platforms without a native call here: `sysinfo`, refreshing only the one
//! process's memory.
//!
//! A refresh costs ~40 µs on Linux (against ~0.5 µs for the native path), so
//! this is used only where nothing cheaper is wired up. It is compiled only
//! on such platforms and not by this project's CI. The PID is looked up on
//! every sample, so sampling a PID after its process was reaped can read
//! whichever process holds it next.

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// A `sysinfo` view of one process, if `sysinfo` supports this platform.
#[derive(Debug)]
pub(super) struct Sampler {
    pid: Pid,
    system: Option<System>,
}

impl Sampler {
    /// Prepares an empty `sysinfo` view; a failure makes every sample `None`.
    pub(super) fn new(pid: u32) -> Self {
        Self {
            pid: Pid::from_u32(pid),
            system: System::new().ok(),
        }
    }

    /// Resident bytes, or `None` when the process is not found.
    pub(super) fn sample(&mut self) -> Option<u64> {
        let system = self.system.as_mut()?;
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_memory(),
        );
        system.process(self.pid).map(sysinfo::Process::memory)
    }
}
