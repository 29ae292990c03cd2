//! Frames read in place, as the parent reads its child's.
//!
//! Each frame is handed out as a slice of the read buffer and released on
//! the next call, so the row path makes no allocation and no reference-count
//! update per frame. Measured against tokio-util's `FramedRead`, which splits
//! off a shared `Bytes` for every frame, this keeps the parent's per-row
//! framing cost near that of a plain buffered reader. Length checks are the
//! same as [`FrameCodec`](crate::wire::FrameCodec)'s, and the fuzz target
//! `frame_reader` checks that both split any byte stream the same way.

use std::pin::Pin;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{FrameError, LENGTH_BYTES, frame_length};

/// Bytes requested per read.
const READ_CAPACITY: usize = 64 * 1024;
/// Below this much spare room the buffer is grown before reading.
const MIN_SPARE: usize = 8 * 1024;
/// The most the buffer grows ahead of the bytes that arrived: an announced
/// length is a claim, and four bytes must not buy a huge allocation.
const MAX_GROWTH: usize = 1024 * 1024;

/// Reads length-prefixed frame bodies from a byte stream.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use bulkhead::wire::FrameReader;
///
/// let bytes: &[u8] = &[0, 0, 0, 2, b'h', b'i'];
/// let mut reader = FrameReader::new(Box::pin(bytes), 1024);
/// assert_eq!(reader.next().await.unwrap().unwrap(), b"hi");
/// assert!(reader.next().await.is_none());
/// # });
/// ```
pub struct FrameReader {
    io: Pin<Box<dyn AsyncRead + Send>>,
    buf: BytesMut,
    /// Bytes of the frame handed out last, released on the next call.
    consumed: usize,
    max_frame: u32,
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.buf.len())
            .field("max_frame", &self.max_frame)
            .finish_non_exhaustive()
    }
}

impl FrameReader {
    /// A reader of `io` that refuses bodies over `max_frame` bytes.
    pub fn new(io: Pin<Box<dyn AsyncRead + Send>>, max_frame: u32) -> Self {
        Self {
            io,
            buf: BytesMut::with_capacity(READ_CAPACITY),
            consumed: 0,
            max_frame,
        }
    }

    /// The next frame body; `None` at a clean end of stream. Cancel safe:
    /// bytes read before the future is dropped stay buffered. After an
    /// error the stream cannot be trusted: read no further.
    pub async fn next(&mut self) -> Option<Result<&[u8], FrameError>> {
        self.buf.advance(std::mem::take(&mut self.consumed));
        loop {
            match frame_length(&self.buf, self.max_frame) {
                Err(err) => return Some(Err(err)),
                Ok(Some(len)) if self.buf.len() >= LENGTH_BYTES + len => {
                    self.consumed = LENGTH_BYTES + len;
                    return Some(Ok(&self.buf[LENGTH_BYTES..self.consumed]));
                }
                Ok(Some(len)) => {
                    let missing = LENGTH_BYTES + len - self.buf.len();
                    self.buf.reserve(missing.min(MAX_GROWTH));
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `future` to completion on a fresh current-thread runtime.
    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    #[test]
    fn an_announced_length_buys_no_allocation_of_its_size() {
        // Found by the `frame_reader` fuzz target: a 4 GiB maximum and a
        // prefix announcing 2 GiB made the reader reserve 2 GiB at once.
        let prefix: &'static [u8] = &[0x80, 0, 0, 0];
        let mut reader = FrameReader::new(Box::pin(prefix), u32::MAX);
        let truncated = block_on(async { reader.next().await.map(|frame| frame.map(<[u8]>::len)) });
        assert!(
            matches!(truncated, Some(Err(FrameError::Truncated { buffered: 4 }))),
            "{truncated:?}"
        );
        assert!(
            reader.buf.capacity() <= 2 * MAX_GROWTH + READ_CAPACITY,
            "{}",
            reader.buf.capacity()
        );
    }

    #[test]
    fn a_frame_larger_than_one_growth_step_is_read_whole() {
        let len = 3 * MAX_GROWTH + 17;
        let mut stream = u32::try_from(len)
            .unwrap_or(u32::MAX)
            .to_be_bytes()
            .to_vec();
        stream.extend((0..len).map(|i| (i % 251) as u8));
        let stream: &'static [u8] = stream.leak();
        let mut reader = FrameReader::new(Box::pin(stream), u32::MAX);
        block_on(async {
            let body = reader.next().await.and_then(Result::ok).map(<[u8]>::to_vec);
            assert_eq!(body.as_deref(), Some(&stream[LENGTH_BYTES..]));
            assert!(reader.next().await.is_none());
        });
    }
}
