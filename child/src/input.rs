//! The parent's frames, read by whichever serving thread is idle.

use std::io::Read;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use bulkhead_protocol::wire::{DEFAULT_MAX_FRAME, Frame, FrameError, FrameReader};
use bytes::Bytes;

use crate::context::CancelMark;

/// What the parent asked for, as far as the serving loop cares.
pub(crate) enum Incoming {
    Hello(Bytes),
    /// A request; its command and arguments are in the [`Request`] given
    /// to [`Input::next`].
    Request(u64),
    Shutdown,
    Closed,
    Broken(String),
}

/// A request's command and arguments, in buffers that a serving thread
/// keeps from one request to the next, so that taking a request allocates
/// nothing.
#[derive(Debug, Default)]
pub(crate) struct Request {
    pub(crate) command: String,
    pub(crate) args: Vec<u8>,
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

    /// Blocks until the next frame that needs a serving thread; a request's
    /// command and arguments go to `into`. Cancel
    /// frames are handled here, by setting `cancel`, so that a handler
    /// running on the other thread sees them at once.
    pub(crate) fn next(&mut self, cancel: &CancelMark, into: &mut Request) -> Incoming {
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
                }) => {
                    into.command.clear();
                    into.command.push_str(command);
                    into.args.clear();
                    into.args.extend_from_slice(args);
                    Incoming::Request(request)
                }
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

/// The input, held by one serving thread at a time, for as long as it
/// waits for the parent. A thread that wants it meanwhile sleeps on a
/// condition variable: a plain lock would first spin for a holder that is
/// blocked in a read, once per request.
pub(crate) struct InputSlot {
    turn: Mutex<Turn>,
    free: Condvar,
    input: Mutex<Input>,
}

/// Who holds the input, and who waits for it.
#[derive(Default)]
struct Turn {
    held: bool,
    waiting: usize,
}

/// A serving thread's hold on the input; dropping it hands the input on.
pub(crate) struct Held<'a> {
    // Fields drop in order: the input is unlocked before the turn passes.
    input: MutexGuard<'a, Input>,
    _turn: Token<'a>,
}

/// The turn of a [`Held`]; dropping it frees the turn.
struct Token<'a>(&'a InputSlot);

impl InputSlot {
    pub(crate) fn new(input: Input) -> Self {
        Self {
            turn: Mutex::new(Turn::default()),
            free: Condvar::new(),
            input: Mutex::new(input),
        }
    }

    /// Waits until the input is free and takes it.
    pub(crate) fn take(&self) -> Held<'_> {
        let mut turn = self.turn();
        while turn.held {
            turn.waiting += 1;
            turn = self.free.wait(turn).unwrap_or_else(PoisonError::into_inner);
            turn.waiting -= 1;
        }
        turn.held = true;
        drop(turn);
        let token = Token(self);
        Held {
            // Uncontended: only the thread that holds the turn locks it.
            input: self.input.lock().unwrap_or_else(PoisonError::into_inner),
            _turn: token,
        }
    }

    fn turn(&self) -> MutexGuard<'_, Turn> {
        self.turn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Deref for Held<'_> {
    type Target = Input;

    fn deref(&self) -> &Input {
        &self.input
    }
}

impl DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Input {
        &mut self.input
    }
}

impl Drop for Token<'_> {
    fn drop(&mut self) {
        let mut turn = self.0.turn();
        turn.held = false;
        let waiting = turn.waiting > 0;
        // Unlocked first, so that the thread woken does not find it locked.
        drop(turn);
        // Waking costs a system call; skip it when no one waits.
        if waiting {
            self.0.free.notify_one();
        }
    }
}
