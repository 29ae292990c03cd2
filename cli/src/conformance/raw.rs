//! A child spoken to frame by frame: the conformance kit's own parent,
//! which sends exactly what a check needs and sees every byte back.

use std::ffi::OsString;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bulkhead::Transport;
use bulkhead::transport::ChildPipes;
use bulkhead::wire::{Frame, FrameEncoder, FrameKind, FrameReader, Handshake, Hello};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::Command;

/// What starts a child for a check.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) program: Vec<OsString>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) startup: Duration,
}

/// One frame from the child, owned, payloads parsed as JSON (`Null` when
/// they are not JSON; `text` keeps them).
#[derive(Debug, Clone)]
pub(crate) enum Got {
    Handshake(Value),
    Row {
        request: u64,
        stream: String,
        seq: u64,
        value: Value,
    },
    Diagnostic {
        request: u64,
        value: Value,
    },
    Progress {
        request: u64,
        value: Value,
    },
    Success {
        request: u64,
        value: Value,
    },
    Error {
        request: u64,
        value: Value,
    },
    /// A frame only a parent may send.
    Wrong {
        kind: FrameKind,
        request: u64,
    },
}

impl Got {
    /// The request id the frame carries (0 for a handshake).
    pub(crate) fn request(&self) -> u64 {
        match self {
            Got::Handshake(_) => 0,
            Got::Row { request, .. }
            | Got::Diagnostic { request, .. }
            | Got::Progress { request, .. }
            | Got::Success { request, .. }
            | Got::Error { request, .. }
            | Got::Wrong { request, .. } => *request,
        }
    }
}

/// Everything a request produced up to its terminal frame.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    pub(crate) rows: Vec<(String, u64, Value)>,
    pub(crate) diagnostics: Vec<Value>,
    pub(crate) progress: Vec<Value>,
    /// `Ok(success payload)` or `Err(error payload)`.
    pub(crate) terminal: Option<Result<Value, Value>>,
}

type Reader = FrameReader<Pin<Box<dyn AsyncRead + Send>>>;

/// A child started for one check. Killed (with its group) when dropped.
pub(crate) struct RawChild {
    process: tokio::process::Child,
    /// `None` once closed with the input, where the channel cannot be
    /// half-closed.
    reader: Option<Reader>,
    /// Whether closing the input closes the whole channel: a Windows named
    /// pipe has no half-close.
    whole_close: bool,
    writer: Option<Pin<Box<dyn AsyncWrite + Send>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    encoder: FrameEncoder,
}

