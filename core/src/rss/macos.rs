//! macOS: `proc_pidinfo(PROC_PIDTASKINFO)` → `pti_resident_size`.
//!
//! Written against the `libc` declarations but never compiled nor run in
//! this project's CI (Linux and a Windows cross-check only): treat it as
//! untested. The PID is looked up on every sample, so sampling a PID after
//! its process was reaped can read whichever process holds it next.

use std::ffi::{c_int, c_void};

use libc::{PROC_PIDTASKINFO, proc_pidinfo, proc_taskinfo};

/// One process's PID, if it fits `pid_t`.
#[derive(Debug)]
pub(super) struct Sampler {
    pid: Option<c_int>,
}

impl Sampler {
    /// Remembers `pid`; one that does not fit `pid_t` makes every sample
    /// `None`.
    pub(super) fn new(pid: u32) -> Self {
        Self {
            pid: c_int::try_from(pid).ok(),
        }
    }

    /// Resident bytes, or `None` when the process cannot be queried.
    pub(super) fn sample(&mut self) -> Option<u64> {
        let pid = self.pid?;
        let size = c_int::try_from(size_of::<proc_taskinfo>()).ok()?;
        // SAFETY: proc_taskinfo is plain integers, for which zero is valid.
        let mut info: proc_taskinfo = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a writable proc_taskinfo of `size` bytes.
        let written = unsafe {
            proc_pidinfo(
                pid,
                PROC_PIDTASKINFO,
                0,
                (&raw mut info).cast::<c_void>(),
                size,
            )
        };
        (written == size).then_some(info.pti_resident_size)
    }
}
