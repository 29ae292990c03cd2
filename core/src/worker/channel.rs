//! A child's framed channel: frames out through one buffer, frames in
//! through the one reader. It is all the request loop needs of a child, so
//! the loop runs over any byte stream: a pipe, a socket, or an in-memory
//! duplex in the tests.

use std::pin::Pin;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::wire::{FrameEncoder, FrameKind, FrameReader};

/// Frames from a child, whatever the transport's byte stream.
pub(crate) type ChildReader = FrameReader<Pin<Box<dyn AsyncRead + Send>>>;

/// The framed duplex channel to one child.
pub(crate) struct Channel {
    /// Encodes frames for the child, under the maximum it announced.
    pub(crate) encoder: FrameEncoder,
    /// Frames encoded and not sent yet.
    pub(crate) out: Vec<u8>,
    /// Frames from the child.
    pub(crate) reader: ChildReader,
    writer: Pin<Box<dyn AsyncWrite + Send>>,
    /// Set while a request is between its first write and its terminal
    /// frame. Still set on entry to the next request means the previous one
    /// was abandoned midway and the channel cannot be trusted.
    pub(crate) in_flight: bool,
}

/// What a look at an idle channel found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quiet {
    /// Nothing to read.
    Yes,
    /// The previous request was abandoned midway.
    Abandoned,
    /// The child wrote something outside a request.
    Stray,
    /// The child closed its end.
    Closed,
}

impl Channel {
    pub(crate) fn new(
        reader: ChildReader,
        writer: Pin<Box<dyn AsyncWrite + Send>>,
        encoder: FrameEncoder,
    ) -> Self {
        Self {
            encoder,
            out: Vec::with_capacity(4096),
            reader,
            writer,
            in_flight: false,
        }
    }

    /// Writes the encoded frames in `out` and flushes them.
    pub(crate) async fn send(&mut self) -> std::io::Result<()> {
        let result = self.writer.write_all(&self.out).await;
        self.out.clear();
        result?;
        self.writer.flush().await
    }

    /// Looks at the channel between requests, without waiting. Best effort:
    /// bytes that arrive after the look are read by the next request.
    pub(crate) fn quiet(&mut self) -> Quiet {
        if self.in_flight {
            return Quiet::Abandoned;
        }
        match self.reader.next().now_or_never() {
            Some(Some(_)) => Quiet::Stray,
            Some(None) => Quiet::Closed,
            None => Quiet::Yes,
        }
    }

    /// Sends the shutdown frame and closes the parent's end, each step
    /// bounded by `limit` so that a child that stopped reading cannot stall
    /// it. A child that is already gone cannot take the frame; that is fine.
    pub(crate) async fn close(mut self, limit: Duration) {
        self.encoder.bare(&mut self.out, FrameKind::Shutdown, 0);
        let _unsent = tokio::time::timeout(limit, self.send()).await;
        let _closed = tokio::time::timeout(limit, self.writer.shutdown()).await;
    }
}
