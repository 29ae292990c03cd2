//! The local-socket channel: a connection to the listener the parent opened
//! for this child.
//!
//! The parent names it in `BULKHEAD_SOCKET` (`ns:NAME` for an abstract
//! socket or a named pipe, `path:PATH` for a socket file) and gives a
//! one-time token in `BULKHEAD_TOKEN`. The child connects, presents the
//! token (its length as 4 big-endian bytes, then its bytes) and serves the
//! protocol on the connection; the parent closes a connection that presents
//! anything else.
//!
//! Descriptors 0 and 1 are not the channel here, but they are redirected as
//! for stdio (stdout to stderr, stdin to the null device), so stray prints
//! still reach the parent's stderr capture.

mod address;
mod half;

use std::io::{self, Write};

use interprocess::local_socket::Stream;
use interprocess::local_socket::traits::Stream as _;

use crate::channel::Channel;
use crate::stdio;

/// Connects to the parent's listener and presents the token.
pub(crate) fn connect() -> Result<Channel, String> {
    let socket = env(bulkhead::env::SOCKET)?;
    let token = env(bulkhead::env::TOKEN)?;
    // Same treatment of the standard descriptors as the stdio channel. The
    // parent left them at the null device, so the duplicates that channel
    // would use are simply closed.
    drop(stdio::take().map_err(|err| format!("cannot redirect stdio: {err}"))?);
    let name = address::parse(&socket)
        .map_err(|err| format!("cannot use {}={socket:?}: {err}", bulkhead::env::SOCKET))?;
    let mut stream =
        Stream::connect(name).map_err(|err| format!("cannot connect to {socket}: {err}"))?;
    present(&mut stream, &token).map_err(|err| format!("cannot present the token: {err}"))?;
    let (reader, writer) = half::halves(stream);
    Ok(Channel {
        reader: Box::new(reader),
        writer: Box::new(writer),
    })
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
fn env(key: &str) -> Result<String, String> {
    std::env::var(key).map_err(|err| format!("{key}: {err}"))
}
