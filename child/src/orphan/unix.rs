//! The process group on Unix: a leader takes its group down with it.

use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::unistd::{Pid, getpgrp, getpid};

/// Proof that this process leads its process group and has installed the
/// SIGTERM handler that kills the group.
#[derive(Debug)]
pub(crate) struct Leader(());

impl Leader {
    /// If this process leads its process group, installs a SIGTERM handler
    /// that kills the whole group with SIGKILL, and returns the proof.
    /// Returns `None`, installing nothing, for a process that does not lead
    /// its group, or if the handler cannot be installed.
    pub(crate) fn claim() -> Option<Self> {
        if getpgrp() != getpid() {
            return None;
        }
        let action = SigAction::new(
            SigHandler::Handler(on_sigterm),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: `on_sigterm` only calls async-signal-safe functions
        // (`kill` and `_exit`) and touches no memory.
        match unsafe { sigaction(Signal::SIGTERM, &action) } {
            Ok(_) => Some(Self(())),
            Err(err) => {
                eprintln!("bulkhead child: cannot install the SIGTERM handler: {err}");
                None
            }
        }
    }

    /// Kills the whole process group, this process included, with SIGKILL.
    /// Exits with `code` should that fail.
    pub(crate) fn kill_group(&self, code: u8) -> ! {
        // SIGKILL to our own group is delivered to this process before
        // `kill` returns, so the exit below only runs if the call failed.
        if let Err(err) = nix::sys::signal::kill(Pid::from_raw(0), Signal::SIGKILL) {
            eprintln!("bulkhead child: cannot kill the process group: {err}");
        }
        std::process::exit(i32::from(code))
    }
}

/// SIGTERM: kill the group, this process included.
extern "C" fn on_sigterm(_signal: libc::c_int) {
    // SAFETY: `kill` and `_exit` are async-signal-safe. `_exit` only runs if
    // `kill` failed; 143 is the conventional code for death by SIGTERM.
    unsafe {
        libc::kill(0, libc::SIGKILL);
        libc::_exit(128 + libc::SIGTERM);
    }
}
