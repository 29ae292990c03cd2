//! The platform-independent face of the sampler.

use super::{Rss, sys};

/// Samples one process's resident set size.
///
/// The process is opened once, in [`RssSampler::new`]; each
/// [`sample`](RssSampler::sample) then costs one system call on Linux,
/// Windows and macOS (see the [module docs](super) for the figures).
///
/// On Linux and Windows the sampler holds the process itself (a
/// `/proc/<pid>/statm` descriptor, a process handle), so once the process
/// has exited every sample is [`Rss::Unavailable`], even if its PID has been
/// given to another process. On macOS and the `sysinfo` fallback the PID is
/// looked up afresh each time; stop sampling a child once it has been reaped.
///
/// ```
/// use bulkhead::rss::{Rss, RssSampler};
///
/// // u32::MAX is no process's PID.
/// assert_eq!(RssSampler::new(u32::MAX).sample(), Rss::Unavailable);
/// ```
#[derive(Debug)]
pub struct RssSampler {
    inner: sys::Sampler,
}

impl RssSampler {
    /// A sampler for process `pid`. Never fails: what cannot be opened makes
    /// every sample Unavailable.
    pub fn new(pid: u32) -> Self {
        Self {
            inner: sys::Sampler::new(pid),
        }
    }

    /// One sample; `Rss::Unavailable` when it cannot be taken (never zero).
    pub fn sample(&mut self) -> Rss {
        match self.inner.sample() {
            Some(0) | None => Rss::Unavailable,
            Some(bytes) => Rss::Bytes(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes resident in this test process now.
    fn own_rss() -> u64 {
        match RssSampler::new(std::process::id()).sample() {
            Rss::Bytes(bytes) => bytes,
            Rss::Unavailable => panic!("this process's RSS is unavailable"),
        }
    }

    #[test]
    fn sampling_this_process_gives_a_plausible_figure() {
        let bytes = own_rss();
        // A Rust test binary holds at least a few hundred KiB and, here, far
        // less than 64 GiB.
        assert!(bytes > 256 * 1024, "{bytes} bytes is implausibly small");
        assert!(bytes < 64 << 30, "{bytes} bytes is implausibly large");
    }

    #[test]
    fn a_sampler_is_reusable() {
        let mut sampler = RssSampler::new(std::process::id());
        for _ in 0..100 {
            assert!(sampler.sample().bytes().is_some_and(|bytes| bytes > 0));
        }
    }

    #[test]
    fn a_pid_that_does_not_exist_gives_unavailable() {
        // Linux PIDs stop at 2^22; Windows PIDs are multiples of 4 and this
        // one would round down to 0xFFFF_FFFC, which no process holds.
        let mut sampler = RssSampler::new(u32::MAX);
        assert_eq!(sampler.sample(), Rss::Unavailable);
        assert_eq!(sampler.sample(), Rss::Unavailable);
    }

    #[test]
    fn touching_64_mib_shows_a_larger_rss() {
        const SIZE: usize = 64 << 20;
        let mut sampler = RssSampler::new(std::process::id());
        let before = sampler.sample().bytes().unwrap_or(0);
        // `vec![1; n]` writes every byte, so every page becomes resident.
        let block = std::hint::black_box(vec![1_u8; SIZE]);
        let after = sampler.sample().bytes().unwrap_or(0);
        drop(block);
        // Allow a quarter for other tests freeing memory in between.
        let grown = after.saturating_sub(before);
        assert!(
            grown >= (SIZE as u64) * 3 / 4,
            "RSS grew by {grown} bytes ({before} -> {after}) after touching {SIZE}"
        );
    }

    #[test]
    fn the_sampler_is_send() {
        fn assert_send<T: Send + std::fmt::Debug>() {}
        assert_send::<RssSampler>();
    }
}
