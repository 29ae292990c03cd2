use std::fs::File;
use std::io;
use std::os::fd::AsFd;

use crate::channel::Channel;

/// Moves the protocol off descriptors 0 and 1; see the module docs.
pub(crate) fn take() -> io::Result<Channel> {
    let input = io::stdin().as_fd().try_clone_to_owned()?;
    let output = io::stdout().as_fd().try_clone_to_owned()?;
    nix::unistd::dup2_stdout(io::stderr())?;
    let null = File::open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    Ok(Channel {
        reader: Box::new(File::from(input)),
        writer: Box::new(File::from(output)),
    })
}
