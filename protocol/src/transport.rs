//! The child's half of a transport.
//!
//! A transport is a plugin on both sides: its parent half prepares the
//! child's command and connects after the spawn (`bulkhead::Transport`), its
//! child half opens the same channel from inside the child, from what the
//! parent put in the environment. The child runtime picks the half whose
//! [`name`](ChildTransport::name) is in [`env::TRANSPORT`](crate::env::TRANSPORT)
//! among those the child binary registered.

use std::fmt;
use std::io::{Read, Write};

/// Opens the child's end of a channel to its parent.
///
/// Object safe: the child runtime holds a list of `Box<dyn ChildTransport>`.
///
/// ```
/// use std::io::{Read, Write};
/// use bulkhead_protocol::transport::{ChildChannel, ChildTransport};
///
/// /// A channel over two files the parent left open as descriptors 3 and 4.
/// #[derive(Debug)]
/// struct Inherited;
///
/// impl ChildTransport for Inherited {
///     fn name(&self) -> &'static str {
///         "inherited"
///     }
///
///     fn connect(&self) -> std::io::Result<ChildChannel> {
///         Err(std::io::Error::other("only an example"))
///     }
/// }
///
/// let transports: Vec<Box<dyn ChildTransport>> = vec![Box::new(Inherited)];
/// assert_eq!(transports[0].name(), "inherited");
/// ```
pub trait ChildTransport: fmt::Debug + Send + Sync + 'static {
    /// The transport's name, as the parent sets it in
    /// [`env::TRANSPORT`](crate::env::TRANSPORT).
    fn name(&self) -> &'static str;

    /// Opens the channel from what the parent put in the environment. Runs
    /// once, before the handshake. It may take descriptors 0 and 1 for
    /// itself; afterwards the runtime points stdout at stderr and stdin at
    /// the null device, so stray output cannot reach the channel.
    fn connect(&self) -> std::io::Result<ChildChannel>;
}

/// A child's byte channel to its parent.
pub struct ChildChannel {
    /// Bytes from the parent.
    pub reader: Box<dyn Read + Send>,
    /// Bytes to the parent.
    pub writer: Box<dyn Write + Send>,
}

impl ChildChannel {
    /// A channel from any reader and writer.
    pub fn new(reader: impl Read + Send + 'static, writer: impl Write + Send + 'static) -> Self {
        Self {
            reader: Box::new(reader),
            writer: Box::new(writer),
        }
    }
}

impl fmt::Debug for ChildChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildChannel").finish_non_exhaustive()
    }
}
