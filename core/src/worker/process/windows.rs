use process_wrap::tokio::{ChildWrapper, CommandWrap, JobObject};

/// Starts the child in a job object, so that ending the job ends its
/// grandchildren too.
pub(super) fn contain(command: &mut CommandWrap) {
    command.wrap(JobObject);
}

/// Windows has no polite termination request for a console process without
/// a window; terminating the job is the kill.
pub(super) fn terminate(child: &mut dyn ChildWrapper) -> std::io::Result<()> {
    child.start_kill()
}