impl RawChild {
    /// Starts the child and connects its transport; sends nothing yet.
    pub(crate) async fn spawn(target: &Target, max_frame: u32) -> Result<Self, String> {
        let (program, args) = target
            .program
            .split_first()
            .ok_or_else(|| "no program was given".to_owned())?;
        let mut command = Command::new(program);
        command
            .args(args)
            .env(bulkhead::env::CHILD, "1")
            .env(bulkhead::env::PARENT_PID, std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        let connect = target
            .transport
            .prepare(&mut command)
            .map_err(|err| format!("the transport could not prepare the child: {err}"))?;
        let mut process = command
            .spawn()
            .map_err(|err| format!("could not start {}: {err}", program.to_string_lossy()))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut pipe) = process.stderr.take() {
            let sink = Arc::clone(&stderr);
            tokio::spawn(async move {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend_from_slice(&chunk[..n]);
                }
            });
        }
        let mut pipes = ChildPipes {
            stdin: process.stdin.take(),
            stdout: process.stdout.take(),
            pid: process.id(),
        };
        let connection = tokio::time::timeout(target.startup, connect.connect(&mut pipes))
            .await
            .map_err(|_| "the child did not connect within the startup timeout".to_owned())?
            .map_err(|err| format!("the transport could not connect: {err}"))?;
        Ok(Self {
            process,
            reader: Some(FrameReader::new(connection.reader, max_frame)),
            whole_close: cfg!(windows) && target.transport.name() != "stdio",
            writer: Some(connection.writer),
            stderr,
            encoder: FrameEncoder::new(bulkhead::wire::DEFAULT_MAX_FRAME),
        })
    }

    /// Starts the child and completes the handshake, announcing
    /// `max_frame`; returns the handshake's JSON.
    pub(crate) async fn started(target: &Target, max_frame: u32) -> Result<(Self, Value), String> {
        let mut child = Self::spawn(target, max_frame).await?;
        let handshake = child.hello(max_frame, target.startup).await?;
        Ok((child, handshake))
    }

    /// Sends hello and reads the handshake.
    pub(crate) async fn hello(&mut self, max_frame: u32, limit: Duration) -> Result<Value, String> {
        let hello = Hello {
            protocol: bulkhead::wire::PROTOCOL_VERSION,
            max_frame,
            generation: 1,
        };
        let mut out = Vec::new();
        self.encoder
            .json(&mut out, FrameKind::Hello, 0, &hello)
            .map_err(|err| err.to_string())?;
        self.send(&out).await?;
        match self.next(limit).await? {
            Some(Got::Handshake(value)) => {
                if let Ok(handshake) = serde_json::from_value::<Handshake>(value.clone()) {
                    self.encoder = FrameEncoder::new(handshake.max_frame);
                }
                Ok(value)
            }
            Some(other) => Err(format!(
                "the first frame is {}, not a handshake",
                describe(&other)
            )),
            None => Err(self.ended("before its handshake")),
        }
    }

    /// Sends a request for `command` with `args`.
    pub(crate) async fn request(
        &mut self,
        id: u64,
        command: &str,
        args: &Value,
    ) -> Result<(), String> {
        let mut out = Vec::new();
        self.encoder
            .request(&mut out, id, command, args)
            .map_err(|err| err.to_string())?;
        self.send(&out).await
    }

    /// Sends a frame with no payload (cancel, shutdown).
    pub(crate) async fn bare(&mut self, kind: FrameKind, id: u64) -> Result<(), String> {
        let mut out = Vec::new();
        self.encoder.bare(&mut out, kind, id);
        self.send(&out).await
    }

    /// Writes raw bytes.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| "the input is already closed".to_owned())?;
        writer
            .write_all(bytes)
            .await
            .map_err(|err| format!("could not write to the child: {err}"))?;
        writer
            .flush()
            .await
            .map_err(|err| format!("could not write to the child: {err}"))
    }

    /// Closes the child's input: end of input. Where the channel cannot be
    /// half-closed, it is closed whole, and the child's output is no longer
    /// read.
    pub(crate) async fn close_input(&mut self) {
        if let Some(mut writer) = self.writer.take() {
            let _ignored = writer.shutdown().await;
        }
        if self.whole_close {
            self.reader = None;
        }
    }

    /// The next frame, `None` at a clean end of the child's output.
    pub(crate) async fn next(&mut self, limit: Duration) -> Result<Option<Got>, String> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        let read = tokio::time::timeout(limit, reader.next()).await;
        let body = match read {
            Err(_) => {
                return Err(format!(
                    "nothing came within {}",
                    bulkhead::describe::Span(limit)
                ));
            }
            Ok(None) => return Ok(None),
            Ok(Some(Err(err))) => {
                let shown = preview(reader.unread_bytes());
                return Err(format!(
                    "the child's output is not a frame ({err}): {shown}"
                ));
            }
            Ok(Some(Ok(body))) => body.to_vec(),
        };
        let frame =
            Frame::decode(&body).map_err(|err| format!("a frame that does not parse: {err}"))?;
        let json = |payload: &[u8]| serde_json::from_slice(payload).unwrap_or(Value::Null);
        Ok(Some(match frame {
            Frame::Handshake { payload } => Got::Handshake(json(payload)),
            Frame::Row {
                request,
                stream,
                seq,
                payload,
            } => Got::Row {
                request,
                stream: stream.to_owned(),
                seq,
                value: json(payload),
            },
            Frame::Diagnostic { request, payload } => Got::Diagnostic {
                request,
                value: json(payload),
            },
            Frame::Progress { request, payload } => Got::Progress {
                request,
                value: json(payload),
            },
            Frame::Success { request, payload } => Got::Success {
                request,
                value: json(payload),
            },
            Frame::Error { request, payload } => Got::Error {
                request,
                value: json(payload),
            },
            other => Got::Wrong {
                kind: other.kind(),
                request: other.request(),
            },
        }))
    }

    /// Reads request `id` to its terminal frame, checking that every frame
    /// carries `id`.
    pub(crate) async fn exchange(&mut self, id: u64, limit: Duration) -> Result<Exchange, String> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut exchange = Exchange::default();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let got = match self.next(left).await? {
                Some(got) => got,
                None => return Err(self.ended("before the request's terminal frame")),
            };
            if got.request() != id {
                return Err(format!(
                    "{} carries request id {} while request {id} runs",
                    describe(&got),
                    got.request()
                ));
            }
            match got {
                Got::Row {
                    stream, seq, value, ..
                } => exchange.rows.push((stream, seq, value)),
                Got::Diagnostic { value, .. } => exchange.diagnostics.push(value),
                Got::Progress { value, .. } => exchange.progress.push(value),
                Got::Success { value, .. } => {
                    exchange.terminal = Some(Ok(value));
                    return Ok(exchange);
                }
                Got::Error { value, .. } => {
                    exchange.terminal = Some(Err(value));
                    return Ok(exchange);
                }
                other => return Err(format!("{} during a request", describe(&other))),
            }
        }
    }

    /// Runs one request to its end.
    pub(crate) async fn call(
        &mut self,
        id: u64,
        command: &str,
        args: &Value,
    ) -> Result<Exchange, String> {
        self.request(id, command, args).await?;
        self.exchange(id, Duration::from_secs(10)).await
    }

    /// Waits up to `limit` for the child to exit.
    pub(crate) async fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(limit, self.process.wait())
            .await
            .ok()?
            .ok()
    }

    /// What the child wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        let bytes = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Says that the output ended, with the exit if there is one.
    fn ended(&mut self, when: &str) -> String {
        match self.process.try_wait() {
            Ok(Some(status)) => format!("the child's output ended {when}; it {}", exited(status)),
            _ => format!("the child's output ended {when}"),
        }
    }
}

