use bytes::BufMut;
use serde::Serialize;

use super::{DEFAULT_MAX_FRAME, EncodeError, FrameKind, HEADER_BYTES, LENGTH_BYTES};

/// Writes whole frames (length prefix included) into a byte vector.
///
/// Payloads are serialized in place, straight into the buffer. A frame that
/// would exceed the maximum is rolled back, so the buffer never holds half a
/// frame.
///
/// ```
/// use bulkhead_protocol::wire::{Frame, FrameEncoder};
///
/// let mut buf = Vec::new();
/// FrameEncoder::default().row(&mut buf, 7, "rows", 0, &[1, 2]).unwrap();
/// let frame = Frame::decode(&buf[4..]).unwrap();
/// assert_eq!(
///     frame,
///     Frame::Row { request: 7, stream: "rows", seq: 0, payload: b"[1,2]" }
/// );
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FrameEncoder {
    max_frame: u32,
}

impl Default for FrameEncoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameEncoder {
    /// An encoder that refuses bodies over `max_frame` bytes.
    pub fn new(max_frame: u32) -> Self {
        Self { max_frame }
    }

    /// The maximum body size this encoder writes.
    pub fn max_frame(&self) -> u32 {
        self.max_frame
    }

    /// A frame whose body is the header and a JSON payload: hello, handshake,
    /// diagnostic, progress, success and error.
    pub fn json<T: Serialize + ?Sized>(
        &self,
        buf: &mut Vec<u8>,
        kind: FrameKind,
        request: u64,
        payload: &T,
    ) -> Result<(), EncodeError> {
        let start = begin(buf, kind, request);
        self.payload_then_finish(buf, start, kind, payload)
    }

    /// A frame with a header only: cancel and shutdown.
    pub fn bare(&self, buf: &mut Vec<u8>, kind: FrameKind, request: u64) {
        let start = begin(buf, kind, request);
        patch_length(buf, start);
    }

    /// A request frame for `command` with JSON `args`.
    pub fn request<T: Serialize + ?Sized>(
        &self,
        buf: &mut Vec<u8>,
        request: u64,
        command: &str,
        args: &T,
    ) -> Result<(), EncodeError> {
        let start = begin(buf, FrameKind::Request, request);
        put_name(buf, start, command)?;
        self.payload_then_finish(buf, start, FrameKind::Request, args)
    }

    /// A request frame whose arguments are already JSON bytes.
    pub fn request_raw(
        &self,
        buf: &mut Vec<u8>,
        request: u64,
        command: &str,
        args: &[u8],
    ) -> Result<(), EncodeError> {
        let start = begin(buf, FrameKind::Request, request);
        put_name(buf, start, command)?;
        buf.put_slice(args);
        self.finish(buf, start, FrameKind::Request)
    }

    /// A success frame: the [`Success`](super::Success) envelope of `value`,
    /// with the rows sent per stream (`rows`) when there are any. The
    /// envelope is written around the payload by hand, which spares each
    /// request serde's checks of the field names.
    ///
    /// ```
    /// use bulkhead_protocol::wire::{Frame, FrameEncoder, Success};
    ///
    /// let mut buf = Vec::new();
    /// let rows = [("rows".to_owned(), 3)];
    /// FrameEncoder::default().success(&mut buf, 2, &rows, &"done").unwrap();
    /// let Frame::Success { payload, .. } = Frame::decode(&buf[4..]).unwrap() else { panic!() };
    /// let success: Success<String> = serde_json::from_slice(payload).unwrap();
    /// assert_eq!((success.rows["rows"], success.value.as_str()), (3, "done"));
    /// ```
    pub fn success<T: Serialize + ?Sized>(
        &self,
        buf: &mut Vec<u8>,
        request: u64,
        rows: &[(String, u64)],
        value: &T,
    ) -> Result<(), EncodeError> {
        let start = begin(buf, FrameKind::Success, request);
        buf.put_slice(b"{\"value\":");
        let mut written = serde_json::to_writer(&mut *buf, value);
        if written.is_ok() && !rows.is_empty() {
            buf.put_slice(b",\"rows\":");
            written = serde_json::to_writer(&mut *buf, &RowCounts(rows));
        }
        if let Err(err) = written {
            buf.truncate(start);
            return Err(EncodeError::Json(err));
        }
        buf.put_u8(b'}');
        self.finish(buf, start, FrameKind::Success)
    }

    /// A row frame: row number `seq` of `stream`.
    pub fn row<T: Serialize + ?Sized>(
        &self,
        buf: &mut Vec<u8>,
        request: u64,
        stream: &str,
        seq: u64,
        row: &T,
    ) -> Result<(), EncodeError> {
        let start = begin(buf, FrameKind::Row, request);
        put_name(buf, start, stream)?;
        buf.put_u64(seq);
        self.payload_then_finish(buf, start, FrameKind::Row, row)
    }

