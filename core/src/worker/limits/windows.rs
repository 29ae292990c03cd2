//! Windows: a job object's per-process memory limit.
//!
//! The child already runs in the job object that contains its process tree
//! (see `process/windows.rs`); the memory limit is a second job, nested in
//! that one, which the child is assigned to right after it is spawned.

use std::io;
use std::os::windows::io::AsRawHandle;
use std::time::Duration;

use tokio::process::Command;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_PROCESS_MEMORY,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
    SetInformationJobObject,
};

use super::{MemoryEnforcer, MemoryLimit, Prepared, SetupError};

/// What a child's limits hold: the memory-limit job, once assigned.
#[derive(Debug)]
pub(super) struct Guard {
    bytes: Option<u64>,
    job: Option<Job>,
}

/// An owned job object handle.
#[derive(Debug)]
struct Job(HANDLE);

// SAFETY: a job object handle may be used and closed from any thread.
unsafe impl Send for Job {}
// SAFETY: as above; the handle is never mutated through a shared reference.
unsafe impl Sync for Job {}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and closed once.
        unsafe {
            CloseHandle(self.0);
        }
    }
}

impl Guard {
    pub(super) fn prepare(
        memory: Option<&MemoryLimit>,
        cpu: Option<Duration>,
    ) -> Result<Prepared<Self>, SetupError> {
        if cpu.is_some() {
            return Err(SetupError::unsupported(
                "setting the CPU-time limit",
                "the CPU-time limit is not implemented on Windows",
            ));
        }
        let memory = match memory {
            None => None,
            Some(MemoryLimit {
                bytes,
                enforcer: None | Some(MemoryEnforcer::JobObject),
                ..
            }) => Some((*bytes, MemoryEnforcer::JobObject)),
            Some(_) => {
                return Err(SetupError::unsupported(
                    "choosing the memory enforcer",
                    "Windows offers the job object's memory limit",
                ));
            }
        };
        let guard = Self {
            bytes: memory.map(|(bytes, _)| bytes),
            job: None,
        };
        Ok(Prepared { guard, memory })
    }

    pub(super) fn install(&self, _command: &mut Command) {}

    /// Creates the memory-limit job and assigns the child to it.
    pub(super) fn attach(
        &mut self,
        child: &dyn process_wrap::tokio::ChildWrapper,
    ) -> io::Result<()> {
        let Some(bytes) = self.bytes else {
            return Ok(());
        };
        let process = child
            .process_handle()
            .ok_or_else(|| io::Error::other("the child has no process handle"))?;
        // SAFETY: null attributes and name create an unnamed job.
        let handle = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        let job = Job(handle);
        // SAFETY: an all-zero JOBOBJECT_EXTENDED_LIMIT_INFORMATION is valid.
        let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_PROCESS_MEMORY;
        info.ProcessMemoryLimit = usize::try_from(bytes).unwrap_or(usize::MAX);
        // SAFETY: `info` is the struct this information class expects, and
        // lives for the call.
        let set = unsafe {
            SetInformationJobObject(
                job.0,
                JobObjectExtendedLimitInformation,
                std::ptr::from_ref(&info).cast(),
                u32::try_from(std::mem::size_of_val(&info)).unwrap_or(u32::MAX),
            )
        };
        if set == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both handles are valid for the call.
        if unsafe { AssignProcessToJobObject(job.0, process.as_raw_handle()) } == 0 {
            return Err(io::Error::last_os_error());
        }
        self.job = Some(job);
        Ok(())
    }

    pub(super) fn oom_killed(&self) -> bool {
        false
    }

    pub(super) async fn release(&mut self) {
        self.job = None;
    }
}

/// Windows has no signals.
pub(super) fn is_cpu_signal(_signal: Option<i32>) -> bool {
    false
}
