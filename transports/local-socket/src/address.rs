//! Where a listener listens, in the form the child reads back.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::env::{SOCKET_NAMESPACED, SOCKET_PATH};
use interprocess::local_socket::{GenericFilePath, GenericNamespaced, Name, ToFsName, ToNsName};

/// The address of one child's listener, as the child finds it in
/// [`SOCKET`](crate::env::SOCKET).
///
/// Its [`Display`](fmt::Display) form is that variable's value and
/// [`FromStr`] reads it back:
///
/// ```
/// use bulkhead_local_socket::SocketAddress;
///
/// let address: SocketAddress = "ns:bulkhead-0123".parse().unwrap();
/// assert_eq!(address, SocketAddress::Namespaced("bulkhead-0123".into()));
/// assert_eq!(address.to_string(), "ns:bulkhead-0123");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketAddress {
    /// A name in the platform's socket namespace, with no file: an abstract
    /// Unix socket on Linux, a named pipe (`\\.\pipe\NAME`) on Windows.
    Namespaced(String),
    /// A Unix socket file. The transport puts it in a private directory of
    /// its own and removes both once the child has connected.
    Path(PathBuf),
}

impl SocketAddress {
    /// The socket file, for a [`Path`](Self::Path) address.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Namespaced(_) => None,
            Self::Path(path) => Some(path),
        }
    }

    /// The name `interprocess` binds or connects to: connect a
    /// [`Stream`](interprocess::local_socket::Stream) to it to reach the
    /// listener, as the child does.
    ///
    /// # Errors
    ///
    /// The platform has no such kind of name (a socket file on Windows).
    pub fn to_name(&self) -> io::Result<Name<'_>> {
        match self {
            Self::Namespaced(name) => name.as_str().to_ns_name::<GenericNamespaced>(),
            Self::Path(path) => path.as_path().to_fs_name::<GenericFilePath>(),
        }
    }
}

impl fmt::Display for SocketAddress {
    /// The value of [`SOCKET`](crate::env::SOCKET): `ns:NAME` or `path:PATH`. The
    /// transport only makes addresses whose paths are UTF-8.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Namespaced(name) => write!(f, "{SOCKET_NAMESPACED}{name}"),
            Self::Path(path) => write!(f, "{SOCKET_PATH}{}", path.display()),
        }
    }
}

impl FromStr for SocketAddress {
    type Err = AddressError;

    /// Reads the value of [`SOCKET`](crate::env::SOCKET) back.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if let Some(name) = value.strip_prefix(SOCKET_NAMESPACED) {
            Ok(Self::Namespaced(name.to_owned()))
        } else if let Some(path) = value.strip_prefix(SOCKET_PATH) {
            Ok(Self::Path(PathBuf::from(path)))
        } else {
            Err(AddressError(value.to_owned()))
        }
    }
}

/// A string that is not a [`SocketAddress`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a local socket address (expected `ns:NAME` or `path:PATH`): {0:?}")]
pub struct AddressError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_round_trip_through_the_environment_form() {
        for address in [
            SocketAddress::Namespaced("bulkhead-00ff".into()),
            SocketAddress::Path(PathBuf::from("/tmp/bulkhead-00ff/sock")),
        ] {
            assert_eq!(address.to_string().parse::<SocketAddress>(), Ok(address));
        }
    }

    #[test]
    fn an_unprefixed_value_is_an_error() {
        assert!("bulkhead-00ff".parse::<SocketAddress>().is_err());
    }
}
