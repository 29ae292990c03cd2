//! The child's outgoing frames: one buffer, flushed when full, at request
//! ends, and by a background thread at most [`LINGER`] after it was dirtied.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bulkhead::wire::{EncodeError, FrameEncoder, FrameKind};
use bytes::BytesMut;
use serde::Serialize;

/// The longest a written row waits in the buffer before it is sent.
pub const LINGER: Duration = Duration::from_millis(2);

/// Buffer size at which the writer sends without waiting.
const FLUSH_AT: usize = 64 * 1024;

/// The shared writer for the protocol channel.
#[derive(Clone)]
pub(crate) struct Output {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    dirty: Condvar,
}

struct State {
    buf: BytesMut,
    sink: Box<dyn Write + Send>,
    encoder: FrameEncoder,
    /// Set once a write failed: the parent is gone.
    broken: bool,
    closed: bool,
}

impl Output {
    /// Starts the writer and its flusher thread.
    pub(crate) fn start(sink: Box<dyn Write + Send>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buf: BytesMut::with_capacity(FLUSH_AT * 2),
                sink,
                encoder: FrameEncoder::default(),
                broken: false,
                closed: false,
            }),
            dirty: Condvar::new(),
        });
        let flusher = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("bulkhead-flush".to_owned())
            .spawn(move || flusher.run_flusher())?;
        Ok(Self { shared })
    }

    /// Sets the largest frame the parent accepts.
    pub(crate) fn set_max_frame(&self, max_frame: u32) {
        self.shared.lock().encoder = FrameEncoder::new(max_frame);
    }

    /// Appends one frame via `encode`; sends when the buffer is full.
    /// Returns `Ok(false)` if the channel is broken.
    pub(crate) fn frame(
        &self,
        encode: impl FnOnce(&FrameEncoder, &mut BytesMut) -> Result<(), EncodeError>,
    ) -> Result<bool, EncodeError> {
        let mut state = self.shared.lock();
        if state.broken {
            return Ok(false);
        }
        let was_empty = state.buf.is_empty();
        let State { buf, encoder, .. } = &mut *state;
        encode(encoder, buf)?;
        if state.buf.len() >= FLUSH_AT {
            state.write_out();
        } else if was_empty {
            self.shared.dirty.notify_one();
        }
        Ok(!state.broken)
    }

    /// A JSON frame, sent at once.
    pub(crate) fn json_now<T: Serialize + ?Sized>(
        &self,
        kind: FrameKind,
        request: u64,
        payload: &T,
    ) -> Result<bool, EncodeError> {
        self.frame(|encoder, buf| encoder.json(buf, kind, request, payload))?;
        Ok(self.flush())
    }

    /// Sends everything buffered. Returns `false` if the channel is broken.
    pub(crate) fn flush(&self) -> bool {
        let mut state = self.shared.lock();
        state.write_out();
        !state.broken
    }

    /// Writes raw bytes and flushes: for fault injection in tests.
    #[cfg(feature = "fault-injection")]
    pub(crate) fn raw(&self, bytes: &[u8]) {
        let mut state = self.shared.lock();
        state.buf.extend_from_slice(bytes);
        state.write_out();
    }

    /// Flushes and stops the flusher thread.
    pub(crate) fn close(&self) {
        let mut state = self.shared.lock();
        state.write_out();
        state.closed = true;
        self.shared.dirty.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run_flusher(&self) {
        let mut state = self.lock();
        loop {
            while state.buf.is_empty() && !state.closed {
                state = self
                    .dirty
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.closed {
                return;
            }
            drop(state);
            std::thread::sleep(LINGER);
            state = self.lock();
            state.write_out();
        }
    }
}

impl State {
    fn write_out(&mut self) {
        if self.buf.is_empty() || self.broken {
            self.buf.clear();
            return;
        }
        let result = self
            .sink
            .write_all(&self.buf)
            .and_then(|()| self.sink.flush());
        self.buf.clear();
        if result.is_err() {
            self.broken = true;
        }
    }
}
