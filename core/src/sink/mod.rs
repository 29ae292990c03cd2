//! Where rows, diagnostics and progress go.
//!
//! A [`Sink`] receives items one at a time. Delivery is bounded: the worker
//! asks [`Sink::poll_ready`] before each item and reads no further frames from
//! the child until the sink is ready, so a slow sink slows the child down
//! through the channel instead of growing memory. No item is ever dropped.
//!
//! Implementations here: `Vec<T>`, [`from_fn`], [`Channel`], [`Counting`],
//! [`Discard`], and forwarding through `&mut S` and `Box<S>`.

mod channel;
mod error;
mod simple;

pub use channel::Channel;
pub use error::SinkError;
pub use simple::{Counting, Discard, FnSink, from_fn};

use std::task::{Context, Poll};

/// A destination for items of type `T`.
///
/// Object safe: workers may hold a `Box<dyn Sink<T>>`.
pub trait Sink<T>: Send {
    /// Takes one item. Called only after [`Sink::poll_ready`] returned
    /// `Ready(Ok(()))`.
    fn send(&mut self, item: T) -> Result<(), SinkError>;

    /// Whether the sink can take the next item now. The default is always
    /// ready; sinks with bounded capacity override it to apply backpressure.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        Poll::Ready(Ok(()))
    }
}

impl<T: Send> Sink<T> for Vec<T> {
    fn send(&mut self, item: T) -> Result<(), SinkError> {
        self.push(item);
        Ok(())
    }
}

impl<T, S: Sink<T> + ?Sized> Sink<T> for &mut S {
    fn send(&mut self, item: T) -> Result<(), SinkError> {
        (**self).send(item)
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        (**self).poll_ready(cx)
    }
}

impl<T, S: Sink<T> + ?Sized> Sink<T> for Box<S> {
    fn send(&mut self, item: T) -> Result<(), SinkError> {
        (**self).send(item)
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        (**self).poll_ready(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_are_object_safe() {
        let mut boxed: Box<dyn Sink<u32>> = Box::new(Vec::new());
        boxed.send(1).unwrap();
        let mut counting: Box<dyn Sink<u32>> = Box::new(Counting::default());
        counting.send(2).unwrap();
    }
}
