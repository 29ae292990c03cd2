//! The child's half: a connection to the listener the parent opened for
//! this child, named in [`SOCKET`](crate::env::SOCKET), on which the child
//! first presents the one-time [`TOKEN`](crate::env::TOKEN).

mod half;

use std::io::{self, Write};

use bulkhead_protocol::transport::{ChildChannel, ChildTransport};
use interprocess::local_socket::Stream;
use interprocess::local_socket::traits::Stream as _;

use crate::env::{SOCKET, TOKEN};
use crate::{NAME, SocketAddress};

/// The child's half of the local-socket transport.
///
/// ```
/// use bulkhead_protocol::transport::ChildTransport;
///
/// assert_eq!(bulkhead_local_socket::LocalSocketChild.name(), "local-socket");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSocketChild;

impl ChildTransport for LocalSocketChild {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Connects to the parent's listener and presents the token.
    fn connect(&self) -> io::Result<ChildChannel> {
        let socket = env(SOCKET)?;
        let token = env(TOKEN)?;
        let address: SocketAddress = socket.parse().map_err(|err| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{SOCKET}: {err}"))
        })?;
        let mut stream = Stream::connect(address.to_name()?).map_err(|err| {
            io::Error::new(err.kind(), format!("cannot connect to {socket}: {err}"))
        })?;
        present(&mut stream, &token).map_err(|err| {
            io::Error::new(err.kind(), format!("cannot present the token: {err}"))
        })?;
        let (reader, writer) = half::halves(stream);
        Ok(ChildChannel::new(reader, writer))
    }
}

/// Writes the token in one write: its length, big-endian, then its bytes.
fn present(stream: &mut Stream, token: &str) -> io::Result<()> {
    let len = u32::try_from(token.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the token is too long"))?;
    let mut presented = Vec::with_capacity(4 + token.len());
    presented.extend_from_slice(&len.to_be_bytes());
    presented.extend_from_slice(token.as_bytes());
    stream.write_all(&presented)?;
    stream.flush()
}

/// A variable the parent must have set.
fn env(key: &str) -> io::Result<String> {
    std::env::var(key)
        .map_err(|err| io::Error::new(io::ErrorKind::NotFound, format!("{key}: {err}")))
}
