//! The request path: one request frame out, frames in until the terminal one.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use crate::rss::Rss;
use crate::sink::{Sink, SinkError};
use crate::wire::{Diagnostic, Frame, FrameError, FrameKind, Level, Progress, RemoteError};

use super::claim::Claim;
use super::generation::{ChildReader, Generation};
use super::rows::{RowHandler, Spoiled, Streams, guarded_ready, guarded_send};

/// Where a request's diagnostics and progress go, and how it may end early.
pub(crate) struct Extras<'a> {
    pub(crate) diagnostics: Option<&'a mut (dyn Sink<Diagnostic> + 'a)>,
    pub(crate) progress: Option<&'a mut (dyn Sink<Progress> + 'a)>,
    /// From send to terminal frame.
    pub(crate) timeout: Duration,
    /// The caller's cancellation, if any.
    pub(crate) cancel: Option<CancellationToken>,
    /// How long a cancelled request may take to end.
    pub(crate) cancel_grace: Duration,
    /// Resident set size at which the request is stopped, if any.
    pub(crate) rss_hard_limit: Option<u64>,
    /// How often the hard limit is checked.
    pub(crate) rss_sample_interval: Duration,
    /// Counted as a session open when it succeeds.
    pub(crate) opens_session: bool,
    /// The last RSS sample taken during the request, for the stats.
    pub(crate) last_rss: Option<Rss>,
    /// Times the row sink was not ready for the next row.
    pub(crate) backpressure_waits: u64,
    /// The pool lease this request runs under, if any.
    pub(crate) claim: Option<&'a mut Claim>,
}

/// A request that reached its terminal frame; the channel is consistent.
pub(crate) struct Finished {
    pub(crate) outcome: Outcome,
    /// Set when a row, diagnostic or progress report could not be delivered;
    /// the request was cancelled and drained, and this error wins.
    pub(crate) spoiled: Option<Spoiled>,
    /// The caller cancelled the request before it ended.
    pub(crate) cancelled: bool,
    pub(crate) streams: Streams,
}

/// The terminal frame of a request.
pub(crate) enum Outcome {
    /// The whole success frame body; its payload is a `Success<T>`.
    Success(Bytes),
    /// The child's typed error.
    Remote(RemoteError),
}

/// The channel can no longer be trusted; the generation must end.
#[derive(Debug)]
pub(crate) enum Broken {
    /// The child closed the channel.
    Eof,
    /// Bytes that are not a frame.
    Frame(FrameError),
    /// A valid frame that breaks the protocol here.
    Protocol { kind: FrameKind, detail: String },
    /// Writing to the child failed.
    Write(std::io::Error),
    /// The request timeout passed.
    Timeout,
    /// A cancelled request did not end within the grace period.
    GraceExpired,
    /// The child's resident set size passed the hard limit.
    MemoryLimit { rss: u64, limit: u64 },
}

/// What woke the request loop.
enum Event<'r> {
    Deadline,
    Sample,
    Cancel,
    GraceExpired,
    Frame(Option<Result<&'r [u8], FrameError>>),
    SinkFailed(SinkError),
}

/// Sends `request` (already encoded in `generation.out`) and reads frames
/// until its terminal frame, the timeout, or the end of the cancellation
/// grace period. Counts received frame bytes into `bytes`.
pub(crate) async fn exchange<H: RowHandler>(
    generation: &mut Generation,
    request: u64,
    rows: &mut H,
    extras: &mut Extras<'_>,
    bytes: &mut u64,
) -> Result<Finished, Broken> {
    let deadline = tokio::time::sleep(extras.timeout);
    let grace = tokio::time::sleep(extras.timeout);
    let token = extras.cancel.clone().unwrap_or_default();
    let cancelled = token.cancelled();
    let mut sampling = tokio::time::interval(extras.rss_sample_interval);
    sampling.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(deadline, grace, cancelled);
    generation.in_flight = true;
    send_within(generation, deadline.as_mut()).await?;
    let mut streams = Streams::default();
    let mut spoiled: Option<Spoiled> = None;
    let mut caller_cancelled = false;
    let mut cancel_sent = false;
    loop {
        // Once spoiled, frames are still checked but no longer delivered.
        let live = spoiled.is_none();
        let event = tokio::select! {
            biased;
            () = &mut deadline => Event::Deadline,
            () = &mut cancelled, if !caller_cancelled => Event::Cancel,
            () = &mut grace, if cancel_sent => Event::GraceExpired,
            _ = sampling.tick(), if extras.rss_hard_limit.is_some() => Event::Sample,
            event = next_frame(&mut generation.reader, rows, live, &mut extras.backpressure_waits) => event,
        };
        let body = match event {
            Event::Frame(Some(Ok(body))) => body,
            Event::Frame(Some(Err(err))) => return Err(Broken::Frame(err)),
            Event::Frame(None) => return Err(Broken::Eof),
            Event::Deadline => return Err(Broken::Timeout),
            Event::GraceExpired => return Err(Broken::GraceExpired),
            Event::Sample => {
                let rss = generation.rss.sample();
                extras.last_rss = Some(rss);
                match (rss, extras.rss_hard_limit) {
                    (Rss::Bytes(rss), Some(limit)) if rss > limit => {
                        return Err(Broken::MemoryLimit { rss, limit });
                    }
                    _ => continue,
                }
            }
            event @ (Event::Cancel | Event::SinkFailed(_)) => {
                match event {
                    Event::SinkFailed(err) => spoiled = Some(Spoiled::Sink(err)),
                    _ => caller_cancelled = true,
                }
                send_cancel(
                    generation,
                    request,
                    &mut cancel_sent,
                    grace.as_mut(),
                    extras.cancel_grace,
                    deadline.as_mut(),
                )
                .await?;
                continue;
            }
        };
        *bytes += body.len() as u64 + 4;
        let frame = Frame::decode(body).map_err(Broken::Frame)?;
        if frame.request() != request {
            return Err(Broken::Protocol {
                kind: frame.kind(),
                detail: format!(
                    "frame for request {} while request {request} runs",
                    frame.request()
                ),
            });
        }
        let delivered = match frame {
            Frame::Row {
                stream,
                seq,
                payload,
                ..
            } => {
                let name = admit(&mut streams, stream, seq)?;
                if live {
                    rows.row(name, seq, payload)
                } else {
                    Ok(())
                }
            }
            Frame::Diagnostic { payload, .. } => {
                let diagnostic: Diagnostic = decode(FrameKind::Diagnostic, payload)?;
                if live {
                    deliver(extras.diagnostics.as_deref_mut(), diagnostic, log).await
                } else {
                    Ok(())
                }
            }
            Frame::Progress { payload, .. } => {
                let progress: Progress = decode(FrameKind::Progress, payload)?;
                if live {
                    deliver(extras.progress.as_deref_mut(), progress, drop).await
                } else {
                    Ok(())
                }
            }
            Frame::Success { .. } => {
                let body = Bytes::copy_from_slice(body);
                generation.in_flight = false;
                return Ok(Finished {
                    outcome: Outcome::Success(body),
                    spoiled,
                    cancelled: caller_cancelled,
                    streams,
                });
            }
            Frame::Error { payload, .. } => {
                let remote: RemoteError = decode(FrameKind::Error, payload)?;
                generation.in_flight = false;
                return Ok(Finished {
                    outcome: Outcome::Remote(remote),
                    spoiled,
                    cancelled: caller_cancelled,
                    streams,
                });
            }
            Frame::Hello { .. }
            | Frame::Handshake { .. }
            | Frame::Request { .. }
            | Frame::Cancel { .. }
            | Frame::Shutdown => {
                return Err(Broken::Protocol {
                    kind: frame.kind(),
                    detail: "only the parent sends this kind".to_owned(),
                });
            }
        };
        if let Err(err) = delivered {
            spoiled = Some(err);
            send_cancel(
                generation,
                request,
                &mut cancel_sent,
                grace.as_mut(),
                extras.cancel_grace,
                deadline.as_mut(),
            )
            .await?;
        }
    }
}

