//! Windows: named pipes that refuse remote clients and admit only the user
//! running the parent.
//!
//! `interprocess` creates every pipe with `PIPE_REJECT_REMOTE_CLIENTS`
//! (its `accept_remote` option defaults to off) and the first instance with
//! `FILE_FLAG_FIRST_PIPE_INSTANCE`, so a pipe squatting on the name makes
//! the bind fail instead of being joined. Without a security descriptor the
//! pipe would get the default one, which also grants read access to
//! Everyone and the anonymous account; [`lock_down`] replaces it with a
//! protected DACL that grants the current user, and nobody else, access.

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::Path;
use std::ptr;

use interprocess::local_socket::ListenerOptions;
use interprocess::local_socket::tokio::Stream;
use interprocess::os::windows::local_socket::ListenerOptionsExt;
use interprocess::os::windows::security_descriptor::SecurityDescriptor;
use widestring::{U16CStr, U16CString};

use crate::token::Rejection;
use windows_sys::Win32::Foundation::{HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows_sys::Win32::Security::{GetTokenInformation, TOKEN_QUERY, TOKEN_USER, TokenUser};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// Named pipes live in their own namespace; there is no file to protect.
pub(crate) const NAMESPACED_BY_DEFAULT: bool = true;

/// Socket files are not used on Windows, where local sockets are named
/// pipes.
pub(crate) fn create_private_dir(_path: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "socket files in a directory are not supported on Windows (local sockets are named pipes)",
    ))
}

/// A named pipe has no half-close: the sending direction stays open until
/// both halves of the connection are dropped. The child still ends on the
/// protocol's shutdown frame, or on end of file once the parent drops the
/// connection.
pub(crate) fn shutdown_write(_stream: &Stream) -> io::Result<()> {
    Ok(())
}

/// Admits only the current user to the pipe.
pub(crate) fn lock_down(options: ListenerOptions<'_>) -> io::Result<ListenerOptions<'_>> {
    // D: the DACL; P: protected, nothing inherited; one ACE allowing
    // GENERIC_ALL to the user's SID. Nothing else is allowed.
    let sddl = format!("D:P(A;;GA;;;{})", current_user_sid()?);
    let sddl = U16CString::from_str(sddl)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
    let descriptor = SecurityDescriptor::deserialize(&sddl)?;
    Ok(options.security_descriptor(descriptor))
}

/// The string form (`S-1-5-21-…`) of the SID of the user this process runs
/// as.
fn current_user_sid() -> io::Result<String> {
    let mut raw: HANDLE = ptr::null_mut();
    // SAFETY: the process pseudo-handle is always valid; on success `raw`
    // is a new token handle that we own.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut raw) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` was just opened for us and nothing else owns it.
    let token = unsafe { OwnedHandle::from_raw_handle(raw) };
    let mut len = 0u32;
    // SAFETY: a null buffer of length 0 only asks for the size. The call
    // fails with ERROR_INSUFFICIENT_BUFFER; `len` is what matters.
    let sized = unsafe {
        GetTokenInformation(
            token.as_raw_handle(),
            TokenUser,
            ptr::null_mut(),
            0,
            &mut len,
        )
    };
    if sized != 0 || len == 0 {
        return Err(io::Error::last_os_error());
    }
    // u64 elements keep the buffer aligned for TOKEN_USER.
    let mut buffer = vec![0u64; usize::try_from(len).unwrap_or(usize::MAX).div_ceil(8)];
    // SAFETY: the buffer holds at least `len` writable bytes.
    let filled = unsafe {
        GetTokenInformation(
            token.as_raw_handle(),
            TokenUser,
            buffer.as_mut_ptr().cast(),
            len,
            &mut len,
        )
    };
    if filled == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success the buffer starts with a TOKEN_USER whose SID
    // points into the same buffer, which outlives this use.
    let user = unsafe { &*buffer.as_ptr().cast::<TOKEN_USER>() };
    let mut string: *mut u16 = ptr::null_mut();
    // SAFETY: the SID is valid (see above); on success `string` is a
    // LocalAlloc'ed, NUL-terminated string that we free below.
    if unsafe { ConvertSidToStringSidW(user.User.Sid, &mut string) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `string` is NUL-terminated and valid until freed.
    let sid = unsafe { U16CStr::from_ptr_str(string) }.to_string_lossy();
    // SAFETY: `string` came from LocalAlloc and is not used after this.
    unsafe { LocalFree(string.cast()) };
    Ok(sid)
}

/// Any peer may present a token: the pipe's DACL already admits only this
/// process's user, and remote clients are rejected. The peer's process id
/// is not compared with the child's, so that a launcher's own child (a
/// script interpreter, say) can connect.
pub(crate) fn check_peer(_stream: &Stream, _child: Option<u32>) -> Result<(), Rejection> {
    Ok(())
}
