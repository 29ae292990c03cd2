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
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::OptionFuture;
use tokio::time::{Interval, Sleep};
use tokio_util::sync::CancellationToken;

use crate::rss::{Rss, RssSampler};
use crate::sink::{Sink, SinkError};
use crate::wire::{Diagnostic, Frame, FrameError, FrameKind, Level, Progress, RawRow, RemoteError};

use super::channel::{Channel, ChildReader};
use super::rows::{RowHandler, Spoiled, Streams, Unadmitted, guarded_ready, guarded_send};

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
    /// From sending the request to its terminal frame, once it came.
    pub(crate) elapsed: Duration,
    /// When the terminal frame came.
    pub(crate) ended: Option<std::time::Instant>,
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

/// What the loop does next, once a frame or an event was taken in.
enum Step {
    /// Nothing more: read on.
    Next,
    /// Ask the child to stop: the caller cancelled, or something could not
    /// be delivered (the run is spoiled and delivers nothing more).
    Stop,
    /// A diagnostic or progress report to deliver.
    Notice(Notice),
    /// The terminal frame.
    Done(Outcome),
}

/// A diagnostic or a progress report, decoded.
enum Notice {
    Diagnostic(Diagnostic),
    Progress(Progress),
}

/// The state of one request between frames.
struct Run {
    request: u64,
    streams: Streams,
    spoiled: Option<Spoiled>,
    cancelled: bool,
}

/// Sends request `request` (already encoded in `channel.out`) and reads
/// frames until its terminal frame, the timeout, or the end of the
/// cancellation grace period, delivering rows to `rows` and the rest to
/// `sinks`, sampling `rss` under a hard limit, and counting into `tally`.
///
/// The loop waits in `select!` only when nothing is buffered: every frame
/// that one read brought is handled before it looks at its timers again, as
/// long as the row sink takes rows at once. A read brings at most the
/// reader's buffer, so the deadline and a cancellation are still seen
/// between reads.
pub(crate) async fn exchange<H: RowHandler>(
    channel: &mut Channel,
    rss: &mut dyn SampleRss,
    request: u64,
    rows: &mut H,
    sinks: &mut Sinks<'_>,
    limits: &Limits,
    tally: &mut Tally,
) -> Result<Finished, Broken> {
    // One clock read at each end of the request.
    let sent = tokio::time::Instant::now();
    let deadline = tokio::time::sleep_until(sent + limits.timeout);
    // A cancellation, its grace and RSS sampling cost nothing to a request
    // that has none of them.
    let cancelled = OptionFuture::from(limits.cancel.as_ref().map(CancellationToken::cancelled));
    tokio::pin!(deadline, cancelled);
    let mut grace: Option<Pin<Box<Sleep>>> = None;
    let mut sampling = limits.rss_hard_limit.map(|_| {
        let mut sampling = tokio::time::interval(limits.rss_sample_interval);
        sampling.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        sampling
    });
    channel.in_flight = true;
    send_within(channel, deadline.as_mut()).await?;
    let mut run = Run {
        request,
        streams: Streams::default(),
        spoiled: None,
        cancelled: false,
    };
    loop {
        let live = run.spoiled.is_none();
        let event = tokio::select! {
            biased;
            () = &mut deadline => Event::Deadline,
            Some(()) = &mut cancelled, if limits.cancel.is_some() && !run.cancelled => Event::Cancel,
            () = expire(&mut grace), if grace.is_some() => Event::GraceExpired,
            () = tick(&mut sampling), if sampling.is_some() => Event::Sample,
            event = next_frame(&mut channel.reader, rows, live, &mut tally.backpressure_waits) => event,
        };
        let mut step = match event {
            Event::Frame(Some(Ok(body))) => run.frame(body, rows, tally)?,
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
            Event::Cancel => {
                run.cancelled = true;
                Step::Stop
            }
            Event::SinkFailed(err) => run.spoil(Spoiled::Sink(err)),
        };
        loop {
            let stop = match step {
                Step::Next => false,
                Step::Stop => true,
                Step::Notice(notice) => match notice.deliver(sinks).await {
                    Ok(()) => false,
                    Err(err) => matches!(run.spoil(err), Step::Stop),
                },
                Step::Done(outcome) => {
                    channel.in_flight = false;
                    let ended = tokio::time::Instant::now();
                    tally.elapsed = ended - sent;
                    tally.ended = Some(ended.into_std());
                    return Ok(run.finish(outcome));
                }
            };
            if stop {
                let period = limits.cancel_grace;
                send_cancel(channel, request, &mut grace, period, deadline.as_mut()).await?;
            }
            // Then the next frame if the last read brought it, while the
            // sink takes rows without waiting.
            let drained = poll_fn(|cx| Poll::Ready(run.drain(cx, channel, rows, tally))).await;
            step = match drained? {
                Some(step) => step,
                None => break,
            };
        }
    }
}

