//! The process group on Windows: nothing to lead.
//!
//! The parent's job object ends the child and everything it started, so a
//! child never needs to kill its descendants itself.

/// Never constructed on Windows: there are no process groups to lead.
#[derive(Debug)]
pub(crate) enum Leader {}

impl Leader {
    /// Always `None`.
    pub(crate) fn claim() -> Option<Self> {
        None
    }

    /// Unreachable: no `Leader` exists on Windows.
    pub(crate) fn kill_group(&self, _code: u8) -> ! {
        match *self {}
    }
}
