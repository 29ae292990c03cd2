//! The parent's frames, read by whichever serving thread is idle.

use std::io::Read;
use std::sync::atomic::Ordering;

use bulkhead_protocol::wire::{DEFAULT_MAX_FRAME, Frame, FrameError, FrameReader};
use bytes::Bytes;

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

/// The reading end of the channel with its frame reader.
pub(crate) struct Input {
    frames: FrameReader<Box<dyn Read + Send>>,
}

impl Input {
    pub(crate) fn new(reader: Box<dyn Read + Send>) -> Self {
        Self {
            frames: FrameReader::new(reader, DEFAULT_MAX_FRAME),
        }
    }

    /// Blocks until the next frame that needs a serving thread. Cancel
    /// frames are handled here, by setting `cancel`, so that a handler
    /// running on the other thread sees them at once.
    pub(crate) fn next(&mut self, cancel: &CancelMark) -> Incoming {
        loop {
            let body = match self.frames.read_frame() {
                Some(Ok(body)) => body,
                // A read error, or the end in the middle of a frame (a
                // parent that died while writing), ends the channel too.
                None | Some(Err(FrameError::Io(_) | FrameError::Truncated { .. })) => {
                    return Incoming::Closed;
                }
                Some(Err(err)) => {
                    return Incoming::Broken(format!("unreadable frame from the parent: {err}"));
                }
            };
            return match Frame::decode(body) {
                Ok(Frame::Hello { payload }) => Incoming::Hello(Bytes::copy_from_slice(payload)),
                Ok(Frame::Request {
                    request,
                    command,
                    args,
                }) => Incoming::Request {
                    id: request,
                    command: command.to_owned(),
                    args: Bytes::copy_from_slice(args),
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