impl Run {
    /// Takes in one frame body.
    #[inline]
    fn frame<H: RowHandler>(
        &mut self,
        body: &[u8],
        rows: &mut H,
        tally: &mut Tally,
    ) -> Result<Step, Broken> {
        tally.bytes += body.len() as u64 + 4;
        match RawRow::decode(body).map_err(Broken::Frame)? {
            Some(row) => self.row(row, rows),
            None => self.other(body, rows),
        }
    }

    /// Takes in a frame that [`RawRow`] did not read (rows are read there,
    /// without a check of their stream name each time).
    fn other<H: RowHandler>(&mut self, body: &[u8], rows: &mut H) -> Result<Step, Broken> {
        let frame = Frame::decode(body).map_err(Broken::Frame)?;
        self.belongs(frame.kind(), frame.request())?;
        Ok(match frame {
            Frame::Row {
                stream,
                seq,
                payload,
                request,
            } => {
                let stream = stream.as_bytes();
                let row = RawRow {
                    request,
                    stream,
                    seq,
                    payload,
                };
                return self.row(row, rows);
            }
            Frame::Diagnostic { payload, .. } => {
                self.notice(Notice::Diagnostic(decode(FrameKind::Diagnostic, payload)?))
            }
            Frame::Progress { payload, .. } => {
                self.notice(Notice::Progress(decode(FrameKind::Progress, payload)?))
            }
            Frame::Success { payload, .. } => {
                Step::Done(Outcome::Success(Bytes::copy_from_slice(payload)))
            }
            Frame::Error { payload, .. } => {
                Step::Done(Outcome::Remote(decode(FrameKind::Error, payload)?))
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
        })
    }

    /// Delivers `notice` unless spoiled: once spoiled, frames are still
    /// checked but no longer delivered.
    fn notice(&self, notice: Notice) -> Step {
        if self.spoiled.is_none() {
            Step::Notice(notice)
        } else {
            Step::Next
        }
    }

    /// Records why the run is spoiled; the child is asked to stop.
    fn spoil(&mut self, why: Spoiled) -> Step {
        self.spoiled = Some(why);
        Step::Stop
    }

    /// A frame of another request breaks the channel.
    #[inline]
    fn belongs(&self, kind: FrameKind, request: u64) -> Result<(), Broken> {
        if request == self.request {
            return Ok(());
        }
        Err(Broken::Protocol {
            kind,
            detail: format!(
                "frame for request {request} while request {} runs",
                self.request
            ),
        })
    }

    /// Checks `row` and delivers it unless spoiled.
    #[inline]
    fn row<H: RowHandler>(&mut self, row: RawRow<'_>, rows: &mut H) -> Result<Step, Broken> {
        Ok(if self.deliver_row(row, rows)? {
            Step::Next
        } else {
            Step::Stop
        })
    }

    /// Checks `row` and delivers it unless spoiled; `false` if delivering
    /// it spoiled the run (the child is to be asked to stop). Rows take
    /// this path, not [`Step`], so that the row path moves no step around.
    #[inline(always)]
    fn deliver_row<H: RowHandler>(
        &mut self,
        row: RawRow<'_>,
        rows: &mut H,
    ) -> Result<bool, Broken> {
        self.belongs(FrameKind::Row, row.request)?;
        let RawRow {
            stream,
            seq,
            payload,
            ..
        } = row;
        let name = self
            .streams
            .admit(stream, seq)
            .map_err(|unadmitted| match unadmitted {
                Unadmitted::BadName => Broken::Frame(FrameError::BadName {
                    kind: FrameKind::Row,
                }),
                Unadmitted::Expected(expected) => Broken::Protocol {
                    kind: FrameKind::Row,
                    detail: format!(
                        "row {seq} of stream {:?} where {expected} was due",
                        String::from_utf8_lossy(stream)
                    ),
                },
            })?;
        if self.spoiled.is_some() {
            return Ok(true);
        }
        match rows.row(name, seq, payload) {
            Ok(()) => Ok(true),
            Err(err) => {
                self.spoiled = Some(err);
                Ok(false)
            }
        }
    }

    /// Takes in the frames that are buffered already, as long as they need
    /// nothing more and, while rows are delivered, the sink takes each row
    /// at once; returns the first step that needs more, or `None` to wait
    /// in `select!`. One call drains a whole read without a yield.
    fn drain<H: RowHandler>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        channel: &mut Channel,
        rows: &mut H,
        tally: &mut Tally,
    ) -> Result<Option<Step>, Broken> {
        loop {
            if self.spoiled.is_none() {
                match rows.poll_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(err)) => return Ok(Some(self.spoil(Spoiled::Sink(err)))),
                    Poll::Pending => return Ok(None),
                }
            }
            let Some(body) = channel.reader.next_buffered() else {
                return Ok(None);
            };
            let body = body.map_err(Broken::Frame)?;
            // Rows first, without a step; any other frame through `frame`.
            if let Some(row) = RawRow::decode(body).map_err(Broken::Frame)? {
                tally.bytes += body.len() as u64 + 4;
                if !self.deliver_row(row, rows)? {
                    return Ok(Some(Step::Stop));
                }
                continue;
            }
            match self.frame(body, rows, tally)? {
                Step::Next => {}
                step => return Ok(Some(step)),
            }
        }
    }

    fn finish(self, outcome: Outcome) -> Finished {
        Finished {
            outcome,
            spoiled: self.spoiled,
            cancelled: self.cancelled,
            streams: self.streams,
        }
    }
}