/// Waits until the row sink can take another row (while rows are still
/// delivered), then for the next frame.
async fn next_frame<'r, H: RowHandler>(
    reader: &'r mut ChildReader,
    rows: &mut H,
    live: bool,
    waits: &mut u64,
) -> Event<'r> {
    if live {
        let mut waited = false;
        let ready = poll_fn(|cx| {
            let poll = rows.poll_ready(cx);
            waited |= poll.is_pending();
            poll
        })
        .await;
        *waits += u64::from(waited);
        if let Err(err) = ready {
            return Event::SinkFailed(err);
        }
    }
    Event::Frame(reader.next().await)
}

/// Asks the child to stop the request, once, and starts the grace period.
async fn send_cancel(
    generation: &mut Generation,
    request: u64,
    sent: &mut bool,
    grace: Pin<&mut Sleep>,
    period: Duration,
    deadline: Pin<&mut Sleep>,
) -> Result<(), Broken> {
    if *sent {
        return Ok(());
    }
    *sent = true;
    grace.reset(tokio::time::Instant::now() + period);
    generation
        .encoder
        .bare(&mut generation.out, FrameKind::Cancel, request);
    send_within(generation, deadline).await
}

/// Writes the pending frames, giving up at the request deadline: a child
/// that stops reading cannot hold a request past its timeout.
async fn send_within(generation: &mut Generation, deadline: Pin<&mut Sleep>) -> Result<(), Broken> {
    tokio::select! {
        sent = generation.send() => sent.map_err(Broken::Write),
        () = deadline => Err(Broken::Timeout),
    }
}

fn admit<'s>(streams: &'s mut Streams, stream: &str, seq: u64) -> Result<&'s Arc<str>, Broken> {
    streams
        .admit(stream, seq)
        .map_err(|expected| Broken::Protocol {
            kind: FrameKind::Row,
            detail: format!("row {seq} of stream {stream:?} where {expected} was due"),
        })
}

fn decode<'a, T: serde::Deserialize<'a>>(kind: FrameKind, payload: &'a [u8]) -> Result<T, Broken> {
    serde_json::from_slice(payload).map_err(|err| Broken::Protocol {
        kind,
        detail: format!("payload does not decode: {err}"),
    })
}

/// Hands `item` to `sink` once it is ready, or to `fallback` without one.
async fn deliver<T>(
    sink: Option<&mut (dyn Sink<T> + '_)>,
    item: T,
    fallback: fn(T),
) -> Result<(), Spoiled> {
    match sink {
        Some(sink) => {
            poll_fn(|cx| guarded_ready(sink, cx))
                .await
                .map_err(Spoiled::Sink)?;
            guarded_send(sink, item).map_err(Spoiled::Sink)
        }
        None => {
            fallback(item);
            Ok(())
        }
    }
}

/// Diagnostics without a sink go to `tracing`.
fn log(diagnostic: Diagnostic) {
    let message = diagnostic.message;
    match diagnostic.level {
        Level::Trace => tracing::trace!(target: "bulkhead::child", "{message}"),
        Level::Debug => tracing::debug!(target: "bulkhead::child", "{message}"),
        Level::Info | Level::Unknown => tracing::info!(target: "bulkhead::child", "{message}"),
        Level::Warn => tracing::warn!(target: "bulkhead::child", "{message}"),
        Level::Error => tracing::error!(target: "bulkhead::child", "{message}"),
    }
}
