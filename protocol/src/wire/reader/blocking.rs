//! The blocking face of the frame reader, as the child reads its parent.

use std::io::Read;

use super::{Buffered, FrameReader};
use crate::wire::FrameError;

/// Bytes read per blocking read.
const CHUNK: usize = 8 * 1024;

impl<R: Read> FrameReader<R> {
    /// The next frame body, blocking until it has arrived; `None` at a clean
    /// end of stream. After an error the stream cannot be trusted: read no
    /// further.
    pub fn read_frame(&mut self) -> Option<Result<&[u8], FrameError>> {
        if self.chunk.is_empty() {
            self.chunk = vec![0u8; CHUNK];
        }
        loop {
            match self.buffered() {
                Err(err) => return Some(Err(err)),
                Ok(Buffered::Frame(len)) => return Some(Ok(self.take(len))),
                Ok(Buffered::Partial) => {}
            }
            match self.io.read(&mut self.chunk) {
                Ok(0) => return self.end(),
                Ok(n) => self.buf.extend_from_slice(&self.chunk[..n]),
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Some(Err(FrameError::Io(err))),
            }
        }
    }
}
