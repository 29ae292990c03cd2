//! One child process and its channel: spawn, handshake, frame I/O, ending.

use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tracing::Instrument;

use crate::rss::{Rss, RssSampler};
use crate::transport::Connection;
use crate::wire::{
    ChildInfo, Frame, FrameEncoder, FrameError, FrameKind, FrameReader, Handshake, Hello,
    PROTOCOL_VERSION,
};

use super::channel::{Channel, ChildReader, Quiet};
use super::process::{Ended, Process};
use super::{ShutdownStep, WorkerConfig, WorkerError};

/// How long to wait for a child that closed its channel to exit by itself
/// before killing it.
const EXIT_AFTER_EOF: Duration = Duration::from_secs(1);
/// How long a child whose handshake failed may take to exit by itself, so
/// that its own exit status, not our kill, is reported.
const STARTUP_EXIT_GRACE: Duration = Duration::from_millis(200);

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
    /// Session opens served by this generation.
    pub(crate) session_opens: u64,
    /// Rows delivered from this generation.
    pub(crate) rows: u64,
    /// Frame bytes received from this generation.
    pub(crate) bytes_received: u64,
    /// Samples the child's resident set size.
    pub(crate) rss: RssSampler,
    /// The resident set size right after the handshake.
    pub(crate) startup_rss: Rss,
    /// Set when the child was already over its RSS ceiling right after
    /// start, where cycling cannot help: policy decisions on its RSS no
    /// longer act for this generation.
    pub(crate) rss_exempt: bool,
    /// The framed channel to the child.
    pub(crate) channel: Channel,
    process: Process,
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

impl Generation {
    /// Spawns generation `number` and completes the handshake within the
    /// startup timeout.
    pub(crate) async fn start(config: &WorkerConfig, number: u64) -> Result<Self, WorkerError> {
        let span = tracing::info_span!(
            "spawn",
            generation = number,
            transport = config.transport.name(),
            pid = tracing::field::Empty,
        );
        let began = Instant::now();
        let started = Self::spawn(config, number, &span)
            .instrument(span.clone())
            .await;
        crate::metrics::spawn(began.elapsed(), started.is_ok());
        started
    }

    async fn spawn(
        config: &WorkerConfig,
        number: u64,
        span: &tracing::Span,
    ) -> Result<Self, WorkerError> {
        let (mut process, mut pipes, connector) = Process::spawn(config, number)?;
        span.record("pid", process.pid());
        let handshake =
            async {
                let connection = connector.connect(&mut pipes).await.map_err(|source| {
                    WorkerError::Transport {
                        generation: number,
                        source,
                    }
                })?;
                handshake(config, number, connection)
                    .instrument(tracing::info_span!("handshake", generation = number))
                    .await
            };
        // A child that exits first is noticed at once, whatever the
        // transport waits for (a socket connection, say).
        let started = async {
            tokio::select! {
                // What the child wrote before it exited tells more than the
                // exit alone.
                biased;
                shaken = handshake => shaken,
                () = process.exited() => Err(WorkerError::Handshake {
                    generation: number,
                    detail: "the child exited before its handshake".to_owned(),
                    stderr_tail: String::new(),
                }),
            }
        };
        let outcome = tokio::time::timeout(config.startup_timeout, started).await;
        match outcome {
            Ok(Ok((info, encoder, reader, writer))) => {
                let now = Instant::now();
                let mut rss = RssSampler::new(process.pid().unwrap_or(info.pid));
                let startup_rss = rss.sample();
                Ok(Self {
                    number,
                    info,
                    ready_at: now,
                    last_used: now,
                    requests: 0,
                    session_opens: 0,
                    rows: 0,
                    bytes_received: 0,
                    rss,
                    startup_rss,
                    rss_exempt: false,
                    channel: Channel::new(reader, writer, encoder),
                    process,
                })
            }
            Ok(Err(err)) => {
                let ended = process.end(STARTUP_EXIT_GRACE).await;
                Err(with_startup_context(err, ended))
            }
            Err(_elapsed) => {
                let ended = process.kill().await;
                Err(WorkerError::StartupTimeout {
                    generation: number,
                    timeout: config.startup_timeout,
                    stderr_tail: ended.stderr_tail,
                })
            }
        }
    }

    /// What enforces the child's kernel memory limit, if one is set.
    pub(crate) fn memory_enforcer(&self) -> Option<super::MemoryEnforcer> {
        self.process.memory_enforcer()
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.process.pid().unwrap_or(self.info.pid)
    }

    /// Whether this generation can take the next request.
    pub(crate) fn idle_state(&mut self) -> Idle {
        match self.channel.quiet() {
            Quiet::Abandoned => Idle::Abandoned,
            Quiet::Stray => Idle::Stray,
            Quiet::Closed => Idle::Gone,
            Quiet::Yes if self.process.has_exited() => Idle::Gone,
            Quiet::Yes => Idle::Usable,
        }
    }

    /// Kills the child and its group, reaps it and collects its stderr.
    pub(crate) async fn kill(self) -> Ended {
        self.process.kill().await
    }

    /// For a child that closed its channel: waits briefly for it to exit by
    /// itself, kills it if it does not, and reaps it.
    pub(crate) async fn reap(self) -> Ended {
        self.process.end(EXIT_AFTER_EOF).await
    }

    /// Sends the shutdown frame and closes the channel, then waits up to
    /// `exit_timeout`, terminates, waits up to `terminate_timeout`, kills.
    pub(crate) async fn shutdown(
        self,
        exit_timeout: Duration,
        terminate_timeout: Duration,
    ) -> (Ended, ShutdownStep) {
        self.channel.close(exit_timeout).await;
        self.process
            .wind_down(exit_timeout, terminate_timeout)
            .await
    }

    /// Kills the child and its group at once, without waiting for the reap.
    pub(crate) fn kill_now(&mut self) {
        self.process.kill_now();
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
        ChildReader,
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
        Some(Err(FrameError::Io(err))) => {
            return Err(bad(format!("the first frame could not be read: {err}")));
        }
        Some(Err(err)) => return Err(bad(not_a_child(&err, reader.unread_bytes()))),
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

/// Says that the child's first bytes are not a frame, and shows them.
fn not_a_child(err: &FrameError, bytes: &[u8]) -> String {
    const SHOWN: usize = 48;
    let shown = &bytes[..bytes.len().min(SHOWN)];
    let more = if bytes.len() > SHOWN { " ..." } else { "" };
    let (count, plural) = (bytes.len(), if bytes.len() == 1 { "" } else { "s" });
    format!(
        "the child wrote {count} byte{plural} that do not begin a bulkhead handshake ({err}): \
         \"{}\"{more}; is it a bulkhead child, and does it keep other output off the channel?",
        shown.escape_ascii(),
    )
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
        // The hello could not be written: the child is gone or not reading.
        WorkerError::Write { generation, source } => with_startup_context(
            WorkerError::Handshake {
                generation,
                detail: format!("the hello could not be sent: {source}"),
                stderr_tail: String::new(),
            },
            ended,
        ),
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
