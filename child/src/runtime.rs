//! The serving loop: handshake, dispatch, terminal frames, exit.
//!
//! Two threads serve in turns. The idle one holds the input and blocks
//! reading it; when it reads a request it hands the input to the other and
//! runs the handler itself. The request therefore starts on the thread that
//! read it, with no hand-off on the round trip, while the other thread keeps
//! reading, so a cancel frame reaches a running handler at once.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bulkhead::wire::{
    ChildInfo, DEFAULT_MAX_FRAME, FrameKind, Handshake, Hello, MIN_MAX_FRAME, PROTOCOL_VERSION,
};

use crate::capability::Capability;
use crate::channel::{self, Channel};
use crate::context::{CancelMark, Context};
use crate::input::{Incoming, Input};
use crate::output::Output;

/// How long a request may keep running after the channel closed (or a
/// shutdown frame arrived) before the process exits anyway.
const EOF_GRACE: Duration = Duration::from_secs(2);

/// Exit code after a shutdown frame or the end of the channel.
const EXIT_CLEAN: u8 = 0;
/// Exit code when the channel could not be set up.
const EXIT_SETUP: u8 = 2;
/// Exit code when the parent broke the protocol.
const EXIT_PROTOCOL: u8 = 3;
/// No exit decided yet.
const RUNNING: u8 = u8::MAX;

/// Serves `capability` on the channel the parent set up, until the parent
/// sends shutdown or closes the channel. Returns the process exit code:
/// 0 after shutdown or end of channel, 2 if the channel could not be set up,
/// 3 if the parent broke the protocol.
///
/// If the channel closes while a handler runs, the handler sees cancellation
/// at its next row or progress report; a handler still running 2 s later is
/// ended by exiting the process, so a child never outlives its parent's
/// channel.
pub fn run(capability: Capability) -> ExitCode {
    ExitCode::from(serve(capability, PROTOCOL_VERSION))
}

/// Serves `capability` and exits the process if this process was launched by
/// a bulkhead parent; returns otherwise. Lets one executable act as both
/// parent and child: call it first thing in `main`, and point the worker at
/// `std::env::current_exe()`.
pub fn run_if_child(capability: impl FnOnce() -> Capability) {
    if std::env::var_os(bulkhead::env::CHILD).is_some_and(|value| value == "1") {
        std::process::exit(i32::from(serve(capability(), PROTOCOL_VERSION)));
    }
}

/// Like [`run`], but announces `protocol` in the handshake: lets tests check
/// that a parent refuses a child of another protocol version.
#[cfg(feature = "fault-injection")]
pub fn run_with_protocol(capability: Capability, protocol: u32) -> ExitCode {
    ExitCode::from(serve(capability, protocol))
}

/// What both serving threads share.
struct Server {
    capability: Capability,
    output: Output,
    input: Mutex<Input>,
    cancel: CancelMark,
    /// The exit code once serving ends; [`RUNNING`] until then.
    exit: AtomicU8,
}

fn serve(capability: Capability, protocol: u32) -> u8 {
    let Channel { reader, writer } = match channel::from_env() {
        Ok(channel) => channel,
        Err(err) => return fail(EXIT_SETUP, &err),
    };
    let output = match Output::start(writer) {
        Ok(output) => output,
        Err(err) => return fail(EXIT_SETUP, &format!("cannot start the writer: {err}")),
    };
    let server = Arc::new(Server {
        capability,
        output,
        input: Mutex::new(Input::new(reader)),
        cancel: Arc::new(AtomicU64::new(0)),
        exit: AtomicU8::new(RUNNING),
    });
    let code = match server.handshake(protocol) {
        Ok(()) => {
            let other = Arc::clone(&server);
            let spawned = std::thread::Builder::new()
                .name("bulkhead-serve".to_owned())
                .spawn(move || {
                    let code = other.serve_loop();
                    // Serving ended here; the main thread may still be in a
                    // handler that ignores cancellation.
                    other.output.flush();
                    std::thread::sleep(EOF_GRACE);
                    std::process::exit(i32::from(code));
                });
            match spawned {
                Ok(_) => server.serve_loop(),
                Err(err) => fail(EXIT_SETUP, &format!("cannot start a serving thread: {err}")),
            }
        }
        Err(code) => code,
    };
    server.output.close();
    code
}

