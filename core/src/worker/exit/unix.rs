use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::sys::signal::Signal;

pub(super) fn signal(status: &ExitStatus) -> Option<i32> {
    status.signal()
}

pub(super) fn is_sigkill(signal: i32) -> bool {
    signal == Signal::SIGKILL as i32
}

pub(super) fn signal_name(signal: i32) -> Option<&'static str> {
    Signal::try_from(signal).ok().map(Signal::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abort_is_named() {
        assert_eq!(signal_name(6), Some("SIGABRT"));
        assert_eq!(signal_name(11), Some("SIGSEGV"));
        assert_eq!(signal_name(9), Some("SIGKILL"));
    }
}
