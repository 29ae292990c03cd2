//! The request path: one request frame out, frames in until the terminal one.

use std::future::poll_fn;
use std::sync::Arc;

use bytes::Bytes;

use crate::sink::Sink;
use crate::wire::{Diagnostic, Frame, FrameError, FrameKind, Level, Progress, RemoteError};

use super::generation::Generation;
use super::rows::{RowHandler, Spoiled, Streams, guarded_ready, guarded_send};

/// Where a request's diagnostics and progress go.
pub(crate) struct Extras<'a> {
    pub(crate) diagnostics: Option<&'a mut (dyn Sink<Diagnostic> + 'a)>,
    pub(crate) progress: Option<&'a mut (dyn Sink<Progress> + 'a)>,
}

/// A request that reached its terminal frame; the channel is consistent.
pub(crate) struct Finished {
    pub(crate) outcome: Outcome,
    /// Set when a row, diagnostic or progress report could not be delivered;
    /// the request was cancelled and drained, and this error wins.
    pub(crate) spoiled: Option<Spoiled>,
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
}

/// Sends `request` (already encoded in `generation.out`) and reads frames
/// until its terminal frame. Counts received frame bytes into `bytes`.
pub(crate) async fn exchange<H: RowHandler>(
    generation: &mut Generation,
    request: u64,
    rows: &mut H,
    extras: &mut Extras<'_>,
    bytes: &mut u64,
) -> Result<Finished, Broken> {
    generation.in_flight = true;
    generation.send().await.map_err(Broken::Write)?;
    let mut streams = Streams::default();
    let mut spoiled: Option<Spoiled> = None;
    loop {
        if spoiled.is_none()
            && let Err(err) = poll_fn(|cx| rows.poll_ready(cx)).await
        {
            spoil(generation, request, &mut spoiled, Spoiled::Sink(err)).await?;
        }
        let body = match generation.reader.next().await {
            Some(Ok(body)) => body,
            Some(Err(err)) => return Err(Broken::Frame(err)),
            None => return Err(Broken::Eof),
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
        // Once spoiled, frames are still checked but no longer delivered.
        let live = spoiled.is_none();
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
                    streams,
                });
            }
            Frame::Error { payload, .. } => {
                let remote: RemoteError = decode(FrameKind::Error, payload)?;
                generation.in_flight = false;
                return Ok(Finished {
                    outcome: Outcome::Remote(remote),
                    spoiled,
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
            spoil(generation, request, &mut spoiled, err).await?;
        }
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

/// Records the first delivery failure and asks the child to stop, so that
/// the rest of the request drains quickly.
async fn spoil(
    generation: &mut Generation,
    request: u64,
    spoiled: &mut Option<Spoiled>,
    err: Spoiled,
) -> Result<(), Broken> {
    *spoiled = Some(err);
    generation
        .encoder
        .bare(&mut generation.out, FrameKind::Cancel, request);
    generation.send().await.map_err(Broken::Write)
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
