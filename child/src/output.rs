//! The child's outgoing frames: one buffer, sent when it passes
//! [`FLUSH_AT`], at request ends, and by a background thread at most
//! [`LINGER`] after it was first dirtied.
//!
//! Frames are encoded under the buffer lock; the system call that sends them
//! is made outside it, under a separate writer lock taken first, so the
//! handler can encode the next frames while a full buffer is being written
//! and frames still leave in order.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bulkhead_protocol::wire::{EncodeError, FrameEncoder};

/// The longest a written row waits in the buffer before it is sent.
pub const LINGER: Duration = Duration::from_millis(2);

/// Buffer size at which frames are sent without waiting. Half a default
/// pipe, so that one write rarely blocks while the parent drains the other.
const FLUSH_AT: usize = 32 * 1024;

/// The shared writer for the protocol channel.
#[derive(Clone)]
pub(crate) struct Output {
    shared: Arc<Shared>,
}

struct Shared {
    /// Frames not yet sent. Lock order: `sink`, then `pending`.
    pending: Mutex<Pending>,
    /// The channel itself.
    sink: Mutex<Sink>,
    /// Signalled when `pending` goes from empty to non-empty, or closes.
    dirty: Condvar,
}

struct Pending {
    buf: Vec<u8>,
    encoder: FrameEncoder,
    /// Counts sends, so the flusher can tell whether one happened while it
    /// lingered.
    sends: u64,
    /// Set once a write failed: the parent is gone.
    broken: bool,
    closed: bool,
}

struct Sink {
    writer: Box<dyn Write + Send>,
    /// The buffer being written; swapped with `Pending::buf` to send.
    spare: Vec<u8>,
}

impl Output {
    /// Starts the writer and its flusher thread.
    pub(crate) fn start(writer: Box<dyn Write + Send>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(FLUSH_AT * 2),
                encoder: FrameEncoder::default(),
                sends: 0,
                broken: false,
                closed: false,
            }),
            sink: Mutex::new(Sink {
                writer,
                spare: Vec::with_capacity(FLUSH_AT * 2),
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
        self.shared.pending().encoder = FrameEncoder::new(max_frame);
    }

    /// Appends one frame via `encode`; sends when the buffer is full.
    /// Returns `Ok(false)` if the channel is broken.
    pub(crate) fn frame(
        &self,
        encode: impl FnOnce(&FrameEncoder, &mut Vec<u8>) -> Result<(), EncodeError>,
    ) -> Result<bool, EncodeError> {
        let mut pending = self.shared.pending();
        if pending.broken {
            return Ok(false);
        }
        let was_empty = pending.buf.is_empty();
        let Pending { buf, encoder, .. } = &mut *pending;
        encode(encoder, buf)?;
        if pending.buf.len() >= FLUSH_AT {
            drop(pending);
            return Ok(self.shared.send());
        }
        if was_empty {
            self.shared.dirty.notify_one();
        }
        Ok(true)
    }

    /// Appends one frame via `encode` and sends everything at once, without
    /// waking the flusher. Returns `Ok(false)` if the channel is broken.
    pub(crate) fn frame_now(
        &self,
        encode: impl FnOnce(&FrameEncoder, &mut Vec<u8>) -> Result<(), EncodeError>,
    ) -> Result<bool, EncodeError> {
        self.shared.send_with(encode)
    }

    /// Whether the channel still takes frames: no write to it failed.
    pub(crate) fn open(&self) -> bool {
        !self.shared.pending().broken
    }

    /// Sends everything buffered. Returns `false` if the channel is broken.
    pub(crate) fn flush(&self) -> bool {
        self.shared.send()
    }

    /// Writes raw bytes and flushes: for fault injection in tests.
    #[cfg(feature = "fault-injection")]
    pub(crate) fn raw(&self, bytes: &[u8]) {
        self.shared.pending().buf.extend_from_slice(bytes);
        self.shared.send();
    }

    /// Flushes and stops the flusher thread.
    pub(crate) fn close(&self) {
        self.shared.send();
        self.shared.pending().closed = true;
        self.shared.dirty.notify_one();
    }
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the pending frames and writes them, outside the pending lock.
    /// Returns `false` if the channel is broken.
    fn send(&self) -> bool {
        self.send_with(|_, _| Ok(())).unwrap_or(false)
    }

    /// Appends one more frame via `encode`, then takes the pending frames
    /// and writes them, outside the pending lock, in one pass over the
    /// locks. Returns `Ok(false)` if the channel is broken.
    fn send_with(
        &self,
        encode: impl FnOnce(&FrameEncoder, &mut Vec<u8>) -> Result<(), EncodeError>,
    ) -> Result<bool, EncodeError> {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        let Sink { writer, spare } = &mut *sink;
        {
            let mut pending = self.pending();
            if pending.broken {
                pending.buf.clear();
                return Ok(false);
            }
            let Pending { buf, encoder, .. } = &mut *pending;
            encode(encoder, buf)?;
            if pending.buf.is_empty() {
                return Ok(true);
            }
            std::mem::swap(&mut pending.buf, spare);
            pending.sends += 1;
        }
        let result = writer.write_all(spare).and_then(|()| writer.flush());
        spare.clear();
        if result.is_err() {
            self.pending().broken = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn run_flusher(&self) {
        loop {
            let sends = {
                let mut pending = self.pending();
                while pending.buf.is_empty() && !pending.closed {
                    pending = self
                        .dirty
                        .wait(pending)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if pending.closed {
                    return;
                }
                pending.sends
            };
            std::thread::sleep(LINGER);
            // Frames sent by someone else meanwhile leave nothing older than
            // one linger behind; otherwise send what waited.
            if self.pending().sends == sends {
                self.send();
            }
        }
    }
}
