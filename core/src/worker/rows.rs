//! Row handling on the request path: sequence checks and typed delivery.

use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;

use crate::row::Row;
use crate::sink::{Sink, SinkError};

/// Per-stream sequence tracking for one request.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    /// Stream name and the next expected sequence number (= rows received).
    list: Vec<(Arc<str>, u64)>,
    /// Where the stream of the last row is in `list`: rows mostly follow
    /// each other on one stream, so it is compared first.
    last: usize,
}

/// Whether two stream names are equal; names are short, and a byte loop
/// is cheaper for them than a call to `memcmp`.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Why [`Streams::admit`] refused a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unadmitted {
    /// A new stream name that is not UTF-8.
    BadName,
    /// Out of sequence: this number was due.
    Expected(u64),
}

impl Streams {
    /// Accepts row `seq` of `stream` if it is the next one. A name is
    /// checked to be UTF-8 only the first time it comes.
    #[inline]
    pub(crate) fn admit(&mut self, stream: &[u8], seq: u64) -> Result<&Arc<str>, Unadmitted> {
        let index = match self.list.get(self.last) {
            Some((name, _)) if same(name.as_bytes(), stream) => self.last,
            _ => self.find_or_add(stream)?,
        };
        self.last = index;
        let (name, next) = &mut self.list[index];
        if *next != seq {
            return Err(Unadmitted::Expected(*next));
        }
        *next += 1;
        Ok(name)
    }

    fn find_or_add(&mut self, stream: &[u8]) -> Result<usize, Unadmitted> {
        if let Some(index) = self
            .list
            .iter()
            .position(|(name, _)| name.as_bytes() == stream)
        {
            return Ok(index);
        }
        let name = std::str::from_utf8(stream).map_err(|_| Unadmitted::BadName)?;
        self.list.push((Arc::from(name), 0));
        Ok(self.list.len() - 1)
    }

    /// Rows received on `stream`.
    pub(crate) fn count(&self, stream: &str) -> u64 {
        self.list
            .iter()
            .find(|(name, _)| &**name == stream)
            .map_or(0, |(_, count)| *count)
    }

    /// Stream names and their row counts.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.list.iter().map(|(name, count)| (&**name, *count))
    }
}

/// Why a row could not be delivered. The request is cancelled and drained;
/// the channel stays consistent.
#[derive(Debug)]
pub(crate) enum Spoiled {
    /// The row did not decode into the caller's type.
    Decode {
        stream: Arc<str>,
        seq: u64,
        source: serde_json::Error,
    },
    /// The sink refused a row, diagnostic or progress report.
    Sink(SinkError),
    /// A row arrived for a command that emits none.
    UnexpectedRow { stream: Arc<str> },
}

/// What the request path does with each row.
pub(crate) trait RowHandler: Send {
    /// Whether the next row can be taken.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SinkError>>;
    /// Decodes and delivers one row.
    fn row(&mut self, stream: &Arc<str>, seq: u64, payload: &[u8]) -> Result<(), Spoiled>;
    /// Rows delivered so far.
    fn delivered(&self) -> u64;
}

/// For unary commands: any row is a mistake.
#[derive(Debug, Default)]
pub(crate) struct NoRows;

impl RowHandler for NoRows {
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        Poll::Ready(Ok(()))
    }

    fn row(&mut self, stream: &Arc<str>, _seq: u64, _payload: &[u8]) -> Result<(), Spoiled> {
        Err(Spoiled::UnexpectedRow {
            stream: stream.clone(),
        })
    }

    fn delivered(&self) -> u64 {
        0
    }
}

/// Decodes rows straight from the frame bytes into `R` and hands them to `S`.
pub(crate) struct TypedRows<R, S> {
    sink: S,
    delivered: u64,
    _row: PhantomData<fn() -> R>,
}

impl<R, S> TypedRows<R, S> {
    pub(crate) fn new(sink: S) -> Self {
        Self {
            sink,
            delivered: 0,
            _row: PhantomData,
        }
    }

    /// The sink back, with what it took.
    #[cfg(test)]
    pub(crate) fn into_sink(self) -> S {
        self.sink
    }
}

impl<R, S> RowHandler for TypedRows<R, S>
where
    R: DeserializeOwned + Send,
    S: Sink<Row<R>>,
{
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        guarded_ready(&mut self.sink, cx)
    }

    #[inline(always)]
    fn row(&mut self, stream: &Arc<str>, seq: u64, payload: &[u8]) -> Result<(), Spoiled> {
        let value = serde_json::from_slice::<R>(payload).map_err(|source| Spoiled::Decode {
            stream: stream.clone(),
            seq,
            source,
        })?;
        let row = Row {
            stream: stream.clone(),
            seq,
            value,
        };
        guarded_send(&mut self.sink, row).map_err(Spoiled::Sink)?;
        self.delivered += 1;
        Ok(())
    }

    fn delivered(&self) -> u64 {
        self.delivered
    }
}

/// [`Sink::send`], with a panic turned into [`SinkError::Panicked`].
#[inline(always)]
pub(crate) fn guarded_send<T, S: Sink<T> + ?Sized>(sink: &mut S, item: T) -> Result<(), SinkError> {
    catch_unwind(AssertUnwindSafe(|| sink.send(item))).unwrap_or_else(|panic| {
        Err(SinkError::Panicked(bulkhead_protocol::panic::message(
            &*panic,
        )))
    })
}

/// [`Sink::poll_ready`], with a panic turned into [`SinkError::Panicked`].
#[inline(always)]
pub(crate) fn guarded_ready<T, S: Sink<T> + ?Sized>(
    sink: &mut S,
    cx: &mut Context<'_>,
) -> Poll<Result<(), SinkError>> {
    catch_unwind(AssertUnwindSafe(|| sink.poll_ready(cx))).unwrap_or_else(|panic| {
        Poll::Ready(Err(SinkError::Panicked(bulkhead_protocol::panic::message(
            &*panic,
        ))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_demand_consecutive_sequence_numbers() {
        let mut streams = Streams::default();
        assert!(streams.admit(b"a", 0).is_ok());
        assert!(streams.admit(b"b", 0).is_ok());
        assert!(streams.admit(b"a", 1).is_ok());
        assert!(streams.admit(b"a", 2).is_ok());
        assert_eq!(streams.admit(b"a", 4).unwrap_err(), Unadmitted::Expected(3));
        assert_eq!(streams.admit(b"c", 1).unwrap_err(), Unadmitted::Expected(0));
        assert_eq!(streams.admit(b"b", 1).map(|name| &**name), Ok("b"));
        assert_eq!(streams.count("a"), 3);
        assert_eq!(streams.count("b"), 2);
    }

    #[test]
    fn a_new_stream_name_must_be_utf8() {
        let mut streams = Streams::default();
        assert_eq!(
            streams.admit(&[0xff, 0xfe], 0).unwrap_err(),
            Unadmitted::BadName
        );
        assert_eq!(streams.iter().count(), 0);
    }

    #[test]
    fn a_panicking_sink_becomes_an_error() {
        let mut sink = crate::sink::from_fn(|_: u32| -> Result<(), SinkError> { panic!("boom") });
        let err = guarded_send(&mut sink, 1).unwrap_err();
        assert!(matches!(err, SinkError::Panicked(message) if message == "boom"));
    }
}