    fn payload_then_finish<T: Serialize + ?Sized>(
        &self,
        buf: &mut Vec<u8>,
        start: usize,
        kind: FrameKind,
        payload: &T,
    ) -> Result<(), EncodeError> {
        if let Err(err) = serde_json::to_writer(&mut *buf, payload) {
            buf.truncate(start);
            return Err(EncodeError::Json(err));
        }
        self.finish(buf, start, kind)
    }

    fn finish(&self, buf: &mut Vec<u8>, start: usize, kind: FrameKind) -> Result<(), EncodeError> {
        let len = buf.len() - start - LENGTH_BYTES;
        if len > self.max_frame as usize {
            buf.truncate(start);
            return Err(EncodeError::TooLarge {
                kind,
                len,
                max: self.max_frame,
            });
        }
        patch_length(buf, start);
        Ok(())
    }
}

/// Rows sent per stream, as a JSON object.
struct RowCounts<'a>(&'a [(String, u64)]);

impl Serialize for RowCounts<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, count)| (name, count)))
    }
}

/// Appends a zero length prefix and the common header; returns the frame start.
fn begin(buf: &mut Vec<u8>, kind: FrameKind, request: u64) -> usize {
    let start = buf.len();
    buf.reserve(LENGTH_BYTES + HEADER_BYTES + 64);
    buf.put_u32(0);
    buf.put_u8(kind as u8);
    buf.put_u64(request);
    start
}

fn put_name(buf: &mut Vec<u8>, start: usize, name: &str) -> Result<(), EncodeError> {
    let Ok(len) = u16::try_from(name.len()) else {
        buf.truncate(start);
        return Err(EncodeError::NameTooLong { len: name.len() });
    };
    buf.put_u16(len);
    buf.put_slice(name.as_bytes());
    Ok(())
}

/// Writes the body length into the prefix at `start`. Callers have checked the
/// length against the maximum, which is itself a `u32`.
fn patch_length(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start - LENGTH_BYTES) as u32;
    buf[start..start + LENGTH_BYTES].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Frame;

    #[test]
    fn a_success_decodes_with_and_without_rows() {
        use std::collections::BTreeMap;

        use crate::wire::Success;

        let encoder = FrameEncoder::default();
        let mut buf = Vec::new();
        let rows = [("rows".to_owned(), 2), ("odd".to_owned(), 1)];
        encoder.success(&mut buf, 4, &rows, &5u64).unwrap();
        let Frame::Success { request, payload } = Frame::decode(&buf[4..]).unwrap() else {
            panic!("not a success");
        };
        let success: Success<u64> = serde_json::from_slice(payload).unwrap();
        let expected = BTreeMap::from([("rows".to_owned(), 2), ("odd".to_owned(), 1)]);
        assert_eq!((request, success.rows, success.value), (4, expected, 5));

        buf.clear();
        encoder.success(&mut buf, 4, &[], &()).unwrap();
        assert_eq!(&buf[13..], br#"{"value":null}"#);
    }

    #[test]
    fn a_success_over_the_maximum_is_rolled_back() {
        let encoder = FrameEncoder::new(32);
        let mut buf = vec![1, 2, 3];
        let err = encoder
            .success(&mut buf, 1, &[], &"x".repeat(64))
            .unwrap_err();
        assert!(matches!(
            err,
            EncodeError::TooLarge {
                kind: FrameKind::Success,
                ..
            }
        ));
        assert_eq!(buf, [1, 2, 3]);
    }

    #[test]
    fn oversized_payload_is_rolled_back() {
        let encoder = FrameEncoder::new(64);
        let mut buf = Vec::new();
        encoder.bare(&mut buf, FrameKind::Shutdown, 0);
        let before = buf.len();
        let big = "x".repeat(100);
        let err = encoder.row(&mut buf, 1, "rows", 0, &big).unwrap_err();
        assert!(matches!(err, EncodeError::TooLarge { len, max: 64, .. } if len > 100));
        assert_eq!(buf.len(), before);
    }

    #[test]
    fn frames_round_trip() {
        let encoder = FrameEncoder::default();
        let mut buf = Vec::new();
        encoder.request(&mut buf, 3, "echo", &"hi").unwrap();
        let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
        assert_eq!(len, buf.len() - 4);
        assert_eq!(
            Frame::decode(&buf[4..]).unwrap(),
            Frame::Request {
                request: 3,
                command: "echo",
                args: b"\"hi\""
            }
        );
    }

    #[test]
    fn long_names_are_refused() {
        let mut buf = Vec::new();
        let name = "n".repeat(70_000);
        let err = FrameEncoder::default()
            .request(&mut buf, 1, &name, &())
            .unwrap_err();
        assert!(matches!(err, EncodeError::NameTooLong { len: 70_000 }));
        assert!(buf.is_empty());
    }
}
