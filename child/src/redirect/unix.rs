use std::fs::File;
use std::io;

pub(super) fn redirect() -> io::Result<()> {
    nix::unistd::dup2_stdout(io::stderr())?;
    let null = File::open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    Ok(())
}
