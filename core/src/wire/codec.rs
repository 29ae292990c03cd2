use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, LengthDelimitedCodec};

use super::{DEFAULT_MAX_FRAME, FrameError, LENGTH_BYTES};

/// Splits a byte stream into frame bodies, checking each announced length
/// against the maximum before buffering the body.
///
/// Built on [`LengthDelimitedCodec`] (4-byte big-endian length, body only),
/// which is handed a frame only once all of it has arrived: an announced
/// length is checked, never trusted to size an allocation.
/// Usable both from `tokio_util::codec::FramedRead` and synchronously, by
/// feeding a [`BytesMut`] to [`Decoder::decode`].
///
/// ```
/// use bulkhead::wire::{FrameCodec, FrameError};
/// use bytes::BytesMut;
/// use tokio_util::codec::Decoder;
///
/// let mut codec = FrameCodec::new(8);
/// let mut buf = BytesMut::from(&[0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 1, 0][..]);
/// assert_eq!(&codec.decode(&mut buf).unwrap().unwrap()[..], b"abc");
/// assert!(matches!(
///     codec.decode(&mut buf),
///     Err(FrameError::TooLarge { len: 256, max: 8 })
/// ));
/// ```
#[derive(Debug)]
pub struct FrameCodec {
    inner: LengthDelimitedCodec,
    max_frame: u32,
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameCodec {
    /// A codec that refuses bodies over `max_frame` bytes.
    pub fn new(max_frame: u32) -> Self {
        let inner = LengthDelimitedCodec::builder()
            .length_field_length(LENGTH_BYTES)
            .big_endian()
            .max_frame_length(max_frame as usize)
            .new_codec();
        Self { inner, max_frame }
    }

    /// The maximum body size this codec accepts.
    pub fn max_frame(&self) -> u32 {
        self.max_frame
    }

    /// Changes the maximum, for instance after the handshake negotiated it.
    pub fn set_max_frame(&mut self, max_frame: u32) {
        self.max_frame = max_frame;
        self.inner.set_max_frame_length(max_frame as usize);
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match frame_length(src, self.max_frame)? {
            Some(len) if src.len() >= LENGTH_BYTES + len => {
                Ok(self.inner.decode(src)?.map(BytesMut::freeze))
            }
            // Not all there yet: wait for more, reserving nothing.
            _ => Ok(None),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self.decode(src)? {
            Some(body) => Ok(Some(body)),
            None if src.is_empty() => Ok(None),
            None => Err(FrameError::Truncated {
                buffered: src.len(),
            }),
        }
    }
}

/// The body length announced by the prefix at the start of `buf`, checked
/// against `max_frame`; `None` while fewer than four bytes are there.
pub fn frame_length(buf: &[u8], max_frame: u32) -> Result<Option<usize>, FrameError> {
    let Some(mut prefix) = buf.get(..LENGTH_BYTES) else {
        return Ok(None);
    };
    let len = prefix.get_u32();
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
    fn body_split_across_reads_is_reassembled() {
        let mut codec = FrameCodec::new(16);
        let mut buf = BytesMut::from(&[0, 0, 0, 4, b'a'][..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"bcd");
        assert_eq!(&codec.decode(&mut buf).unwrap().unwrap()[..], b"abcd");
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    }

    #[test]
    fn eof_inside_a_body_is_truncation() {
        let mut codec = FrameCodec::new(16);
        let mut buf = BytesMut::from(&[0, 0, 0, 4, b'a'][..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(FrameError::Truncated { buffered: 5 })
        ));
    }

    #[test]
    fn eof_inside_a_prefix_is_truncation() {
        let mut codec = FrameCodec::new(16);
        let mut buf = BytesMut::from(&[0, 0][..]);
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(FrameError::Truncated { buffered: 2 })
        ));
    }

    #[test]
    fn an_announced_length_is_not_reserved_ahead() {
        let mut codec = FrameCodec::new(u32::MAX);
        let mut buf = BytesMut::from(&[0x80, 0, 0, 0, 1, 2][..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() < 1024 * 1024, "{}", buf.capacity());
    }

    #[test]
    fn oversize_is_refused_before_the_body_arrives() {
        let mut codec = FrameCodec::new(1024);
        let mut buf = BytesMut::from(&0x7fff_ffffu32.to_be_bytes()[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::TooLarge {
                len: 0x7fff_ffff,
                max: 1024
            })
        ));
        assert!(buf.capacity() < 1024 * 1024);
    }
}
