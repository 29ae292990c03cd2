use process_wrap::tokio::{ChildWrapper, CommandWrap, ProcessGroup};

/// Starts the child as the leader of a new process group, so that signals
/// to the group reach its grandchildren too.
pub(super) fn contain(command: &mut CommandWrap) {
    command.wrap(ProcessGroup::leader());
}

/// Asks the child's whole group to terminate (SIGTERM).
pub(super) fn terminate(child: &mut dyn ChildWrapper) -> std::io::Result<()> {
    child.signal(nix::sys::signal::Signal::SIGTERM as i32)
}
