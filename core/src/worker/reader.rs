//! Frames from the child, read in place.
//!
//! Each frame is handed out as a slice of the read buffer and released on
//! the next call, so the row path makes no allocation and no reference-count
//! update per frame. Measured against tokio-util's `FramedRead`, which splits
//! off a shared `Bytes` for every frame, this keeps the parent's per-row
//! framing cost near that of a plain buffered reader. Length checks are the
//! same as [`FrameCodec`](crate::wire::FrameCodec)'s.

use std::pin::Pin;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::wire::{FrameError, LENGTH_BYTES, frame_length};

/// Bytes requested per read.
const READ_CAPACITY: usize = 64 * 1024;
/// Below this much spare room the buffer is grown before reading.
const MIN_SPARE: usize = 8 * 1024;

/// Reads length-prefixed frames from the child.
pub(crate) struct FrameReader {
    io: Pin<Box<dyn AsyncRead + Send>>,
    buf: BytesMut,
    /// Bytes of the frame handed out last, released on the next call.
    consumed: usize,
    max_frame: u32,
}

impl FrameReader {
    pub(crate) fn new(io: Pin<Box<dyn AsyncRead + Send>>, max_frame: u32) -> Self {
        Self {
            io,
            buf: BytesMut::with_capacity(READ_CAPACITY),
            consumed: 0,
            max_frame,
        }
    }

    /// The next frame body; `None` at a clean end of stream. Cancel safe:
    /// bytes read before the future is dropped stay buffered.
    pub(crate) async fn next(&mut self) -> Option<Result<&[u8], FrameError>> {
        self.buf.advance(std::mem::take(&mut self.consumed));
        loop {
            match frame_length(&self.buf, self.max_frame) {
                Err(err) => return Some(Err(err)),
                Ok(Some(len)) if self.buf.len() >= LENGTH_BYTES + len => {
                    self.consumed = LENGTH_BYTES + len;
                    return Some(Ok(&self.buf[LENGTH_BYTES..self.consumed]));
                }
                Ok(Some(len)) => self.buf.reserve(LENGTH_BYTES + len - self.buf.len()),
                Ok(None) => {}
            }
            if self.buf.capacity() - self.buf.len() < MIN_SPARE {
                self.buf.reserve(READ_CAPACITY);
            }
            match self.io.read_buf(&mut self.buf).await {
                Ok(0) if self.buf.is_empty() => return None,
                Ok(0) => {
                    return Some(Err(FrameError::Truncated {
                        buffered: self.buf.len(),
                    }));
                }
                Ok(_) => {}
                Err(err) => return Some(Err(FrameError::Io(err))),
            }
        }
    }
}
