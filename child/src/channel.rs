//! The child's end of the channel, chosen from the environment.

use std::io::{Read, Write};

use crate::{local_socket, stdio};

/// The byte channel to the parent.
pub(crate) struct Channel {
    pub(crate) reader: Box<dyn Read + Send>,
    pub(crate) writer: Box<dyn Write + Send>,
}

/// Opens the channel named by `BULKHEAD_TRANSPORT` (stdio when unset):
/// `"stdio"` or `"local-socket"`.
pub(crate) fn from_env() -> Result<Channel, String> {
    let transport = std::env::var(bulkhead::env::TRANSPORT).unwrap_or_else(|_| "stdio".to_owned());
    match transport.as_str() {
        "stdio" => stdio::take().map_err(|err| format!("cannot take over stdio: {err}")),
        "local-socket" => local_socket::connect(),
        other => Err(format!("unsupported transport {other:?}")),
    }
}
