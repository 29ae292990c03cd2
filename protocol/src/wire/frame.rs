use super::{FrameError, FrameKind};

/// One parsed frame body, borrowing its names and payload from the buffer.
///
/// Payloads stay JSON bytes: the receiver deserializes them straight into its
/// own types, so a typed row never passes through an intermediate tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Parent → child: a JSON [`Hello`](super::Hello).
    Hello {
        /// JSON payload.
        payload: &'a [u8],
    },
    /// Child → parent: a JSON [`Handshake`](super::Handshake).
    Handshake {
        /// JSON payload.
        payload: &'a [u8],
    },
    /// Parent → child: run `command` with JSON `args`.
    Request {
        /// Request id chosen by the parent.
        request: u64,
        /// Command name.
        command: &'a str,
        /// JSON arguments.
        args: &'a [u8],
    },
    /// Parent → child: stop request `request`.
    Cancel {
        /// Request id.
        request: u64,
    },
    /// Parent → child: exit once idle.
    Shutdown,
    /// Child → parent: row number `seq` of stream `stream`.
    Row {
        /// Request id.
        request: u64,
        /// Stream name.
        stream: &'a str,
        /// Per-stream sequence number, from 0.
        seq: u64,
        /// JSON row.
        payload: &'a [u8],
    },
    /// Child → parent: a JSON [`Diagnostic`](super::Diagnostic).
    Diagnostic {
        /// Request id.
        request: u64,
        /// JSON payload.
        payload: &'a [u8],
    },
    /// Child → parent: a JSON [`Progress`](super::Progress).
    Progress {
        /// Request id.
        request: u64,
        /// JSON payload.
        payload: &'a [u8],
    },
    /// Child → parent: a JSON [`Success`](super::Success), ending the request.
    Success {
        /// Request id.
        request: u64,
        /// JSON payload.
        payload: &'a [u8],
    },
    /// Child → parent: a JSON [`RemoteError`](super::RemoteError), ending the request.
    Error {
        /// Request id.
        request: u64,
        /// JSON payload.
        payload: &'a [u8],
    },
}

impl<'a> Frame<'a> {
    /// Parses one frame body (the bytes after the length prefix).
    pub fn decode(body: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        let (&first, _) = body.split_first().ok_or(FrameError::Empty)?;
        let kind = FrameKind::try_from(first)?;
        let mut cursor = Cursor { kind, body, pos: 1 };
        let request = cursor.u64()?;
        let frame = match kind {
            FrameKind::Hello => Frame::Hello {
                payload: cursor.rest(),
            },
            FrameKind::Handshake => Frame::Handshake {
                payload: cursor.rest(),
            },
            FrameKind::Request => Frame::Request {
                request,
                command: cursor.name()?,
                args: cursor.rest(),
            },
            FrameKind::Cancel => Frame::Cancel { request },
            FrameKind::Shutdown => Frame::Shutdown,
            FrameKind::Row => Frame::Row {
                request,
                stream: cursor.name()?,
                seq: cursor.u64()?,
                payload: cursor.rest(),
            },
            FrameKind::Diagnostic => Frame::Diagnostic {
                request,
                payload: cursor.rest(),
            },
            FrameKind::Progress => Frame::Progress {
                request,
                payload: cursor.rest(),
            },
            FrameKind::Success => Frame::Success {
                request,
                payload: cursor.rest(),
            },
            FrameKind::Error => Frame::Error {
                request,
                payload: cursor.rest(),
            },
        };
        Ok(frame)
    }

    /// The kind of this frame.
    pub fn kind(&self) -> FrameKind {
        match self {
            Frame::Hello { .. } => FrameKind::Hello,
            Frame::Handshake { .. } => FrameKind::Handshake,
            Frame::Request { .. } => FrameKind::Request,
            Frame::Cancel { .. } => FrameKind::Cancel,
            Frame::Shutdown => FrameKind::Shutdown,
            Frame::Row { .. } => FrameKind::Row,
            Frame::Diagnostic { .. } => FrameKind::Diagnostic,
            Frame::Progress { .. } => FrameKind::Progress,
            Frame::Success { .. } => FrameKind::Success,
            Frame::Error { .. } => FrameKind::Error,
        }
    }

    /// The request id this frame belongs to; 0 for connection-level frames.
    pub fn request(&self) -> u64 {
        match *self {
            Frame::Hello { .. } | Frame::Handshake { .. } | Frame::Shutdown => 0,
            Frame::Request { request, .. }
            | Frame::Cancel { request }
            | Frame::Row { request, .. }
            | Frame::Diagnostic { request, .. }
            | Frame::Progress { request, .. }
            | Frame::Success { request, .. }
            | Frame::Error { request, .. } => request,
        }
    }
}

