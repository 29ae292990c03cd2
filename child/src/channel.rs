//! The child's end of the channel: the registered transport the parent
//! named, and the redirection of stray output once it is open.

use bulkhead_protocol::env;
use bulkhead_protocol::transport::{ChildChannel, ChildTransport};

use crate::redirect;

/// The transports registered by default: those whose crate features are on.
pub(crate) fn defaults() -> Vec<Box<dyn ChildTransport>> {
    [stdio(), local_socket()].into_iter().flatten().collect()
}

#[cfg(feature = "stdio")]
fn stdio() -> Option<Box<dyn ChildTransport>> {
    Some(Box::new(bulkhead_stdio::StdioChild))
}

#[cfg(not(feature = "stdio"))]
fn stdio() -> Option<Box<dyn ChildTransport>> {
    None
}

#[cfg(feature = "local-socket")]
fn local_socket() -> Option<Box<dyn ChildTransport>> {
    Some(Box::new(bulkhead_local_socket::LocalSocketChild))
}

#[cfg(not(feature = "local-socket"))]
fn local_socket() -> Option<Box<dyn ChildTransport>> {
    None
}

/// The transport a child uses when the parent names none.
const DEFAULT: &str = "stdio";

/// Opens the channel of the transport named by `BULKHEAD_TRANSPORT` (stdio
/// when unset) among `transports`, then keeps stray output off it.
pub(crate) fn open(transports: &[Box<dyn ChildTransport>]) -> Result<ChildChannel, String> {
    let name = std::env::var(env::TRANSPORT).unwrap_or_else(|_| DEFAULT.to_owned());
    let Some(transport) = transports.iter().find(|transport| transport.name() == name) else {
        let served: Vec<&str> = transports
            .iter()
            .map(|transport| transport.name())
            .collect();
        return Err(format!(
            "the parent asked for transport \"{name}\"; this child serves {}",
            if served.is_empty() {
                "none".to_owned()
            } else {
                served.join(", ")
            }
        ));
    };
    let channel = transport
        .connect()
        .map_err(|err| format!("cannot open the {name} channel: {err}"))?;
    redirect::stray_output().map_err(|err| format!("cannot redirect stdio: {err}"))?;
    Ok(channel)
}
