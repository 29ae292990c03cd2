//! The request path: one request frame out, frames in until the terminal
//! one. It runs over a [`Channel`] and an RSS sampler, nothing else, so it
//! is tested without processes (`tests.rs`, against a scripted child on an
//! in-memory duplex).

#[cfg(test)]
mod script;
#[cfg(test)]
mod tests;

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use crate::rss::{Rss, RssSampler};
use crate::sink::{Sink, SinkError};
use crate::wire::{Diagnostic, Frame, FrameError, FrameKind, Level, Progress, RemoteError};

use super::channel::{Channel, ChildReader};
use super::rows::{RowHandler, Spoiled, Streams, guarded_ready, guarded_send};

/// What ends a request early: its deadline, the caller's cancellation (and
/// the grace the child gets to honour it), and the hard RSS limit.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
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
}

/// Where a request's diagnostics and progress go; without a sink,
/// diagnostics are logged and progress is dropped.
#[derive(Default)]
pub(crate) struct Sinks<'a> {
    pub(crate) diagnostics: Option<&'a mut (dyn Sink<Diagnostic> + 'a)>,
    pub(crate) progress: Option<&'a mut (dyn Sink<Progress> + 'a)>,
}

/// What a request counted on its way.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    /// Frame bytes received, length prefixes included.
    pub(crate) bytes: u64,
    /// Times the row sink was not ready for the next row.
    pub(crate) backpressure_waits: u64,
    /// The last RSS sample taken during the request, if any.
    pub(crate) last_rss: Option<Rss>,
}

/// Where the request loop samples the child's resident set size.
pub(crate) trait SampleRss: Send {
    fn sample(&mut self) -> Rss;
}

impl SampleRss for RssSampler {
    fn sample(&mut self) -> Rss {
        RssSampler::sample(self)
    }
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
    /// The success frame's payload: a JSON `Success<T>`, decoded once, by
    /// the caller.
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

/// Sends request `request` (already encoded in `channel.out`) and reads
/// frames until its terminal frame, the timeout, or the end of the
/// cancellation grace period, delivering rows to `rows` and the rest to
/// `sinks`, sampling `rss` under a hard limit, and counting into `tally`.
pub(crate) async fn exchange<H: RowHandler>(
    channel: &mut Channel,
    rss: &mut dyn SampleRss,
    request: u64,
    rows: &mut H,
    sinks: &mut Sinks<'_>,
    limits: &Limits,
    tally: &mut Tally,
) -> Result<Finished, Broken> {
    let deadline = tokio::time::sleep(limits.timeout);
    let grace = tokio::time::sleep(limits.timeout);
    let token = limits.cancel.clone().unwrap_or_default();
    let cancelled = token.cancelled();
    let mut sampling = tokio::time::interval(limits.rss_sample_interval);
    sampling.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(deadline, grace, cancelled);
    channel.in_flight = true;
    send_within(channel, deadline.as_mut()).await?;
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
            _ = sampling.tick(), if limits.rss_hard_limit.is_some() => Event::Sample,
            event = next_frame(&mut channel.reader, rows, live, &mut tally.backpressure_waits) => event,
        };
        let body = match event {
            Event::Frame(Some(Ok(body))) => body,
            Event::Frame(Some(Err(err))) => return Err(Broken::Frame(err)),
            Event::Frame(None) => return Err(Broken::Eof),
            Event::Deadline => return Err(Broken::Timeout),
            Event::GraceExpired => return Err(Broken::GraceExpired),
            Event::Sample => {
                let rss = rss.sample();
                tally.last_rss = Some(rss);
                match (rss, limits.rss_hard_limit) {
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
                    channel,
                    request,
                    &mut cancel_sent,
                    grace.as_mut(),
                    limits.cancel_grace,
                    deadline.as_mut(),
                )
                .await?;
                continue;
            }
        };
        tally.bytes += body.len() as u64 + 4;
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
                    deliver(sinks.diagnostics.as_deref_mut(), diagnostic, log).await
                } else {
                    Ok(())
                }
            }
            Frame::Progress { payload, .. } => {
                let progress: Progress = decode(FrameKind::Progress, payload)?;
                if live {
                    deliver(sinks.progress.as_deref_mut(), progress, drop).await
                } else {
                    Ok(())
                }
            }
            Frame::Success { payload, .. } => {
                let payload = Bytes::copy_from_slice(payload);
                channel.in_flight = false;
                return Ok(Finished {
                    outcome: Outcome::Success(payload),
                    spoiled,
                    cancelled: caller_cancelled,
                    streams,
                });
            }
            Frame::Error { payload, .. } => {
                let remote: RemoteError = decode(FrameKind::Error, payload)?;
                channel.in_flight = false;
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
                channel,
                request,
                &mut cancel_sent,
                grace.as_mut(),
                limits.cancel_grace,
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
    channel: &mut Channel,
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
    channel
        .encoder
        .bare(&mut channel.out, FrameKind::Cancel, request);
    send_within(channel, deadline).await
}

/// Writes the pending frames, giving up at the request deadline: a child
/// that stops reading cannot hold a request past its timeout.
async fn send_within(channel: &mut Channel, deadline: Pin<&mut Sleep>) -> Result<(), Broken> {
    tokio::select! {
        sent = channel.send() => sent.map_err(Broken::Write),
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
