//! A child played by a test: it reads the parent's frames from its end of
//! an in-memory duplex and answers as its script says.

use std::collections::BTreeMap;

use serde_json::Value;
use tokio::io::{AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};

use crate::wire::{
    Diagnostic, Frame, FrameEncoder, FrameKind, FrameReader, Level, Progress, RemoteError,
    RemoteErrorKind, Success,
};

/// The request id the tests send.
pub(super) const REQUEST: u64 = 7;

/// One thing the scripted child does.
#[derive(Debug, Clone)]
pub(super) enum Step {
    /// Waits for the parent's next frame and records its kind.
    Await,
    /// Writes row `seq` of `stream`.
    Row(&'static str, u64, Value),
    /// Writes a diagnostic.
    Diagnostic(&'static str),
    /// Writes a progress report.
    Progress(u64),
    /// Writes a success frame claiming `rows` per stream.
    Success(Vec<(&'static str, u64)>, Value),
    /// Writes an error frame of `kind`.
    Error(RemoteErrorKind),
    /// Writes a frame of `kind` with a JSON payload for request `request`.
    Frame(FrameKind, u64, Value),
    /// Writes these bytes as they are.
    Bytes(Vec<u8>),
    /// Closes the child's end.
    Close,
}

/// What the child saw of the parent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Seen {
    /// The kinds of the frames the parent sent, in order.
    pub(super) kinds: Vec<FrameKind>,
}

/// Plays `steps` on the child's end, then keeps reading (and recording)
/// until the parent closes its end.
pub(super) async fn play(end: DuplexStream, steps: Vec<Step>) -> Seen {
    let (reader, mut writer): (ReadHalf<DuplexStream>, WriteHalf<DuplexStream>) =
        tokio::io::split(end);
    let mut frames = FrameReader::new(reader, u32::MAX);
    let encoder = FrameEncoder::new(u32::MAX);
    let mut seen = Seen::default();
    let mut closed = false;
    for step in steps {
        let mut out = Vec::new();
        match step {
            Step::Await => {
                if let Some(Ok(body)) = frames.next().await
                    && let Ok(frame) = Frame::decode(body)
                {
                    seen.kinds.push(frame.kind());
                }
                continue;
            }
            Step::Row(stream, seq, value) => {
                encoder.row(&mut out, REQUEST, stream, seq, &value).ok();
            }
            Step::Diagnostic(message) => {
                let diagnostic = Diagnostic::new(Level::Info, message);
                encoder
                    .json(&mut out, FrameKind::Diagnostic, REQUEST, &diagnostic)
                    .ok();
            }
            Step::Progress(done) => {
                let progress = Progress::new(done, None);
                encoder
                    .json(&mut out, FrameKind::Progress, REQUEST, &progress)
                    .ok();
            }
            Step::Success(rows, value) => {
                let success = Success {
                    rows: rows
                        .into_iter()
                        .map(|(stream, count)| (stream.to_owned(), count))
                        .collect::<BTreeMap<_, _>>(),
                    value,
                };
                encoder
                    .json(&mut out, FrameKind::Success, REQUEST, &success)
                    .ok();
            }
            Step::Error(kind) => {
                let error = RemoteError::new(kind, "scripted");
                encoder
                    .json(&mut out, FrameKind::Error, REQUEST, &error)
                    .ok();
            }
            Step::Frame(kind, request, value) => {
                encoder.json(&mut out, kind, request, &value).ok();
            }
            Step::Bytes(bytes) => out = bytes,
            Step::Close => {
                closed = true;
                break;
            }
        }
        if writer.write_all(&out).await.is_err() {
            return seen;
        }
    }
    if closed {
        drop(writer);
        drop(frames);
        return seen;
    }
    // Keep the end open, and see what else the parent sends.
    while let Some(Ok(body)) = frames.next().await {
        if let Ok(frame) = Frame::decode(body) {
            seen.kinds.push(frame.kind());
        }
    }
    seen
}
