use std::task::{Context, Poll};

use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use super::{Sink, SinkError};

/// A sink that forwards into a bounded tokio channel. When the channel is full
/// the worker stops reading from the child until the receiver catches up.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use bulkhead::sink::{Channel, Sink};
/// use std::future::poll_fn;
///
/// let (tx, mut rx) = tokio::sync::mpsc::channel(1);
/// let mut sink = Channel::new(tx);
/// poll_fn(|cx| sink.poll_ready(cx)).await.unwrap();
/// sink.send(7u32).unwrap();
/// assert_eq!(rx.recv().await, Some(7));
/// # }
/// ```
#[derive(Debug)]
pub struct Channel<T: Send + 'static> {
    sender: PollSender<T>,
}

impl<T: Send + 'static> Channel<T> {
    /// Wraps the sending half of a bounded channel.
    pub fn new(sender: mpsc::Sender<T>) -> Self {
        Self {
            sender: PollSender::new(sender),
        }
    }
}

impl<T: Send + 'static> Sink<T> for Channel<T> {
    fn send(&mut self, item: T) -> Result<(), SinkError> {
        self.sender.send_item(item).map_err(|_| SinkError::Closed)
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        self.sender.poll_reserve(cx).map_err(|_| SinkError::Closed)
    }
}
