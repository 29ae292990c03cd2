//! The one frame reader, used by parent and child: a decoding core over a
//! buffer, with a blocking face ([`FrameReader::read_frame`], for any
//! `std::io::Read`) and an async one ([`FrameReader::next`], for any
//! `tokio::io::AsyncRead`, with the `async` feature).
//!
//! Each frame is handed out as a slice of the read buffer and released on
//! the next call, so the row path makes no allocation and no reference-count
//! update per frame; measured against tokio-util's `FramedRead`, which
//! splits off a shared `Bytes` for every frame, this keeps the parent's
//! per-row framing cost near that of a plain buffered reader. The announced
//! length is checked against the maximum before any body is buffered, and
//! never trusted to size an allocation: the buffer grows at most
//! [`MAX_GROWTH`] ahead of the bytes that arrived.

#[cfg(feature = "async")]
mod asynchronous;
mod blocking;

use bytes::{Buf, BytesMut};

use super::{FrameError, LENGTH_BYTES};

/// Bytes the buffer starts with, and grows by when it runs short.
const READ_CAPACITY: usize = 64 * 1024;
/// Below this much spare room the buffer is grown before reading.
const MIN_SPARE: usize = 8 * 1024;
/// The most the buffer grows ahead of the bytes that arrived: an announced
/// length is a claim, and four bytes must not buy a huge allocation.
pub const MAX_GROWTH: usize = 1024 * 1024;

/// Reads length-prefixed frame bodies from a byte stream `R`.
///
/// ```
/// use bulkhead_protocol::wire::FrameReader;
///
/// let bytes: &[u8] = &[0, 0, 0, 2, b'h', b'i'];
/// let mut reader = FrameReader::new(bytes, 1024);
/// assert_eq!(reader.read_frame().unwrap().unwrap(), b"hi");
/// assert!(reader.read_frame().is_none());
/// ```
pub struct FrameReader<R> {
    io: R,
    buf: BytesMut,
    /// Where the unread bytes start in `buf`. Frames handed out are passed
    /// over by moving it; the buffer is compacted only before a read.
    start: usize,
    /// Bytes of the frame handed out last, released on the next call.
    consumed: usize,
    max_frame: u32,
    /// Where the blocking face reads into; empty until it is first used.
    chunk: Vec<u8>,
}

/// What the buffer holds at the start of a read.
enum Buffered {
    /// A whole frame body, this many bytes long after the prefix.
    Frame(usize),
    /// Not a whole frame yet: read more.
    Partial,
}

impl<R> FrameReader<R> {
    /// A reader of `io` that refuses bodies over `max_frame` bytes.
    pub fn new(io: R, max_frame: u32) -> Self {
        Self {
            io,
            buf: BytesMut::with_capacity(READ_CAPACITY),
            start: 0,
            consumed: 0,
            max_frame,
            chunk: Vec::new(),
        }
    }

    /// The largest body this reader accepts.
    pub fn max_frame(&self) -> u32 {
        self.max_frame
    }

    /// Changes the largest body accepted, for instance once the handshake
    /// negotiated it.
    pub fn set_max_frame(&mut self, max_frame: u32) {
        self.max_frame = max_frame;
    }

    /// The next frame if it is already buffered, without reading: `None`
    /// when the buffer holds no whole frame. A receiver that handles frames
    /// as they come drains what one read brought with this before it waits
    /// for more. After an error the stream cannot be trusted: read no
    /// further.
    ///
    /// ```
    /// use bulkhead_protocol::wire::FrameReader;
    ///
    /// let bytes: &[u8] = &[0, 0, 0, 1, b'a', 0, 0, 0, 1, b'b'];
    /// let mut reader = FrameReader::new(bytes, 1024);
    /// // Nothing was read yet.
    /// assert!(reader.next_buffered().is_none());
    /// assert_eq!(reader.read_frame().unwrap().unwrap(), b"a");
    /// // The read that brought `a` brought `b` too.
    /// assert_eq!(reader.next_buffered().unwrap().unwrap(), b"b");
    /// assert!(reader.next_buffered().is_none());
    /// ```
    #[inline(always)]
    pub fn next_buffered(&mut self) -> Option<Result<&[u8], FrameError>> {
        // The common case first: a whole frame right after the last one.
        let start = self.start + self.consumed;
        if let Some(&[a, b, c, d]) = self.buf.get(start..start + LENGTH_BYTES) {
            let len = u32::from_be_bytes([a, b, c, d]);
            let end = start + LENGTH_BYTES + len as usize;
            if len <= self.max_frame && end <= self.buf.len() {
                self.start = start;
                self.consumed = LENGTH_BYTES + len as usize;
                return Some(Ok(&self.buf[start + LENGTH_BYTES..end]));
            }
        }
        match self.buffered() {
            Err(err) => Some(Err(err)),
            Ok(Buffered::Frame(len)) => Some(Ok(self.take(len))),
            Ok(Buffered::Partial) => None,
        }
    }

