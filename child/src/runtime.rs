//! The serial loop: handshake, dispatch, terminal frames, exit.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use bulkhead::wire::{
    ChildInfo, DEFAULT_MAX_FRAME, Frame, FrameCodec, FrameKind, Handshake, Hello, MIN_MAX_FRAME,
    PROTOCOL_VERSION,
};
use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::capability::Capability;
use crate::channel::{self, Channel};
use crate::context::{CancelMark, Context};
use crate::output::Output;

/// How long a request may keep running after the channel closed before the
/// process exits anyway.
const EOF_GRACE: Duration = Duration::from_secs(2);

/// Exit code after a shutdown frame or the end of the channel.
const EXIT_CLEAN: u8 = 0;
/// Exit code when the channel could not be set up.
const EXIT_SETUP: u8 = 2;
/// Exit code when the parent broke the protocol.
const EXIT_PROTOCOL: u8 = 3;

/// Serves `capability` on the channel the parent set up, until the parent
/// sends shutdown or closes the channel. Returns the process exit code.
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

/// A message from the reader thread.
enum Incoming {
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

fn serve(capability: Capability, protocol: u32) -> u8 {
    let Channel { reader, writer } = match channel::from_env() {
        Ok(channel) => channel,
        Err(err) => return fail(EXIT_SETUP, &err),
    };
    let output = match Output::start(writer) {
        Ok(output) => output,
        Err(err) => return fail(EXIT_SETUP, &format!("cannot start the writer: {err}")),
    };
    let cancel: CancelMark = Arc::new(AtomicU64::new(0));
    let (sender, incoming) = mpsc::channel();
    let reader_cancel = Arc::clone(&cancel);
    let spawned = std::thread::Builder::new()
        .name("bulkhead-read".to_owned())
        .spawn(move || read_frames(reader, &sender, &reader_cancel));
    if let Err(err) = spawned {
        return fail(EXIT_SETUP, &format!("cannot start the reader: {err}"));
    }

    let code = match handshake(&capability, protocol, &output, &incoming) {
        Ok(()) => dispatch(&capability, &output, &cancel, &incoming),
        Err(code) => code,
    };
    output.close();
    code
}

fn handshake(
    capability: &Capability,
    protocol: u32,
    output: &Output,
    incoming: &mpsc::Receiver<Incoming>,
) -> Result<(), u8> {
    let hello = match incoming.recv() {
        Ok(Incoming::Hello(payload)) => payload,
        Ok(Incoming::Closed) | Err(_) => return Err(EXIT_CLEAN),
        Ok(Incoming::Broken(err)) => return Err(fail(EXIT_PROTOCOL, &err)),
        Ok(_) => {
            return Err(fail(
                EXIT_PROTOCOL,
                "the first frame from the parent is not hello",
            ));
        }
    };
    let hello: Hello = serde_json::from_slice(&hello)
        .map_err(|err| fail(EXIT_PROTOCOL, &format!("hello does not decode: {err}")))?;
    if hello.max_frame < MIN_MAX_FRAME {
        return Err(fail(
            EXIT_PROTOCOL,
            &format!(
                "hello announces max_frame {} below the minimum",
                hello.max_frame
            ),
        ));
    }
    output.set_max_frame(hello.max_frame);
    let handshake = Handshake {
        protocol,
        max_frame: DEFAULT_MAX_FRAME,
        child: ChildInfo {
            name: capability.name().to_owned(),
            version: capability.version().to_owned(),
            pid: std::process::id(),
            commands: capability.commands().to_vec(),
        },
    };
    match output.json_now(FrameKind::Handshake, 0, &handshake) {
        Ok(true) => Ok(()),
        Ok(false) => Err(EXIT_CLEAN),
        Err(err) => Err(fail(
            EXIT_PROTOCOL,
            &format!("handshake does not encode: {err}"),
        )),
    }
}

fn dispatch(
    capability: &Capability,
    output: &Output,
    cancel: &CancelMark,
    incoming: &mpsc::Receiver<Incoming>,
) -> u8 {
    loop {
        match incoming.recv() {
            Ok(Incoming::Request { id, command, args }) => {
                let mut cx = Context::new(id, output, cancel);
                if let Err(err) = capability.handle(&command, &args, &mut cx) {
                    let sent =
                        output.frame(|encoder, buf| encoder.json(buf, FrameKind::Error, id, &err));
                    if let Err(encode) = sent {
                        return fail(
                            EXIT_PROTOCOL,
                            &format!("error frame does not encode: {encode}"),
                        );
                    }
                }
                if !output.flush() {
                    return EXIT_CLEAN;
                }
            }
            Ok(Incoming::Shutdown | Incoming::Closed) | Err(_) => return EXIT_CLEAN,
            Ok(Incoming::Broken(err)) => return fail(EXIT_PROTOCOL, &err),
            Ok(Incoming::Hello(_)) => return fail(EXIT_PROTOCOL, "a second hello from the parent"),
        }
    }
}

/// Reads frames until the channel closes; handles cancel itself so that a
/// running handler sees it at once.
fn read_frames(
    mut reader: Box<dyn Read + Send>,
    sender: &mpsc::Sender<Incoming>,
    cancel: &CancelMark,
) {
    let mut codec = FrameCodec::new(DEFAULT_MAX_FRAME);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut chunk = vec![0u8; 8 * 1024];
    let end = loop {
        let body = match codec.decode(&mut buf) {
            Ok(Some(body)) => body,
            Ok(None) => match reader.read(&mut chunk) {
                Ok(0) | Err(_) => break Incoming::Closed,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    continue;
                }
            },
            Err(err) => break Incoming::Broken(format!("unreadable frame from the parent: {err}")),
        };
        let message = match Frame::decode(&body) {
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
            Ok(other) => {
                break Incoming::Broken(format!("the parent sent a {} frame", other.kind()));
            }
            Err(err) => break Incoming::Broken(format!("unreadable frame from the parent: {err}")),
        };
        if sender.send(message).is_err() {
            return;
        }
    };
    cancel.store(u64::MAX, Ordering::Relaxed);
    if sender.send(end).is_ok() {
        std::thread::sleep(EOF_GRACE);
        std::process::exit(0);
    }
}

fn fail(code: u8, message: &str) -> u8 {
    eprintln!("bulkhead child: {message}");
    code
}
