//! A memory cgroup of one child's own (Linux, cgroup v2 or v1).
//!
//! Created before the spawn under the parent's own memory cgroup (or a
//! directory the caller names), with the limit written into it; the child
//! moves itself in between fork and exec, so everything it ever allocates
//! is charged to it; the directory is removed once the child and its group
//! are gone.

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Names cgroups uniquely within this process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// How long to wait for the last process to leave before removing.
const RELEASE_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// A cgroup directory, removed on drop (or by [`Cgroup::release`]).
#[derive(Debug)]
pub(super) struct Cgroup {
    dir: PathBuf,
    version: Version,
    /// `cgroup.procs`, ready for the child to write to before exec.
    procs: CString,
    removed: bool,
}

impl Cgroup {
    /// A fresh cgroup limited to `bytes`, under `parent` or else under the
    /// parent process's own memory cgroup (v2 first, then v1).
    pub(super) fn create(parent: Option<&Path>, bytes: u64) -> io::Result<Self> {
        let name = format!(
            "bulkhead-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let bases = match parent {
            Some(parent) => vec![parent.to_owned()],
            None => own_cgroups(),
        };
        let mut last = io::Error::new(
            io::ErrorKind::NotFound,
            "no memory cgroup of this process was found in /proc/self/mountinfo",
        );
        for base in bases {
            match Self::create_in(&base, &name, bytes) {
                Ok(cgroup) => return Ok(cgroup),
                Err(err) => last = err,
            }
        }
        Err(last)
    }

    fn create_in(base: &Path, name: &str, bytes: u64) -> io::Result<Self> {
        let version = if base.join("cgroup.controllers").exists() {
            Version::V2
        } else {
            Version::V1
        };
        let dir = base.join(name);
        std::fs::create_dir(&dir)?;
        let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the cgroup path"))?;
        // From here on, dropping the value removes the directory.
        let cgroup = Self {
            dir,
            version,
            procs,
            removed: false,
        };
        let limit = match version {
            Version::V2 => "memory.max",
            Version::V1 => "memory.limit_in_bytes",
        };
        let limit = cgroup.dir.join(limit);
        if !limit.exists() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "the memory controller is not enabled for the child cgroups of {}",
                    base.display()
                ),
            ));
        }
        std::fs::write(&limit, bytes.to_string())?;
        if version == Version::V2 {
            // Without swap the limit cannot be dodged by swapping out; a
            // kernel without swap accounting has no such file.
            let _no_swap = std::fs::write(cgroup.dir.join("memory.swap.max"), "0");
        }
        Ok(cgroup)
    }

    /// The path the child writes `0` to, to move itself in.
    pub(super) fn procs(&self) -> &CStr {
        &self.procs
    }

    /// OOM kills recorded in this cgroup.
    pub(super) fn oom_kills(&self) -> u64 {
        let file = match self.version {
            Version::V2 => "memory.events",
            Version::V1 => "memory.oom_control",
        };
        std::fs::read_to_string(self.dir.join(file))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("oom_kill "))
                    .and_then(|count| count.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// Removes the directory once its last process has left (they were
    /// killed already), waiting up to [`RELEASE_WAIT`].
    pub(super) async fn release(&mut self) {
        let deadline = tokio::time::Instant::now() + RELEASE_WAIT;
        loop {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => break,
                Err(err) if err.kind() == io::ErrorKind::NotFound => break,
                // Busy while a killed process is still on its way out.
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err(err) => {
                    tracing::warn!(cgroup = %self.dir.display(), error = %err, "cannot remove a child's memory cgroup");
                    break;
                }
            }
        }
        self.removed = true;
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if !self.removed {
            // Best effort: a cgroup still holding a process stays behind.
            let _busy = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Moves the calling process into the cgroup whose `cgroup.procs` is
/// `procs`. Async-signal-safe (open, write, close), so it may run between
/// fork and exec.
pub(super) fn join(procs: &CStr) -> io::Result<()> {
    // SAFETY: `procs` is a valid NUL-terminated path; the descriptor is
    // ours and closed before returning.
    unsafe {
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let written = libc::write(fd, b"0".as_ptr().cast(), 1);
        let error = (written != 1).then(io::Error::last_os_error);
        libc::close(fd);
        error.map_or(Ok(()), Err)
    }
}

/// This process's memory cgroup directories: the cgroup v2 one, then the v1
/// memory controller's, where mounted.
fn own_cgroups() -> Vec<PathBuf> {
    let (Ok(mounts), Ok(membership)) = (
        std::fs::read_to_string("/proc/self/mountinfo"),
        std::fs::read_to_string("/proc/self/cgroup"),
    ) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (v2, controller) in [(true, ""), (false, "memory")] {
        let Some((root, mount)) = mount_of(&mounts, v2) else {
            continue;
        };
        let Some(path) = membership.lines().find_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            let listed = controllers.split(',').any(|name| name == controller);
            (if v2 { controllers.is_empty() } else { listed }).then_some(path)
        }) else {
            continue;
        };
        // Inside a cgroup namespace the mount's root may be a sub-cgroup.
        let relative = path.strip_prefix(root).unwrap_or(path);
        found.push(mount.join(relative.trim_start_matches('/')));
    }
    found
}

/// The root and mount point of the cgroup2 mount (`v2`) or of the v1
/// memory controller's mount, from `/proc/self/mountinfo`.
fn mount_of(mountinfo: &str, v2: bool) -> Option<(&str, PathBuf)> {
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let mut fields = mount.split(' ');
        let root = fields.nth(3)?;
        let point = fields.next()?;
        let mut fs = fs.split(' ');
        let (kind, _source, options) = (fs.next()?, fs.next()?, fs.next().unwrap_or(""));
        let wanted = if v2 {
            kind == "cgroup2"
        } else {
            kind == "cgroup" && options.split(',').any(|option| option == "memory")
        };
        wanted.then(|| (root, PathBuf::from(point)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
35 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
37 30 0:33 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu";

    #[test]
    fn mounts_are_found_by_kind_and_controller() {
        assert_eq!(
            mount_of(MOUNTINFO, true),
            Some(("/", PathBuf::from("/sys/fs/cgroup/unified")))
        );
        assert_eq!(
            mount_of(MOUNTINFO, false),
            Some(("/", PathBuf::from("/sys/fs/cgroup/memory")))
        );
        assert_eq!(mount_of("", true), None);
    }
}
