//! The serving loop: handshake, dispatch, terminal frames, exit.
//!
//! Two threads serve in turns. The idle one holds the input and blocks
//! reading it; when it reads a request it hands the input to the other and
//! runs the handler itself. The request therefore starts on the thread that
//! read it, with no hand-off on the round trip, while the other thread keeps
//! reading, so a cancel frame reaches a running handler at once.
//!
//! Before anything else the runtime makes sure it cannot outlive its parent
//! (see [`crate::orphan`]). When serving ends, the thread that ended it waits
//! up to [`EOF_GRACE`] for a running handler to finish; a handler still
//! running then is ended with the process, and with its whole process group
//! when the process leads one, so grandchildren go too.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bulkhead_protocol::wire::{
    ChildInfo, DEFAULT_MAX_FRAME, EncodeError, FrameKind, Handshake, Hello, MIN_MAX_FRAME,
    PROTOCOL_VERSION,
};

use bulkhead_protocol::transport::{ChildChannel, ChildTransport};

use crate::capability::Capability;
use crate::channel;
use crate::context::{CancelMark, Context};
use crate::input::{Incoming, Input, InputSlot, Request};
use crate::orphan::{self, Leader, Parent};
use crate::output::Output;
use crate::running::Running;

/// How long a request may keep running after the channel closed (or a
/// shutdown frame arrived) before the process exits anyway.
const EOF_GRACE: Duration = Duration::from_secs(1);

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
/// at its next row or progress report; a handler still running 1 s later is
/// ended by exiting the process (by killing its process group with SIGKILL,
/// when the process leads one), so a child never outlives its parent's
/// channel. On Linux the child also receives SIGTERM when its parent dies;
/// see the crate docs.
pub fn run(capability: Capability) -> ExitCode {
    Runtime::new(capability).run()
}

/// Serves what `make` returns (a [`Capability`], or a [`Runtime`]) and exits
/// the process if this process was launched by a bulkhead parent; returns
/// otherwise, without calling `make`. Lets one executable act as both
/// parent and child: call it first thing in `main`, and point the worker at
/// `std::env::current_exe()`.
pub fn run_if_child<R: Into<Runtime>>(make: impl FnOnce() -> R) {
    if std::env::var_os(bulkhead_protocol::env::CHILD).is_some_and(|value| value == "1") {
        std::process::exit(i32::from(serve(make().into())));
    }
}

/// Like [`run`], but announces `protocol` in the handshake: lets tests check
/// that a parent refuses a child of another protocol version.
#[cfg(feature = "fault-injection")]
pub fn run_with_protocol(capability: Capability, protocol: u32) -> ExitCode {
    let mut runtime = Runtime::new(capability);
    runtime.protocol = protocol;
    runtime.run()
}

/// The child runtime: a capability and the transports it may serve on.
///
/// [`run`] serves a capability on the transports registered by default:
/// stdio and local sockets (each behind the crate feature of that name).
/// A child that must serve on a transport of its own registers it here; the
/// runtime uses the one the parent names in `BULKHEAD_TRANSPORT`.
///
/// ```no_run
/// # #[derive(Debug)]
/// # struct Inherited;
/// # impl bulkhead_protocol::transport::ChildTransport for Inherited {
/// #     fn name(&self) -> &'static str { "inherited" }
/// #     fn connect(&self) -> std::io::Result<bulkhead_protocol::transport::ChildChannel> {
/// #         Err(std::io::Error::other("only an example"))
/// #     }
/// # }
/// let capability = bulkhead_child::Capability::new("echo", "1.0.0");
/// let code = bulkhead_child::Runtime::new(capability)
///     .transport(Inherited)
///     .run();
/// ```
pub struct Runtime {
    capability: Capability,
    transports: Vec<Box<dyn ChildTransport>>,
    protocol: u32,
}

impl Runtime {
    /// `capability`, served on the default transports.
    pub fn new(capability: Capability) -> Self {
        Self {
            capability,
            transports: channel::defaults(),
            protocol: PROTOCOL_VERSION,
        }
    }

    /// Registers `transport`, in place of one of the same name.
    pub fn transport(mut self, transport: impl ChildTransport) -> Self {
        self.transports
            .retain(|registered| registered.name() != transport.name());
        self.transports.push(Box::new(transport));
        self
    }

    /// The names of the registered transports.
    pub fn transports(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.transports.iter().map(|transport| transport.name())
    }

    /// Serves until the parent sends shutdown or closes the channel, as
    /// [`run`] does, and returns the process exit code.
    pub fn run(self) -> ExitCode {
        ExitCode::from(serve(self))
    }
}