    /// Releases the frame handed out last and says whether a whole frame is
    /// buffered now; makes room for the next read if not.
    #[inline]
    fn buffered(&mut self) -> Result<Buffered, FrameError> {
        self.start += std::mem::take(&mut self.consumed);
        let unread = &self.buf[self.start..];
        let len = frame_length(unread, self.max_frame)?;
        if let Some(len) = len
            && unread.len() >= LENGTH_BYTES + len
        {
            return Ok(Buffered::Frame(len));
        }
        self.buf.advance(std::mem::take(&mut self.start));
        if let Some(len) = len {
            let missing = LENGTH_BYTES + len - self.buf.len();
            self.buf.reserve(missing.min(MAX_GROWTH));
        }
        if self.buf.capacity() - self.buf.len() < MIN_SPARE {
            self.buf.reserve(READ_CAPACITY);
        }
        Ok(Buffered::Partial)
    }

    /// Hands out the buffered frame of `len` bytes.
    #[inline]
    fn take(&mut self, len: usize) -> &[u8] {
        self.consumed = LENGTH_BYTES + len;
        &self.buf[self.start + LENGTH_BYTES..self.start + self.consumed]
    }

    /// The bytes read and not handed out as frames: after an error, what
    /// the peer wrote that did not frame (for a message that shows it).
    pub fn unread_bytes(&self) -> &[u8] {
        &self.buf[self.start + self.consumed..]
    }

    /// Bytes read and not handed out yet.
    fn unread(&self) -> usize {
        self.buf.len() - self.start - self.consumed
    }

    /// The end of the stream: clean if nothing is buffered.
    fn end(&self) -> Option<Result<&[u8], FrameError>> {
        match self.unread() {
            0 => None,
            buffered => Some(Err(FrameError::Truncated { buffered })),
        }
    }
}

impl<R> std::fmt::Debug for FrameReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.unread())
            .field("max_frame", &self.max_frame)
            .finish_non_exhaustive()
    }
}

/// The body length announced by the prefix at the start of `buf`, checked
/// against `max_frame`; `None` while fewer than four bytes are there.
///
/// ```
/// use bulkhead_protocol::wire::{FrameError, frame_length};
///
/// assert_eq!(frame_length(&[0, 0, 0, 3, b'a'], 8).unwrap(), Some(3));
/// assert_eq!(frame_length(&[0, 0], 8).unwrap(), None);
/// assert!(matches!(frame_length(&[0, 0, 1, 0], 8), Err(FrameError::TooLarge { len: 256, max: 8 })));
/// ```
#[inline]
pub fn frame_length(buf: &[u8], max_frame: u32) -> Result<Option<usize>, FrameError> {
    let Some(&[a, b, c, d]) = buf.get(..LENGTH_BYTES) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([a, b, c, d]);
    if len > max_frame {
        return Err(FrameError::TooLarge {
            len: u64::from(len),
            max: max_frame,
        });
    }
    Ok(Some(len as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announced_length_buys_no_allocation_of_its_size() {
        // Found by the `frame_reader` fuzz target: a 4 GiB maximum and a
        // prefix announcing 2 GiB made the reader reserve 2 GiB at once.
        let prefix: &[u8] = &[0x80, 0, 0, 0];
        let mut reader = FrameReader::new(prefix, u32::MAX);
        let truncated = reader.read_frame().map(|frame| frame.map(<[u8]>::len));
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
        let mut reader = FrameReader::new(&stream[..], u32::MAX);
        let body = reader.read_frame().and_then(Result::ok).map(<[u8]>::to_vec);
        assert_eq!(body.as_deref(), Some(&stream[LENGTH_BYTES..]));
        assert!(reader.read_frame().is_none());
    }

    #[test]
    fn oversize_is_refused_before_the_body_arrives() {
        let prefix = 0x7fff_ffffu32.to_be_bytes();
        let mut reader = FrameReader::new(&prefix[..], 1024);
        assert!(matches!(
            reader.read_frame(),
            Some(Err(FrameError::TooLarge {
                len: 0x7fff_ffff,
                max: 1024
            }))
        ));
        assert!(reader.buf.capacity() < 1024 * 1024);
    }
}
