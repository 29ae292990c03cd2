//! One stream as a reader and a writer.
//!
//! `interprocess` streams read and write through shared references, so both
//! halves of a connection hold the same stream; it closes when both are
//! dropped. Shutting the writer down half-closes it, where the platform
//! can.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use interprocess::local_socket::tokio::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::platform;

/// A shared handle on a stream, reading or writing.
pub(crate) struct Half(Arc<Stream>);

/// A reader and a writer on `stream`.
pub(crate) fn halves(stream: Stream) -> (Half, Half) {
    let stream = Arc::new(stream);
    (Half(Arc::clone(&stream)), Half(stream))
}

impl AsyncRead for Half {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Half {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_flush(cx)
    }

    /// Flushes, then half-closes the connection (see
    /// [`platform::shutdown_write`]), so the child reads end of file as from a
    /// closed pipe; the reading half stays usable.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut &*self.0).poll_flush(cx))?;
        Poll::Ready(platform::shutdown_write(&self.0))
    }
}
