//! Never outliving the parent.
//!
//! Two mechanisms, each with mirrored platform files:
//!
//! - **Parent death** (`linux.rs` / `fallback.rs`): on Linux the child asks
//!   the kernel for SIGTERM when its parent dies (`PR_SET_PDEATHSIG`), then
//!   checks that the parent named by [`bulkhead_protocol::env::PARENT_PID`] is still
//!   its parent, since it may have died before the request was made. At
//!   channel EOF it checks again whether the parent is dying, because a dying
//!   parent's pipes close before the signal is sent: a group leader then
//!   kills its group at once instead of exiting cleanly, so the signal
//!   arriving too late cannot leave grandchildren behind. Elsewhere this is
//!   a no-op: on Windows the parent's job object ends the child, and on
//!   other Unixes the child exits on channel EOF.
//! - **The process group** (`unix.rs` / `windows.rs`): the parent starts each
//!   child as the leader of its own process group. A leader installs a
//!   SIGTERM handler that kills the whole group, so that SIGTERM (from the
//!   parent's shutdown escalation or from the parent-death signal) takes
//!   every grandchild down too. A child that does not lead its group (one
//!   started by hand from a shell script, say) installs nothing, so it never
//!   kills a group that is not its own. Windows has no such groups; its job
//!   object covers grandchildren.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::{parent_dying, watch_parent};
#[cfg(not(target_os = "linux"))]
mod fallback;
#[cfg(not(target_os = "linux"))]
pub(crate) use fallback::{parent_dying, watch_parent};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::Leader;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::Leader;

/// Whether the parent that launched this process is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parent {
    /// Alive, or not known to be dead.
    Alive,
    /// Died before the parent-death signal was armed.
    Gone,
}
