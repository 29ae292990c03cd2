use super::{Sink, SinkError};

/// A sink that calls a closure for each item. Made by [`from_fn`].
#[derive(Debug, Clone)]
pub struct FnSink<F>(F);

/// A sink that calls `f` for each item; `f` may refuse by returning an error.
///
/// ```
/// use bulkhead::sink::{Sink, from_fn};
///
/// let mut total = 0;
/// let mut sink = from_fn(|n: u32| {
///     total += n;
///     Ok(())
/// });
/// sink.send(2).unwrap();
/// sink.send(3).unwrap();
/// drop(sink);
/// assert_eq!(total, 5);
/// ```
pub fn from_fn<T, F>(f: F) -> FnSink<F>
where
    F: FnMut(T) -> Result<(), SinkError> + Send,
{
    FnSink(f)
}

impl<T, F> Sink<T> for FnSink<F>
where
    F: FnMut(T) -> Result<(), SinkError> + Send,
{
    fn send(&mut self, item: T) -> Result<(), SinkError> {
        (self.0)(item)
    }
}

/// A sink that counts items and drops them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counting {
    /// Items taken so far.
    pub count: u64,
}

impl<T> Sink<T> for Counting {
    fn send(&mut self, _item: T) -> Result<(), SinkError> {
        self.count += 1;
        Ok(())
    }
}

/// A sink that drops every item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Discard;

impl<T> Sink<T> for Discard {
    fn send(&mut self, _item: T) -> Result<(), SinkError> {
        Ok(())
    }
}
