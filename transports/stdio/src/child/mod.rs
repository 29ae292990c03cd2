//! The child's half: the channel is the process's original stdin and
//! stdout, duplicated to descriptors (handles, on Windows) of the
//! runtime's own, so that the runtime can then point the standard ones
//! elsewhere.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

use bulkhead_protocol::transport::{ChildChannel, ChildTransport};

use crate::NAME;

/// The child's half of the stdio transport.
///
/// ```
/// use bulkhead_protocol::transport::ChildTransport;
///
/// assert_eq!(bulkhead_stdio::StdioChild.name(), "stdio");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StdioChild;

impl ChildTransport for StdioChild {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Duplicates stdin and stdout for the channel.
    fn connect(&self) -> std::io::Result<ChildChannel> {
        let (input, output) = platform::duplicate()?;
        Ok(ChildChannel::new(input, output))
    }
}
