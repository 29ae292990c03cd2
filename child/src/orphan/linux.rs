//! Parent death on Linux: `PR_SET_PDEATHSIG`, a check for the race at start,
//! and a check at channel EOF.

use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::getppid;

use super::Parent;

/// `PF_EXITING` in `/proc/<pid>/stat`'s flags: the task has begun to exit.
const PF_EXITING: u64 = 0x4;

/// Arms SIGTERM for when the parent dies, then tells whether it already
/// has: this process's parent is no longer the one named by
/// [`bulkhead_protocol::env::PARENT_PID`]. Without that variable (a child started by
/// hand) the parent counts as alive. A parent that is PID 1 is alive too:
/// the check compares with the recorded pid, never with 1.
///
/// The parent must launch this process directly (or through wrappers that
/// `exec` it); a wrapper that forks would look like a dead parent.
pub(crate) fn watch_parent() -> Parent {
    if let Err(err) = prctl::set_pdeathsig(Signal::SIGTERM) {
        eprintln!("bulkhead child: cannot set the parent-death signal: {err}");
    }
    match expected_parent() {
        Some(pid) if getppid().as_raw() != pid => Parent::Gone,
        _ => Parent::Alive,
    }
}

/// At channel EOF: whether the parent is dead or dying, rather than alive
/// and closing the channel on purpose.
///
/// A dying parent's pipes close before the kernel sends the parent-death
/// signal, so a child that exits at EOF may be gone before the signal
/// comes. But every thread of the parent is marked as exiting before its
/// descriptors close, so this check, made after EOF, tells the two apart.
pub(crate) fn parent_dying() -> bool {
    let Some(pid) = expected_parent() else {
        return false;
    };
    if getppid().as_raw() != pid {
        return true;
    }
    // Still our parent, so its pid cannot have been reused. Unreadable
    // (no /proc): not known to be dying.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| exiting(&stat))
}

/// The parent's pid as the parent recorded it.
fn expected_parent() -> Option<i32> {
    std::env::var(bulkhead_protocol::env::PARENT_PID)
        .ok()
        .and_then(|pid| pid.parse().ok())
}

/// Whether a `/proc/<pid>/stat` line describes a process that is exiting:
/// a zombie, dead, or flagged `PF_EXITING`.
fn exiting(stat: &str) -> bool {
    // The command name, in parentheses, may itself contain ") ".
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let mut fields = rest.split_whitespace();
    let state = fields.next();
    // After the state: ppid, pgrp, session, tty_nr, tpgid, then flags.
    let flags = fields.nth(5).and_then(|flags| flags.parse::<u64>().ok());
    matches!(state, Some("Z" | "X" | "x")) || flags.is_some_and(|flags| flags & PF_EXITING != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_process_is_not_exiting() {
        let stat = "42 (bulkhead) S 1 42 42 0 -1 4194560 100 0 0 0";
        assert!(!exiting(stat));
    }

    #[test]
    fn a_flagged_or_zombie_process_is_exiting() {
        assert!(exiting("42 (a b) c) R 1 42 42 0 -1 4194564 100 0 0 0"));
        assert!(exiting("42 (bulkhead) Z 1 42 42 0 -1 4227084 100 0 0 0"));
    }

    #[test]
    fn a_garbled_line_is_not_exiting() {
        assert!(!exiting("garbage"));
        assert!(!exiting("42 (x) S"));
    }

    #[test]
    fn this_process_is_not_exiting() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(!exiting(&stat));
    }
}