impl From<Capability> for Runtime {
    fn from(capability: Capability) -> Self {
        Self::new(capability)
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("transports", &self.transports().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What both serving threads share.
struct Server {
    capability: Capability,
    output: Output,
    input: InputSlot,
    cancel: CancelMark,
    /// The exit code once serving ends; [`RUNNING`] until then.
    exit: AtomicU8,
    /// Handlers in progress.
    running: Running,
    /// Present when this process leads its process group.
    leader: Option<Leader>,
}

fn serve(runtime: Runtime) -> u8 {
    let Runtime {
        capability,
        transports,
        protocol,
    } = runtime;
    // The SIGTERM handler goes in first, so that a parent-death signal that
    // comes at once already takes the group down.
    let leader = Leader::claim();
    if orphan::watch_parent() == Parent::Gone {
        eprintln!("bulkhead child: the parent died before the child started");
        if let Some(leader) = &leader {
            leader.kill_group(EXIT_CLEAN);
        }
        return EXIT_CLEAN;
    }
    let ChildChannel { reader, writer } = match channel::open(&transports) {
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
        input: InputSlot::new(Input::new(reader)),
        cancel: Arc::new(AtomicU64::new(0)),
        exit: AtomicU8::new(RUNNING),
        running: Running::default(),
        leader,
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
                    other.wind_down(code);
                    // The main thread now returns from `serve` on its own,
                    // unless a write to a parent that reads nothing blocks it.
                    std::thread::sleep(EOF_GRACE);
                    std::process::exit(i32::from(code));
                });
            match spawned {
                Ok(_) => {
                    let code = server.serve_loop();
                    server.wind_down(code);
                    code
                }
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
            .take()
            .next(&self.cancel, &mut Request::default());
        let hello = match incoming {
            Incoming::Hello(payload) => payload,
            Incoming::Closed => return Err(self.closed()),
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
        let mut handshake = Handshake {
            protocol,
            max_frame: DEFAULT_MAX_FRAME,
            child: ChildInfo {
                name: self.capability.name().to_owned(),
                version: self.capability.version().to_owned(),
                pid: std::process::id(),
                commands: self.capability.commands().to_vec(),
                sessions: self.capability.sessions(),
                doctor: self.capability.doctor_served(),
                facts: self.capability.facts().clone(),
            },
        };
        // A parent may announce as little as 4 KiB: what is only for people
        // (type names, then facts) goes first when the handshake does not fit.
        let mut outcome = self.send_handshake(&handshake);
        if matches!(outcome, Err(EncodeError::TooLarge { .. })) {
            for command in &mut handshake.child.commands {
                (command.request, command.row, command.output) = (None, None, None);
            }
            outcome = self.send_handshake(&handshake);
        }
        if matches!(outcome, Err(EncodeError::TooLarge { .. })) {
            handshake.child.facts.clear();
            outcome = self.send_handshake(&handshake);
        }
        match outcome {
            Ok(true) => Ok(()),
            Ok(false) => Err(EXIT_CLEAN),
            Err(err) => Err(fail(
                EXIT_PROTOCOL,
                &format!("handshake does not encode: {err}"),
            )),
        }
    }

    /// Writes the handshake: `Ok(false)` when the channel is gone.
    fn send_handshake(&self, handshake: &Handshake) -> Result<bool, EncodeError> {
        self.output
            .frame_now(|encoder, buf| encoder.json(buf, FrameKind::Handshake, 0, handshake))
    }

    /// Takes turns with the other thread at reading; runs what it reads.
    fn serve_loop(&self) -> u8 {
        let mut request = Request::default();
        loop {
            let (incoming, _busy) = {
                let mut input = self.input.take();
                match self.exit.load(Ordering::Acquire) {
                    RUNNING => {
                        let incoming = input.next(&self.cancel, &mut request);
                        // Counted before the input is released, so that the
                        // other thread, should it end serving, waits for it.
                        let busy =
                            matches!(incoming, Incoming::Request(_)).then(|| self.running.enter());
                        (incoming, busy)
                    }
                    code => return code,
                }
            };
            let code = match incoming {
                Incoming::Request(id) => {
                    if self.handle(id, &request.command, &request.args) {
                        continue;
                    }
                    self.closed()
                }
                Incoming::Shutdown => EXIT_CLEAN,
                Incoming::Closed => self.closed(),
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
            // The success frame went out with everything before it.
            Ok(()) => self.output.open(),
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

    /// The channel closed without a shutdown frame. If that is because the
    /// parent is dying, a leader kills its group now: the parent-death
    /// signal comes after the channel closes, and could find this process
    /// already gone and its grandchildren left behind. Otherwise (or if not
    /// a leader) serving ends cleanly.
    fn closed(&self) -> u8 {
        if let Some(leader) = &self.leader
            && orphan::parent_dying()
        {
            leader.kill_group(EXIT_CLEAN);
        }
        EXIT_CLEAN
    }

    /// Called by a thread that has stopped serving: waits up to
    /// [`EOF_GRACE`] for a handler on the other thread to finish, and ends
    /// the process (with its group, if it leads one) if it does not.
    fn wind_down(&self, code: u8) {
        if self.running.wait_idle(EOF_GRACE) {
            return;
        }
        eprintln!(
            "bulkhead child: a handler still runs {} s after serving ended; ending the process",
            EOF_GRACE.as_secs()
        );
        match &self.leader {
            Some(leader) => leader.kill_group(code),
            None => std::process::exit(i32::from(code)),
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
