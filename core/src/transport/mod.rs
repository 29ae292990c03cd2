//! Transports turn a launched child into a byte channel.
//!
//! A [`Transport`] prepares the child's command before spawn (pipes,
//! environment, a listening socket) and returns a [`Connect`] step that, after
//! spawn, yields the [`Connection`]. Framing is the worker's job: every
//! transport carries the same frames over a different byte stream.

mod stdio;

pub use stdio::StdioTransport;

use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::process::{ChildStdin, ChildStdout, Command};

/// A way to connect a parent to a child.
///
/// Object safe: workers hold an `Arc<dyn Transport>`.
pub trait Transport: fmt::Debug + Send + Sync + 'static {
    /// A short stable name, such as `"stdio"`; the child sees it in
    /// [`env::TRANSPORT`](crate::env::TRANSPORT).
    fn name(&self) -> &'static str;

    /// Configures `command` before spawn and returns the step that connects
    /// after spawn. Must set [`env::TRANSPORT`](crate::env::TRANSPORT).
    fn prepare(&self, command: &mut Command) -> Result<Box<dyn Connect>, TransportError>;
}

/// The second half of a connection, run right after the child is spawned.
#[async_trait]
pub trait Connect: Send {
    /// Produces the channel, taking whatever pipes it needs from `pipes`.
    async fn connect(self: Box<Self>, pipes: &mut ChildPipes)
    -> Result<Connection, TransportError>;
}

/// What a transport may claim of a freshly spawned child: its standard
/// pipes, and its process id for transports that check who connects.
#[derive(Debug, Default)]
pub struct ChildPipes {
    /// The child's standard input, if piped.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's process id, if the platform gave one.
    pub pid: Option<u32>,
}

/// A duplex byte channel to one child.
pub struct Connection {
    /// Bytes from the child.
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
    /// Bytes to the child.
    pub writer: Pin<Box<dyn AsyncWrite + Send>>,
}

impl Connection {
    /// A connection from any reader and writer.
    pub fn new(
        reader: impl AsyncRead + Send + 'static,
        writer: impl AsyncWrite + Send + 'static,
    ) -> Self {
        Self {
            reader: Box::pin(reader),
            writer: Box::pin(writer),
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// A transport could not set up or establish the channel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A pipe the transport needs was not there after spawn.
    #[error("the child's {0} was not piped")]
    MissingPipe(&'static str),
    /// Setting up or connecting failed.
    #[error("{what} failed")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}
