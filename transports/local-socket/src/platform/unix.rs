//! Unix: abstract sockets on Linux, socket files in a 0700 directory
//! elsewhere.

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use interprocess::local_socket::ListenerOptions;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon;

use crate::token::Rejection;

/// Linux has an abstract socket namespace: no file to protect or remove.
/// Other Unixes would map a namespaced name to a file in `/tmp`, so they get
/// a socket file in a private directory instead.
pub(crate) const NAMESPACED_BY_DEFAULT: bool = cfg!(target_os = "linux");

/// Creates `path`, which must not exist yet, readable and searchable by the
/// owner only: nobody else can reach a socket file inside.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().mode(0o700).create(path)
}

/// Nothing to add on Unix: a socket file is guarded by its private
/// directory, and an abstract socket cannot be guarded by permissions at all
/// (any local process may connect), which is what the token is for.
pub(crate) fn lock_down(options: ListenerOptions<'_>) -> io::Result<ListenerOptions<'_>> {
    Ok(options)
}

/// Whether the peer on `stream` may be the spawned `child`: it must run as
/// this process's effective user, and, where the platform names the peer's
/// process (Linux, the BSDs), be the child itself or a process of the
/// child's group (a launcher's own child, say). Checked from the socket's
/// credentials before anything is read.
pub(crate) fn check_peer(stream: &Stream, child: Option<u32>) -> Result<(), Rejection> {
    let creds = stream.peer_creds().map_err(Rejection::NoCredentials)?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let own = unsafe { libc::geteuid() };
    match creds.euid() {
        Some(uid) if uid != own => return Err(Rejection::ForeignUser(uid)),
        _ => {}
    }
    let (Some(peer), Some(child)) = (creds.pid().filter(|pid| *pid > 0), child) else {
        // No process to compare (the peer is in another pid namespace, or
        // the platform does not say): the user and the token decide.
        return Ok(());
    };
    let peer = u32::try_from(peer).unwrap_or(0);
    if peer == child || process_group(peer) == Some(child) {
        Ok(())
    } else {
        Err(Rejection::ForeignProcess(peer))
    }
}

/// The process group of `pid`, if it still runs.
fn process_group(pid: u32) -> Option<u32> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: getpgid takes any pid and returns -1 if there is none.
    let group = unsafe { libc::getpgid(pid) };
    u32::try_from(group).ok()
}

/// Ends the parent's sending direction: the child reads end of file, as it
/// would on a closed stdin pipe, while its last bytes can still be read.
pub(crate) fn shutdown_write(stream: &Stream) -> io::Result<()> {
    let Stream::UdSocket(socket) = stream;
    socket2::SockRef::from(socket).shutdown(std::net::Shutdown::Write)
}
