//! One child process and its channel: spawn, handshake, frame I/O, ending.

use std::pin::Pin;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::env;
use crate::transport::{ChildPipes, Connection};
use crate::wire::{ChildInfo, Frame, FrameEncoder, FrameKind, Handshake, Hello, PROTOCOL_VERSION};

use super::reader::FrameReader;
use super::stderr::{StderrRing, StderrTask};
use super::{ChildExit, WorkerConfig, WorkerError};

/// How long to wait for a child that closed its channel to exit by itself
/// before killing it.
const EXIT_AFTER_EOF: Duration = Duration::from_secs(1);
/// How long a child whose handshake failed may take to exit by itself, so
/// that its own exit status, not our kill, is reported.
const STARTUP_EXIT_GRACE: Duration = Duration::from_millis(200);
/// How long to wait for the reap after a kill.
const REAP_AFTER_KILL: Duration = Duration::from_secs(5);
/// How long to wait for the stderr pipe to close once the child is gone.
const STDERR_SETTLE: Duration = Duration::from_millis(250);

/// A running child generation with an established channel.
pub(crate) struct Generation {
    /// Generation number, from 1.
    pub(crate) number: u64,
    /// What the child said about itself.
    pub(crate) info: ChildInfo,
    /// When the handshake completed.
    pub(crate) ready_at: Instant,
    /// When the last request finished.
    pub(crate) last_used: Instant,
    /// Requests finished on this generation.
    pub(crate) requests: u64,
    /// Set while a request is between its first write and its terminal
    /// frame. Still set on entry to the next request means the previous one
    /// was abandoned midway and the channel cannot be trusted.
    pub(crate) in_flight: bool,
    pub(crate) encoder: FrameEncoder,
    pub(crate) out: Vec<u8>,
    pub(crate) reader: FrameReader,
    writer: Pin<Box<dyn AsyncWrite + Send>>,
    child: Child,
    stderr: StderrRing,
    stderr_task: Option<StderrTask>,
}

/// What [`Generation::idle_state`] found between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idle {
    /// Quiet and alive.
    Usable,
    /// The previous request was abandoned midway (its future was dropped);
    /// unread frames may still be in the channel.
    Abandoned,
    /// The child wrote outside a request; whatever it was would be taken
    /// for part of the next one. Best effort: bytes that arrive after this
    /// check are read by the next request and fail it as a protocol error.
    Stray,
    /// The child closed its channel or exited while idle.
    Gone,
}

/// How a generation ended.
#[derive(Debug, Clone)]
pub(crate) struct Ended {
    /// The exit, if the child was reaped.
    pub(crate) exit: Option<ChildExit>,
    /// The end of its stderr.
    pub(crate) stderr_tail: String,
}

impl Generation {
    /// Spawns generation `number` and completes the handshake within the
    /// startup timeout.
    pub(crate) async fn start(config: &WorkerConfig, number: u64) -> Result<Self, WorkerError> {
        let mut command = Command::new(&config.program);
        if config.env_clear {
            command.env_clear();
        }
        command
            .args(&config.args)
            .envs(config.env.iter().map(|(key, value)| (key, value)))
            .env(env::CHILD, "1")
            .env(env::PARENT_PID, std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let connector =
            config
                .transport
                .prepare(&mut command)
                .map_err(|source| WorkerError::Transport {
                    generation: number,
                    source,
                })?;
        let mut child = command.spawn().map_err(|source| WorkerError::Spawn {
            program: config.program.clone(),
            source,
        })?;
        let stderr = StderrRing::new(config.stderr_capacity);
        let stderr_task = child.stderr.take().map(|pipe| stderr.drain(pipe));
        let mut pipes = ChildPipes {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
        };
        let handshake =
            async {
                let connection = connector.connect(&mut pipes).await.map_err(|source| {
                    WorkerError::Transport {
                        generation: number,
                        source,
                    }
                })?;
                handshake(config, number, connection).await
            };
        let outcome = tokio::time::timeout(config.startup_timeout, handshake).await;
        let starting = Starting {
            child,
            stderr,
            stderr_task,
        };
        match outcome {
            Ok(Ok((info, encoder, reader, writer))) => {
                let now = Instant::now();
                Ok(Self {
                    number,
                    info,
                    ready_at: now,
                    last_used: now,
                    requests: 0,
                    in_flight: false,
                    encoder,
                    out: Vec::with_capacity(4096),
                    reader,
                    writer,
                    child: starting.child,
                    stderr: starting.stderr,
                    stderr_task: starting.stderr_task,
                })
            }
            Ok(Err(err)) => {
                let ended = starting.end(STARTUP_EXIT_GRACE).await;
                Err(with_startup_context(err, ended))
            }
            Err(_elapsed) => {
                let ended = starting.kill().await;
                Err(WorkerError::StartupTimeout {
                    generation: number,
                    timeout: config.startup_timeout,
                    stderr_tail: ended.stderr_tail,
                })
            }
        }
    }

    /// Writes the encoded frames in `out` and flushes them.
    pub(crate) async fn send(&mut self) -> std::io::Result<()> {
        let result = self.writer.write_all(&self.out).await;
        self.out.clear();
        result?;
        self.writer.flush().await
    }

    /// Whether this generation can take the next request.
    pub(crate) fn idle_state(&mut self) -> Idle {
        if self.in_flight {
            return Idle::Abandoned;
        }
        match self.reader.next().now_or_never() {
            Some(Some(_)) => Idle::Stray,
            Some(None) => Idle::Gone,
            None if !matches!(self.child.try_wait(), Ok(None)) => Idle::Gone,
            None => Idle::Usable,
        }
    }

    /// Kills the child, reaps it and collects its stderr.
    pub(crate) async fn kill(self) -> Ended {
        self.into_starting().kill().await
    }

    /// For a child that closed its channel: waits briefly for it to exit by
    /// itself, kills it if it does not, and reaps it.
    pub(crate) async fn reap(self) -> Ended {
        self.into_starting().end(EXIT_AFTER_EOF).await
    }

    /// Asks the child to exit, waits up to `timeout`, then kills it.
    /// Returns how it ended and whether a kill was needed.
    pub(crate) async fn shutdown(mut self, timeout: Duration) -> (Ended, bool) {
        self.encoder.bare(&mut self.out, FrameKind::Shutdown, 0);
        // A child that is already gone cannot take the frame; the wait below
        // then returns at once with its exit.
        let _unsent = self.send().await;
        let _closed = self.writer.shutdown().await;
        let mut starting = self.into_starting();
        match tokio::time::timeout(timeout, starting.child.wait()).await {
            Ok(Ok(status)) => {
                let ended = starting
                    .finish(Some(ChildExit::from_status(status, false)))
                    .await;
                (ended, false)
            }
            _ => (starting.kill().await, true),
        }
    }

    fn into_starting(self) -> Starting {
        Starting {
            child: self.child,
            stderr: self.stderr,
            stderr_task: self.stderr_task,
        }
    }
}

/// A child without (or no longer with) a usable channel.
struct Starting {
    child: Child,
    stderr: StderrRing,
    stderr_task: Option<StderrTask>,
}

impl Starting {
    /// Waits up to `grace` for the child to exit by itself, then kills it.
    async fn end(mut self, grace: Duration) -> Ended {
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => {
                self.finish(Some(ChildExit::from_status(status, false)))
                    .await
            }
            _ => self.kill().await,
        }
    }

