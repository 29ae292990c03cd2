//! The parent's frames, read by whichever serving thread is idle.

use std::io::Read;
use std::sync::atomic::Ordering;

use bulkhead::wire::{DEFAULT_MAX_FRAME, Frame, FrameCodec};
use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::context::CancelMark;

/// What the parent asked for, as far as the serving loop cares.
pub(crate) enum Incoming {
    Hello(Bytes),
    Request {
        id: u64,
        command: String,
        args: Bytes,
    },
    Shutdown,
    Closed,
    Broken(String),
}

/// The reading end of the channel with its frame buffer.
pub(crate) struct Input {
    reader: Box<dyn Read + Send>,
    codec: FrameCodec,
    buf: BytesMut,
    chunk: Vec<u8>,
}

impl Input {
    pub(crate) fn new(reader: Box<dyn Read + Send>) -> Self {
        Self {
            reader,
            codec: FrameCodec::new(DEFAULT_MAX_FRAME),
            buf: BytesMut::with_capacity(8 * 1024),
            chunk: vec![0u8; 8 * 1024],
        }
    }

    /// Blocks until the next frame that needs a serving thread. Cancel
    /// frames are handled here, by setting `cancel`, so that a handler
    /// running on the other thread sees them at once.
    pub(crate) fn next(&mut self, cancel: &CancelMark) -> Incoming {
        loop {
            let body = match self.codec.decode(&mut self.buf) {
                Ok(Some(body)) => body,
                Ok(None) => match self.reader.read(&mut self.chunk) {
                    Ok(0) | Err(_) => return Incoming::Closed,
                    Ok(n) => {
                        self.buf.extend_from_slice(&self.chunk[..n]);
                        continue;
                    }
                },
                Err(err) => {
                    return Incoming::Broken(format!("unreadable frame from the parent: {err}"));
                }
            };
            return match Frame::decode(&body) {
                Ok(Frame::Hello { payload }) => Incoming::Hello(body.slice_ref(payload)),
                Ok(Frame::Request {
                    request,
                    command,
                    args,
                }) => Incoming::Request {
                    id: request,
                    command: command.to_owned(),
                    args: body.slice_ref(args),
                },
                Ok(Frame::Cancel { request }) => {
                    cancel.fetch_max(request, Ordering::Relaxed);
                    continue;
                }
                Ok(Frame::Shutdown) => Incoming::Shutdown,
                Ok(other) => Incoming::Broken(format!("the parent sent a {} frame", other.kind())),
                Err(err) => Incoming::Broken(format!("unreadable frame from the parent: {err}")),
            };
        }
    }
}
