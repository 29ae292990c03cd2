//! The transport: a fresh listener and token per child.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use bulkhead::transport::{Connect, Transport, TransportError};
use tokio::process::Command;

use crate::NAME;
use crate::accept::AcceptChild;
use crate::address::SocketAddress;
use crate::listener::Bound;
use crate::platform;
use crate::token::Token;

/// A callback that sees each listener's address; see
/// [`LocalSocketTransport::on_listen`].
type Observer = Arc<dyn Fn(&SocketAddress) + Send + Sync>;

/// Frames over a local socket: a Unix domain socket, or a named pipe on
/// Windows. See the [crate docs](crate) for names, the token and cleanup.
///
/// ```
/// use bulkhead::Transport;
/// use bulkhead_local_socket::LocalSocketTransport;
///
/// let transport = LocalSocketTransport::new();
/// assert_eq!(transport.name(), "local-socket");
/// ```
#[derive(Clone, Default)]
pub struct LocalSocketTransport {
    directory: Option<PathBuf>,
    observer: Option<Observer>,
    any_process: bool,
}

impl LocalSocketTransport {
    /// A transport with the platform's default kind of name: an abstract
    /// socket on Linux, a socket file in a private directory under
    /// [`std::env::temp_dir`] on other Unixes, a named pipe on Windows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses socket files in private directories under `dir` instead of the
    /// default kind of name. Default: none (the platform's default).
    ///
    /// Each child still gets a directory of its own, mode 0700, created
    /// fresh and removed with its socket file as soon as the child has
    /// connected. `dir` must allow a path short enough for a Unix socket
    /// (about 100 bytes in all) and be UTF-8. Unix only: on Windows
    /// [`prepare`](Transport::prepare) fails with an I/O error of kind
    /// [`Unsupported`](std::io::ErrorKind::Unsupported).
    pub fn in_directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.directory = Some(dir.into());
        self
    }

    /// Admits a peer from any process of this user, as long as it presents
    /// the token, instead of only the spawned child and the processes of
    /// its group. For children whose connecting process leaves the child's
    /// process group (a launcher that calls `setsid`, say). Default: only
    /// the child's group, where the platform names a peer's process (see
    /// the [crate docs](crate)).
    pub fn any_process_of_this_user(mut self) -> Self {
        self.any_process = true;
        self
    }

    /// Calls `observe` with the address of each listener right after it is
    /// bound, before its child is spawned. A diagnostics hook: it sees the
    /// name, never the token, so it cannot be used to connect as the child.
    /// Default: none.
    pub fn on_listen(mut self, observe: impl Fn(&SocketAddress) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observe));
        self
    }

    fn bind(&self) -> std::io::Result<Bound> {
        match &self.directory {
            Some(dir) => Bound::in_directory(dir),
            None if platform::NAMESPACED_BY_DEFAULT => Bound::namespaced(),
            None => Bound::in_directory(&std::env::temp_dir()),
        }
    }
}

impl fmt::Debug for LocalSocketTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSocketTransport")
            .field("directory", &self.directory)
            .field("observer", &self.observer.is_some())
            .field("any_process", &self.any_process)
            .finish()
    }
}

impl Transport for LocalSocketTransport {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Binds a listener on a fresh name and makes a fresh token, and tells
    /// the child both. Must run inside a tokio runtime (the worker does).
    fn prepare(&self, command: &mut Command) -> Result<Box<dyn Connect>, TransportError> {
        let token = Token::generate().map_err(|source| TransportError::Io {
            what: "generating the local socket token",
            source,
        })?;
        let bound = self.bind().map_err(|source| TransportError::Io {
            what: "binding the local socket",
            source,
        })?;
        command
            .env(bulkhead_protocol::env::TRANSPORT, NAME)
            .env(crate::env::SOCKET, bound.address.to_string())
            .env(crate::env::TOKEN, token.as_str());
        if let Some(observe) = &self.observer {
            observe(&bound.address);
        }
        Ok(Box::new(AcceptChild {
            bound,
            token,
            any_process: self.any_process,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_is_object_safe() {
        let transport: Box<dyn Transport> = Box::new(LocalSocketTransport::new());
        assert_eq!(transport.name(), NAME);
    }

    #[tokio::test]
    async fn prepare_tells_the_child_where_and_what_to_present() {
        let seen = Arc::new(std::sync::Mutex::new(None));
        let observed = Arc::clone(&seen);
        let transport: Box<dyn Transport> =
            Box::new(LocalSocketTransport::new().on_listen(move |address| {
                *observed.lock().unwrap() = Some(address.clone());
            }));
        let mut command = Command::new("unused");
        let _connect = transport.prepare(&mut command).unwrap();
        let env: std::collections::HashMap<_, _> = command
            .as_std()
            .get_envs()
            .map(|(key, value)| (key.to_owned(), value.map(ToOwned::to_owned)))
            .collect();
        let get = |key: &str| {
            env.get(std::ffi::OsStr::new(key))
                .cloned()
                .flatten()
                .and_then(|value| value.into_string().ok())
                .unwrap()
        };
        assert_eq!(get(bulkhead_protocol::env::TRANSPORT), NAME);
        let address = seen.lock().unwrap().clone().unwrap();
        assert_eq!(get(crate::env::SOCKET), address.to_string());
        assert_eq!(get(crate::env::TOKEN).len(), 64);
    }
}