impl Server {
    fn handshake(&self, protocol: u32) -> Result<(), u8> {
        let incoming = self
            .input
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next(&self.cancel);
        let hello = match incoming {
            Incoming::Hello(payload) => payload,
            Incoming::Closed => return Err(EXIT_CLEAN),
            Incoming::Broken(err) => return Err(fail(EXIT_PROTOCOL, &err)),
            _ => {
                return Err(fail(
                    EXIT_PROTOCOL,
                    "the first frame from the parent is not hello",
                ));
            }
        };
        let hello: Hello = serde_json::from_slice(&hello)
            .map_err(|err| fail(EXIT_PROTOCOL, &format!("hello does not decode: {err}")))?;
        if hello.max_frame < MIN_MAX_FRAME {
            let message = format!(
                "hello announces max_frame {} below the minimum",
                hello.max_frame
            );
            return Err(fail(EXIT_PROTOCOL, &message));
        }
        self.output.set_max_frame(hello.max_frame);
        let handshake = Handshake {
            protocol,
            max_frame: DEFAULT_MAX_FRAME,
            child: ChildInfo {
                name: self.capability.name().to_owned(),
                version: self.capability.version().to_owned(),
                pid: std::process::id(),
                commands: self.capability.commands().to_vec(),
            },
        };
        match self
            .output
            .frame_now(|encoder, buf| encoder.json(buf, FrameKind::Handshake, 0, &handshake))
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(EXIT_CLEAN),
            Err(err) => Err(fail(
                EXIT_PROTOCOL,
                &format!("handshake does not encode: {err}"),
            )),
        }
    }

    /// Takes turns with the other thread at reading; runs what it reads.
    fn serve_loop(&self) -> u8 {
        loop {
            let incoming = {
                let mut input = self.input.lock().unwrap_or_else(PoisonError::into_inner);
                match self.exit.load(Ordering::Acquire) {
                    RUNNING => input.next(&self.cancel),
                    code => return code,
                }
            };
            let code = match incoming {
                Incoming::Request { id, command, args } => {
                    if self.handle(id, &command, &args) {
                        continue;
                    }
                    EXIT_CLEAN
                }
                Incoming::Shutdown | Incoming::Closed => EXIT_CLEAN,
                Incoming::Broken(err) => fail(EXIT_PROTOCOL, &err),
                Incoming::Hello(_) => fail(EXIT_PROTOCOL, "a second hello from the parent"),
            };
            return self.end(code);
        }
    }

    /// Runs one request and sends its terminal frame. Returns `false` once
    /// the channel is broken.
    fn handle(&self, id: u64, command: &str, args: &[u8]) -> bool {
        let mut cx = Context::new(id, &self.output, &self.cancel);
        match self.capability.handle(command, args, &mut cx) {
            Ok(()) => self.output.flush(),
            Err(err) => match self
                .output
                .frame_now(|encoder, buf| encoder.json(buf, FrameKind::Error, id, &err))
            {
                Ok(sent) => sent,
                Err(encode) => {
                    let message = format!("error frame does not encode: {encode}");
                    self.end(fail(EXIT_PROTOCOL, &message));
                    false
                }
            },
        }
    }

    /// Records the exit code (the first one wins) and cancels whatever runs.
    fn end(&self, code: u8) -> u8 {
        self.cancel.store(u64::MAX, Ordering::Relaxed);
        match self
            .exit
            .compare_exchange(RUNNING, code, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => code,
            Err(first) => first,
        }
    }
}

fn fail(code: u8, message: &str) -> u8 {
    eprintln!("bulkhead child: {message}");
    code
}
