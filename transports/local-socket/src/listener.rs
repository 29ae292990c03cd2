//! A listener on a fresh name, and the cleanup of whatever that name left
//! in the file system.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use interprocess::local_socket::ListenerOptions;
use interprocess::local_socket::tokio::Listener;

use crate::address::SocketAddress;
use crate::platform;
use crate::token::{NAME_BYTES, random_hex};

/// The socket file's name inside its private directory.
const SOCKET_FILE: &str = "sock";

/// How long binding may retry while replacing a stale socket file.
const MAX_SPIN: Duration = Duration::from_millis(100);

/// A bound listener. Dropping it closes the listener, then removes the
/// socket file and its private directory, if it has them.
#[derive(Debug)]
pub(crate) struct Bound {
    pub(crate) listener: Listener,
    pub(crate) address: SocketAddress,
    // Declared after the listener, so it is dropped after it.
    _dir: Option<PrivateDir>,
}

impl Bound {
    /// Listens on a fresh name in the platform's socket namespace.
    pub(crate) fn namespaced() -> io::Result<Self> {
        let address = SocketAddress::Namespaced(format!("bulkhead-{}", random_hex(NAME_BYTES)?));
        Ok(Self {
            listener: bind(&address)?,
            address,
            _dir: None,
        })
    }

    /// Listens on a socket file in a fresh private directory under `parent`.
    pub(crate) fn in_directory(parent: &Path) -> io::Result<Self> {
        let dir = PrivateDir::create(parent)?;
        let address = SocketAddress::Path(dir.socket.clone());
        Ok(Self {
            listener: bind(&address)?,
            address,
            _dir: Some(dir),
        })
    }
}

/// Binds a listener to `address`, replacing a stale socket file there.
pub(crate) fn bind(address: &SocketAddress) -> io::Result<Listener> {
    let options = ListenerOptions::new()
        .name(address.to_name()?)
        .try_overwrite(true)
        .max_spin_time(MAX_SPIN);
    platform::lock_down(options)?.create_tokio()
}

/// A directory only the owner can enter, holding one socket file; both are
/// removed on drop.
#[derive(Debug)]
struct PrivateDir {
    dir: PathBuf,
    socket: PathBuf,
}

impl PrivateDir {
    fn create(parent: &Path) -> io::Result<Self> {
        let dir = parent.join(format!("bulkhead-{}", random_hex(NAME_BYTES)?));
        // The child reads the path back from a UTF-8 environment value.
        if dir.to_str().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the socket directory {} is not UTF-8", dir.display()),
            ));
        }
        platform::create_private_dir(&dir)?;
        let socket = dir.join(SOCKET_FILE);
        Ok(Self { dir, socket })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        // The listener may have removed its file already.
        if let Err(err) = std::fs::remove_file(&self.socket)
            && err.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.socket.display(), error = %err, "cannot remove the socket file");
        }
        if let Err(err) = std::fs::remove_dir(&self.dir) {
            tracing::warn!(path = %self.dir.display(), error = %err, "cannot remove the socket directory");
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn a_stale_socket_file_does_not_block_the_bind() {
        let dir = std::env::temp_dir().join(format!("bulkhead-test-{}", random_hex(8).unwrap()));
        platform::create_private_dir(&dir).unwrap();
        let path = dir.join(SOCKET_FILE);
        // A listener that goes away without removing its file, as a crashed
        // process would leave it.
        let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(stale);
        assert!(path.exists());
        let listener = bind(&SocketAddress::Path(path.clone())).unwrap();
        drop(listener);
        std::fs::remove_file(&path).ok();
        std::fs::remove_dir(&dir).unwrap();
    }

    #[tokio::test]
    async fn the_socket_file_and_its_directory_go_with_the_listener() {
        let bound = Bound::in_directory(&std::env::temp_dir()).unwrap();
        let socket = bound.address.path().unwrap().to_owned();
        let dir = socket.parent().unwrap().to_owned();
        assert!(socket.exists());
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(bound);
        assert!(!socket.exists() && !dir.exists());
    }
}
