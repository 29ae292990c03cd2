//! `BULKHEAD_SOCKET` read back into a name to connect to.

use std::io;
use std::path::Path;

use bulkhead::env::{SOCKET_NAMESPACED, SOCKET_PATH};
use interprocess::local_socket::{GenericFilePath, GenericNamespaced, Name, ToFsName, ToNsName};

/// The name in `value`: `ns:NAME` or `path:PATH`.
pub(crate) fn parse(value: &str) -> io::Result<Name<'_>> {
    if let Some(name) = value.strip_prefix(SOCKET_NAMESPACED) {
        name.to_ns_name::<GenericNamespaced>()
    } else if let Some(path) = value.strip_prefix(SOCKET_PATH) {
        Path::new(path).to_fs_name::<GenericFilePath>()
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("expected {SOCKET_NAMESPACED}NAME or {SOCKET_PATH}PATH"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespaced_name_is_understood_and_an_unprefixed_one_is_not() {
        assert!(parse("ns:bulkhead-00ff").is_ok());
        assert!(parse("bulkhead-00ff").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_socket_file_path_is_understood() {
        assert!(parse("path:/tmp/bulkhead-00ff/sock").is_ok());
    }
}
