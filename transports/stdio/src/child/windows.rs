use std::fs::File;
use std::io;
use std::os::windows::io::AsHandle;

/// Duplicates the standard input and output handles.
pub(super) fn duplicate() -> io::Result<(File, File)> {
    let input = io::stdin().as_handle().try_clone_to_owned()?;
    let output = io::stdout().as_handle().try_clone_to_owned()?;
    Ok((File::from(input), File::from(output)))
}
