//! Windows: `K32GetProcessMemoryInfo` (`WorkingSetSize`) on a process handle
//! opened once with `PROCESS_QUERY_LIMITED_INFORMATION`.
//!
//! The open handle keeps the process object, and so its PID, from being
//! reused; once the process has exited every sample is `None`.

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};

use windows_sys::Win32::Foundation::STILL_ACTIVE;
use windows_sys::Win32::System::ProcessStatus::{K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
};

/// A handle on one process, if it could be opened; closed on drop.
#[derive(Debug)]
pub(super) struct Sampler {
    process: Option<OwnedHandle>,
}

impl Sampler {
    /// Opens the process; a failure makes every sample `None`.
    pub(super) fn new(pid: u32) -> Self {
        // SAFETY: OpenProcess takes plain values and returns a new handle
        // or null.
        let raw = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
        let process = if raw.is_null() {
            None
        } else {
            // SAFETY: `raw` is a valid handle that nothing else owns.
            Some(unsafe { OwnedHandle::from_raw_handle(raw) })
        };
        Self { process }
    }

    /// The working set in bytes, or `None` when the process has exited or
    /// cannot be queried.
    pub(super) fn sample(&mut self) -> Option<u64> {
        let handle = self.process.as_ref()?.as_raw_handle();
        let mut counters = PROCESS_MEMORY_COUNTERS::default();
        let size = u32::try_from(size_of::<PROCESS_MEMORY_COUNTERS>()).ok()?;
        // SAFETY: `handle` is open for as long as `self`; `counters` is a
        // writable PROCESS_MEMORY_COUNTERS of `size` bytes.
        let ok = unsafe { K32GetProcessMemoryInfo(handle, &mut counters, size) };
        if ok == 0 {
            return None;
        }
        // Checked after the query: a process still running now was running
        // when it was measured.
        let mut exit_code = 0_u32;
        // SAFETY: `handle` is open; `exit_code` is a writable u32.
        let ok = unsafe { GetExitCodeProcess(handle, &mut exit_code) };
        if ok == 0 || i32::try_from(exit_code).ok() != Some(STILL_ACTIVE) {
            return None;
        }
        u64::try_from(counters.WorkingSetSize).ok()
    }
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use crate::rss::{Rss, RssSampler};

    #[test]
    fn an_exited_child_gives_unavailable() {
        let mut child = Command::new("cmd.exe")
            .args(["/C", "ping -n 30 127.0.0.1 > NUL"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn cmd.exe");
        let mut sampler = RssSampler::new(child.id());
        let alive = sampler.sample();
        child.kill().expect("kill cmd.exe");
        child.wait().expect("wait for cmd.exe");

        assert!(alive.bytes().is_some_and(|bytes| bytes > 0), "{alive:?}");
        assert_eq!(sampler.sample(), Rss::Unavailable);
    }
}
