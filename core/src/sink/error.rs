/// A sink refused an item. The request fails with this error; the worker keeps
/// the channel consistent by cancelling and draining the request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The receiving end is gone.
    #[error("sink is closed")]
    Closed,
    /// The sink panicked while taking an item.
    #[error("sink panicked: {0}")]
    Panicked(String),
    /// The sink's own error.
    #[error("the sink failed: {0}")]
    Custom(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl SinkError {
    /// Wraps any error as [`SinkError::Custom`].
    pub fn custom(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SinkError::Custom(err.into())
    }
}
