//! The stdio transport's parent half: pipes for the child's stdin and
//! stdout. It lives here, not only in `bulkhead-stdio` (which re-exports
//! it), so that it can be every builder's default.

use std::process::Stdio;

use async_trait::async_trait;
use tokio::process::Command;

use super::{ChildPipes, Connect, Connection, Transport, TransportError};
use crate::env::STDIO_TRANSPORT as NAME;

/// Frames over the child's standard input and output: the default
/// transport on every platform (nothing to name, nothing to clean up, and
/// the fastest in `docs/performance.md`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StdioTransport;

impl Transport for StdioTransport {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, command: &mut Command) -> Result<Box<dyn Connect>, TransportError> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .env(bulkhead_protocol::env::TRANSPORT, NAME);
        Ok(Box::new(Pipes))
    }
}

/// Claims the pipes once the child is running.
struct Pipes;

#[async_trait]
impl Connect for Pipes {
    async fn connect(
        self: Box<Self>,
        pipes: &mut ChildPipes,
    ) -> Result<Connection, TransportError> {
        let stdin = pipes
            .stdin
            .take()
            .ok_or(TransportError::MissingPipe("stdin"))?;
        let stdout = pipes
            .stdout
            .take()
            .ok_or(TransportError::MissingPipe("stdout"))?;
        Ok(Connection::new(stdout, stdin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_is_object_safe() {
        let transport: Box<dyn Transport> = Box::new(StdioTransport);
        assert_eq!(transport.name(), NAME);
    }
}
