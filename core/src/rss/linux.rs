//! Linux: `/proc/<pid>/statm`, opened once and re-read with `pread`.
//!
//! The descriptor is bound to the process, not to its PID: once the process
//! has been reaped, reads fail with `ESRCH`, so a PID handed to another
//! process can never yield that process's figure. A zombie (exited, not yet
//! reaped) reads as all zeros, which the caller turns into `Unavailable`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use nix::unistd::{SysconfVar, sysconf};

/// Room for the seven decimal fields of `statm`; only the first two matter.
const BUF_LEN: usize = 256;

/// The open `statm` file of one process, if it could be opened.
#[derive(Debug)]
pub(super) struct Sampler {
    statm: Option<File>,
}

impl Sampler {
    /// Opens `/proc/<pid>/statm`; a failure makes every sample `None`.
    pub(super) fn new(pid: u32) -> Self {
        Self {
            statm: File::open(format!("/proc/{pid}/statm")).ok(),
        }
    }

    /// Resident bytes, or `None` when the file cannot be read or parsed.
    pub(super) fn sample(&mut self) -> Option<u64> {
        let statm = self.statm.as_ref()?;
        let mut buf = [0_u8; BUF_LEN];
        let len = statm.read_at(&mut buf, 0).ok()?;
        let pages = resident_pages(buf.get(..len)?)?;
        pages.checked_mul(page_size()?)
    }
}

/// The system page size, asked of the OS once per process.
fn page_size() -> Option<u64> {
    static PAGE_SIZE: OnceLock<Option<u64>> = OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        sysconf(SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|size| u64::try_from(size).ok())
    })
}

/// The second field of `statm` (resident pages). `None` unless that field is
/// whole: digits followed by a separator.
fn resident_pages(statm: &[u8]) -> Option<u64> {
    let mut fields = statm.split(|&byte| byte == b' ');
    let _size = fields.next()?;
    let resident = fields.next()?;
    // A third piece exists only if a separator ended the second field; a
    // read cut short inside it must not pass for a smaller number.
    fields.next()?;
    if resident.is_empty() || !resident.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(resident).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;
    use crate::rss::{Rss, RssSampler};

    #[test]
    fn statm_parsing_takes_the_second_field() {
        assert_eq!(resident_pages(b"5426 1234 987 100 0 300 0\n"), Some(1234));
        assert_eq!(resident_pages(b"0 0 0 0 0 0 0\n"), Some(0));
    }

    #[test]
    fn statm_parsing_rejects_truncated_or_garbled_input() {
        assert_eq!(resident_pages(b""), None);
        assert_eq!(resident_pages(b"5426"), None);
        assert_eq!(resident_pages(b"5426 12"), None);
        assert_eq!(resident_pages(b"5426  12 0"), None);
        assert_eq!(resident_pages(b"5426 -12 0"), None);
        assert_eq!(resident_pages(b"5426 99999999999999999999999 0"), None);
    }

    #[test]
    fn the_page_size_is_known() {
        assert!(page_size().is_some_and(|size| size >= 4096 && size.is_power_of_two()));
    }

    #[test]
    fn a_reaped_child_gives_unavailable_not_zero_nor_another_figure() {
        let mut child = Command::new("sleep")
            .arg("10")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        let mut sampler = RssSampler::new(child.id());
        let raw = Sampler::new(child.id());
        let alive = sampler.sample();
        child.kill().expect("kill sleep");
        child.wait().expect("reap sleep");

        assert!(alive.bytes().is_some_and(|bytes| bytes > 0), "{alive:?}");
        // The kept-open descriptor now fails with ESRCH, whoever holds the
        // PID next.
        let statm = raw.statm.as_ref().expect("statm was opened");
        let mut buf = [0_u8; BUF_LEN];
        let error = statm.read_at(&mut buf, 0).expect_err("read after reap");
        assert_eq!(error.raw_os_error(), Some(nix::libc::ESRCH), "{error}");
        for _ in 0..3 {
            assert_eq!(sampler.sample(), Rss::Unavailable);
        }
    }
}