impl Notice {
    /// Hands the notice to its sink, or logs or drops it without one.
    async fn deliver(self, sinks: &mut Sinks<'_>) -> Result<(), Spoiled> {
        match self {
            Notice::Diagnostic(diagnostic) => {
                deliver(sinks.diagnostics.as_deref_mut(), diagnostic, log).await
            }
            Notice::Progress(progress) => {
                deliver(sinks.progress.as_deref_mut(), progress, drop).await
            }
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

/// Ends when the grace period, if one started, is over.
async fn expire(grace: &mut Option<Pin<Box<Sleep>>>) {
    match grace {
        Some(grace) => grace.await,
        None => std::future::pending().await,
    }
}

/// Ends at the next RSS sampling tick, if the request samples.
async fn tick(sampling: &mut Option<Interval>) {
    match sampling {
        Some(sampling) => {
            sampling.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Asks the child to stop the request, once, and starts the grace period.
async fn send_cancel(
    channel: &mut Channel,
    request: u64,
    grace: &mut Option<Pin<Box<Sleep>>>,
    period: Duration,
    deadline: Pin<&mut Sleep>,
) -> Result<(), Broken> {
    if grace.is_some() {
        return Ok(());
    }
    *grace = Some(Box::pin(tokio::time::sleep(period)));
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