impl Drop for RawChild {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self.process.id() {
            // The child's group: whatever it started goes with it.
            let _ignored = nix_kill_group(pid);
        }
        let _ignored = self.process.start_kill();
    }
}

#[cfg(unix)]
fn nix_kill_group(pid: u32) -> Result<(), String> {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let group = i32::try_from(pid).map_err(|err| err.to_string())?;
    killpg(Pid::from_raw(group), Signal::SIGKILL).map_err(|err| err.to_string())
}

/// How a process ended, in words.
pub(crate) fn exited(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    "ended".to_owned()
}

/// A frame's kind in words.
pub(crate) fn describe(got: &Got) -> String {
    match got {
        Got::Handshake(_) => "a handshake".to_owned(),
        Got::Row { stream, seq, .. } => format!("row {seq} of stream \"{stream}\""),
        Got::Diagnostic { .. } => "a diagnostic".to_owned(),
        Got::Progress { .. } => "a progress frame".to_owned(),
        Got::Success { .. } => "a success frame".to_owned(),
        Got::Error { .. } => "an error frame".to_owned(),
        Got::Wrong { kind, .. } => format!("a {kind} frame, which only a parent sends"),
    }
}

/// The first bytes of `bytes`, escaped.
fn preview(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(48)];
    let more = if bytes.len() > shown.len() {
        " ..."
    } else {
        ""
    };
    format!("\"{}\"{more}", shown.escape_ascii())
}
