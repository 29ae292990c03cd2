//! What a handler sees: row, diagnostic and progress output, and cancellation.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bulkhead_protocol::wire::{
    Diagnostic, FrameKind, Level, Progress, RemoteError, RemoteErrorKind,
};
use serde::Serialize;

use crate::capability::Handled;
use crate::error::HandlerError;
use crate::output::Output;

/// The stream name [`StreamContext::emit`] writes to.
pub const DEFAULT_STREAM: &str = "rows";

/// The id of the newest request the parent cancelled; `u64::MAX` once the
/// channel has closed, which cancels everything.
pub(crate) type CancelMark = Arc<AtomicU64>;

/// A running request's view of the channel.
///
/// Diagnostics never fail. Progress reports and rows check for cancellation:
/// once the parent has cancelled the request they return
/// [`HandlerError::cancelled`], which a handler propagates with `?`.
pub struct Context<'a> {
    request: u64,
    output: &'a Output,
    cancel: &'a CancelMark,
    streams: Vec<(String, u64)>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(request: u64, output: &'a Output, cancel: &'a CancelMark) -> Self {
        Self {
            request,
            output,
            cancel,
            streams: Vec::new(),
        }
    }

    /// The id the parent gave this request.
    pub fn request_id(&self) -> u64 {
        self.request
    }

    /// Whether the parent has asked this request to stop.
    pub fn is_cancelled(&self) -> bool {
        let mark = self.cancel.load(Ordering::Relaxed);
        mark == self.request || mark == u64::MAX
    }

    /// `Err(cancelled)` once the parent has asked this request to stop: a
    /// cheap check point for handlers that emit nothing for a while.
    pub fn checkpoint(&self) -> Result<(), HandlerError> {
        if self.is_cancelled() {
            Err(HandlerError::cancelled())
        } else {
            Ok(())
        }
    }

    /// Sends a diagnostic at `level`.
    pub fn diagnostic(&mut self, level: Level, message: impl Into<String>) {
        let diagnostic = Diagnostic::new(level, message);
        // A diagnostic too large for a frame is dropped rather than failing
        // the request; a broken channel surfaces at the next row or the end.
        let _unsent = self.output.frame(|encoder, buf| {
            encoder.json(buf, FrameKind::Diagnostic, self.request, &diagnostic)
        });
    }

    /// Sends an informational diagnostic.
    pub fn info(&mut self, message: impl Into<String>) {
        self.diagnostic(Level::Info, message);
    }

    /// Sends a warning diagnostic.
    pub fn warn(&mut self, message: impl Into<String>) {
        self.diagnostic(Level::Warn, message);
    }

    /// Reports progress: `done` of `total` units.
    pub fn progress(&mut self, done: u64, total: Option<u64>) -> Result<(), HandlerError> {
        self.report(&Progress::new(done, total))
    }

    /// Reports progress with a message.
    pub fn report(&mut self, progress: &Progress) -> Result<(), HandlerError> {
        self.checkpoint()?;
        self.write(|encoder, buf, request| {
            encoder.json(buf, FrameKind::Progress, request, progress)
        })
    }

    /// Sends every buffered frame now instead of waiting for the buffer to
    /// fill or [`LINGER`](crate::LINGER) to pass. Returns `false` if the
    /// channel is closed.
    pub fn flush(&mut self) -> bool {
        self.output.flush()
    }

    /// Writes raw bytes to the channel, bypassing the encoder, and flushes.
    /// For tests of the parent's error handling only.
    #[cfg(feature = "fault-injection")]
    pub fn inject_raw(&mut self, bytes: &[u8]) {
        self.output.raw(bytes);
    }

    fn row<R: Serialize + ?Sized>(&mut self, stream: &str, row: &R) -> Result<(), HandlerError> {
        self.checkpoint()?;
        let index = match self.streams.iter().position(|(name, _)| name == stream) {
            Some(index) => index,
            None => {
                self.streams.push((stream.to_owned(), 0));
                self.streams.len() - 1
            }
        };
        let seq = self.streams[index].1;
        self.write(|encoder, buf, request| encoder.row(buf, request, stream, seq, row))?;
        self.streams[index].1 += 1;
        Ok(())
    }

    fn write(
        &mut self,
        encode: impl FnOnce(
            &bulkhead_protocol::wire::FrameEncoder,
            &mut Vec<u8>,
            u64,
        ) -> Result<(), bulkhead_protocol::wire::EncodeError>,
    ) -> Result<(), HandlerError> {
        let request = self.request;
        match self
            .output
            .frame(|encoder, buf| encode(encoder, buf, request))
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(HandlerError::cancelled()),
            Err(err) => Err(HandlerError::encode(err.to_string())),
        }
    }

    /// Writes the terminal success frame for `output`, or returns the error
    /// to send instead.
    pub(crate) fn succeed<T: Serialize>(&mut self, output: Result<T, HandlerError>) -> Handled {
        let value = output.map_err(HandlerError::into_remote)?;
        let (request, rows) = (self.request, &self.streams);
        self.output
            .frame_now(|encoder, buf| encoder.success(buf, request, rows, &value))
            .map(|_sent| ())
            .map_err(|err| RemoteError::new(RemoteErrorKind::Encode, err.to_string()))
    }
}

/// A streaming request's view: a [`Context`] that can also emit rows of `R`.
pub struct StreamContext<'c, 'a, R> {
    cx: &'c mut Context<'a>,
    _row: PhantomData<fn(&R)>,
}

impl<'c, 'a, R: Serialize> StreamContext<'c, 'a, R> {
    pub(crate) fn new(cx: &'c mut Context<'a>) -> Self {
        Self {
            cx,
            _row: PhantomData,
        }
    }

    /// Emits one row on the default stream, `"rows"`.
    pub fn emit(&mut self, row: &R) -> Result<(), HandlerError> {
        self.cx.row(DEFAULT_STREAM, row)
    }

    /// Emits one row on `stream`. Each stream numbers its rows from 0.
    pub fn emit_to(&mut self, stream: &str, row: &R) -> Result<(), HandlerError> {
        self.cx.row(stream, row)
    }
}

impl<'a, R> Deref for StreamContext<'_, 'a, R> {
    type Target = Context<'a>;

    fn deref(&self) -> &Context<'a> {
        self.cx
    }
}

impl<'a, R> DerefMut for StreamContext<'_, 'a, R> {
    fn deref_mut(&mut self) -> &mut Context<'a> {
        self.cx
    }
}
