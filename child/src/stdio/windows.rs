use std::fs::File;
use std::io;
use std::os::windows::io::{AsHandle, AsRawHandle};

use windows_sys::Win32::System::Console::{STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, SetStdHandle};

use crate::channel::Channel;

/// Moves the protocol off the standard handles; see the module docs.
pub(crate) fn take() -> io::Result<Channel> {
    let input = io::stdin().as_handle().try_clone_to_owned()?;
    let output = io::stdout().as_handle().try_clone_to_owned()?;
    let null = File::open("NUL")?;
    // SAFETY: both handles are valid for the life of the process: stderr is
    // never closed, and `null` is leaked below on purpose.
    let redirected = unsafe {
        SetStdHandle(STD_OUTPUT_HANDLE, io::stderr().as_raw_handle()) != 0
            && SetStdHandle(STD_INPUT_HANDLE, null.as_raw_handle()) != 0
    };
    if !redirected {
        return Err(io::Error::last_os_error());
    }
    std::mem::forget(null);
    Ok(Channel {
        reader: Box::new(File::from(input)),
        writer: Box::new(File::from(output)),
    })
}