    async fn kill(mut self) -> Ended {
        if let Ok(Some(status)) = self.child.try_wait() {
            return self
                .finish(Some(ChildExit::from_status(status, false)))
                .await;
        }
        // Fails only when the child was already reaped; the wait reports that.
        let _already_gone = self.child.start_kill();
        let exit = match tokio::time::timeout(REAP_AFTER_KILL, self.child.wait()).await {
            Ok(Ok(status)) => Some(ChildExit::from_status(status, true)),
            _ => None,
        };
        self.finish(exit).await
    }

    async fn finish(mut self, exit: Option<ChildExit>) -> Ended {
        if let Some(task) = self.stderr_task.as_mut() {
            task.settle(STDERR_SETTLE).await;
        }
        Ended {
            exit,
            stderr_tail: self.stderr.tail(),
        }
    }
}

/// Sends the hello, reads and checks the handshake.
async fn handshake(
    config: &WorkerConfig,
    number: u64,
    connection: Connection,
) -> Result<
    (
        ChildInfo,
        FrameEncoder,
        FrameReader,
        Pin<Box<dyn AsyncWrite + Send>>,
    ),
    WorkerError,
> {
    let Connection { reader, mut writer } = connection;
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        max_frame: config.max_frame,
        generation: number,
    };
    let mut out = Vec::new();
    FrameEncoder::new(config.max_frame)
        .json(&mut out, FrameKind::Hello, 0, &hello)
        .map_err(|source| WorkerError::Encode {
            command: "hello".to_owned(),
            source,
        })?;
    let write = async {
        writer.write_all(&out).await?;
        writer.flush().await
    };
    write.await.map_err(|source| WorkerError::Write {
        generation: number,
        source,
    })?;

    let mut reader = FrameReader::new(reader, config.max_frame);
    let bad = |detail: String| WorkerError::Handshake {
        generation: number,
        detail,
        stderr_tail: String::new(),
    };
    let body = match reader.next().await {
        Some(Ok(body)) => body.to_vec(),
        Some(Err(err)) => return Err(bad(format!("unreadable first frame: {err}"))),
        None => return Err(bad("the channel closed before the handshake".to_owned())),
    };
    let payload = match Frame::decode(&body) {
        Ok(Frame::Handshake { payload }) => payload,
        Ok(other) => {
            return Err(bad(format!(
                "first frame is {}, not handshake",
                other.kind()
            )));
        }
        Err(err) => return Err(bad(format!("unreadable first frame: {err}"))),
    };
    let handshake: Handshake = serde_json::from_slice(payload)
        .map_err(|err| bad(format!("handshake payload does not decode: {err}")))?;
    if handshake.protocol != PROTOCOL_VERSION {
        return Err(WorkerError::ProtocolMismatch {
            generation: number,
            parent: PROTOCOL_VERSION,
            child: handshake.protocol,
            stderr_tail: String::new(),
        });
    }
    if handshake.max_frame < crate::wire::MIN_MAX_FRAME {
        return Err(bad(format!(
            "child announced max_frame {} below the minimum",
            handshake.max_frame
        )));
    }
    Ok((
        handshake.child,
        FrameEncoder::new(handshake.max_frame),
        reader,
        writer,
    ))
}

/// Adds what the dead child left behind to a startup error.
fn with_startup_context(err: WorkerError, ended: Ended) -> WorkerError {
    match err {
        WorkerError::ProtocolMismatch {
            generation,
            parent,
            child,
            ..
        } => WorkerError::ProtocolMismatch {
            generation,
            parent,
            child,
            stderr_tail: ended.stderr_tail,
        },
        WorkerError::Handshake {
            generation, detail, ..
        } => {
            let detail = match &ended.exit {
                Some(exit) if !exit.killed_by_parent => format!("{detail}; the child {exit}"),
                _ => detail,
            };
            WorkerError::Handshake {
                generation,
                detail,
                stderr_tail: ended.stderr_tail,
            }
        }
        other => other,
    }
}