/// A row frame's fields with its stream name still bytes, as a receiver's
/// row path reads them: it compares the name with the names it has seen
/// and validates only a new one, where [`Frame::decode`] validates every
/// name of every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRow<'a> {
    /// Request id.
    pub request: u64,
    /// Stream name, not checked to be UTF-8.
    pub stream: &'a [u8],
    /// Per-stream sequence number, from 0.
    pub seq: u64,
    /// JSON row.
    pub payload: &'a [u8],
}

impl<'a> RawRow<'a> {
    /// The row in `body` if it is a row frame; `Ok(None)` for any other
    /// body, which [`Frame::decode`] then parses.
    ///
    /// ```
    /// use bulkhead_protocol::wire::{FrameEncoder, RawRow};
    ///
    /// let mut buf = Vec::new();
    /// FrameEncoder::default().row(&mut buf, 7, "rows", 0, &42).unwrap();
    /// let row = RawRow::decode(&buf[4..]).unwrap().unwrap();
    /// assert_eq!((row.request, row.stream, row.seq, row.payload), (7, &b"rows"[..], 0, &b"42"[..]));
    /// ```
    #[inline]
    pub fn decode(body: &'a [u8]) -> Result<Option<Self>, FrameError> {
        if body.first() != Some(&(FrameKind::Row as u8)) {
            return Ok(None);
        }
        let mut cursor = Cursor {
            kind: FrameKind::Row,
            body,
            pos: 1,
        };
        Ok(Some(RawRow {
            request: cursor.u64()?,
            stream: cursor.name_bytes()?,
            seq: cursor.u64()?,
            payload: cursor.rest(),
        }))
    }
}

/// Reads fixed fields off a body, reporting short bodies against their kind.
struct Cursor<'a> {
    kind: FrameKind,
    body: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.body.len());
        let end = end.ok_or(FrameError::Short {
            kind: self.kind,
            len: self.body.len(),
        })?;
        let bytes = &self.body[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    #[inline]
    fn u64(&mut self) -> Result<u64, FrameError> {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(raw))
    }

    fn name(&mut self) -> Result<&'a str, FrameError> {
        let bytes = self.name_bytes()?;
        std::str::from_utf8(bytes).map_err(|_| FrameError::BadName { kind: self.kind })
    }

    #[inline]
    fn name_bytes(&mut self) -> Result<&'a [u8], FrameError> {
        let mut raw = [0u8; 2];
        raw.copy_from_slice(self.take(2)?);
        self.take(usize::from(u16::from_be_bytes(raw)))
    }

    #[inline]
    fn rest(&self) -> &'a [u8] {
        &self.body[self.pos..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_is_rejected() {
        assert!(matches!(Frame::decode(&[]), Err(FrameError::Empty)));
    }

    #[test]
    fn header_without_request_id_is_short() {
        let err = Frame::decode(&[FrameKind::Cancel as u8, 0, 0]).unwrap_err();
        assert!(matches!(
            err,
            FrameError::Short {
                kind: FrameKind::Cancel,
                len: 3
            }
        ));
    }

    #[test]
    fn row_with_name_past_the_end_is_short() {
        let mut body = vec![FrameKind::Row as u8];
        body.extend_from_slice(&7u64.to_be_bytes());
        body.extend_from_slice(&200u16.to_be_bytes());
        body.extend_from_slice(b"abc");
        assert!(matches!(
            Frame::decode(&body),
            Err(FrameError::Short {
                kind: FrameKind::Row,
                ..
            })
        ));
    }

    #[test]
    fn a_raw_row_agrees_with_the_decoded_frame() {
        let mut buf = Vec::new();
        let encoder = crate::wire::FrameEncoder::default();
        encoder.row(&mut buf, 9, "even", 3, &"x").unwrap();
        let body = &buf[4..];
        let raw = RawRow::decode(body).unwrap().unwrap();
        let Frame::Row {
            request,
            stream,
            seq,
            payload,
        } = Frame::decode(body).unwrap()
        else {
            panic!("not a row");
        };
        assert_eq!(
            (raw.request, raw.stream, raw.seq, raw.payload),
            (request, stream.as_bytes(), seq, payload)
        );
        // Any other kind is left to `Frame::decode`, a short row is short.
        assert_eq!(RawRow::decode(&[FrameKind::Success as u8]).unwrap(), None);
        assert_eq!(RawRow::decode(&[]).unwrap(), None);
        assert!(matches!(
            RawRow::decode(&body[..12]),
            Err(FrameError::Short {
                kind: FrameKind::Row,
                ..
            })
        ));
    }

    #[test]
    fn non_utf8_command_name_is_rejected() {
        let mut body = vec![FrameKind::Request as u8];
        body.extend_from_slice(&1u64.to_be_bytes());
        body.extend_from_slice(&2u16.to_be_bytes());
        body.extend_from_slice(&[0xff, 0xfe]);
        assert!(matches!(
            Frame::decode(&body),
            Err(FrameError::BadName {
                kind: FrameKind::Request
            })
        ));
    }
}
