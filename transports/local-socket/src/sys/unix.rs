//! Unix: abstract sockets on Linux, socket files in a 0700 directory
//! elsewhere.

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use interprocess::local_socket::ListenerOptions;
use interprocess::local_socket::tokio::Stream;

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

/// Ends the parent's sending direction: the child reads end of file, as it
/// would on a closed stdin pipe, while its last bytes can still be read.
pub(crate) fn shutdown_write(stream: &Stream) -> io::Result<()> {
    let Stream::UdSocket(socket) = stream;
    socket2::SockRef::from(socket).shutdown(std::net::Shutdown::Write)
}
