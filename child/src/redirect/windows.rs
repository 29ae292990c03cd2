use std::fs::File;
use std::io;
use std::os::windows::io::AsRawHandle;

use windows_sys::Win32::System::Console::{STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, SetStdHandle};

pub(super) fn redirect() -> io::Result<()> {
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
    Ok(())
}
