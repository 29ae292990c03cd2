//! What an explicit shutdown did.

use std::fmt;

use super::ChildExit;

/// How [`Worker::shutdown`](super::Worker::shutdown) ended the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownStep {
    /// No child was running.
    NotRunning,
    /// The child exited after the shutdown frame.
    Exited,
    /// The child exited after SIGTERM to its process group (Unix).
    Terminated,
    /// The child did not exit in time and was killed.
    Killed,
}

/// What [`Worker::shutdown`](super::Worker::shutdown) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// The step that ended the child.
    pub step: ShutdownStep,
    /// The generation that was running, if any.
    pub generation: Option<u64>,
    /// How the child ended, if it was reaped.
    pub exit: Option<ChildExit>,
}

impl fmt::Display for ShutdownStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShutdownStep::NotRunning => "no child was running",
            ShutdownStep::Exited => "the child exited after the shutdown frame",
            ShutdownStep::Terminated => "the child was terminated after the shutdown timeout",
            ShutdownStep::Killed => "the child was killed after it ignored termination",
        })
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(generation) = self.generation {
            write!(f, "generation {generation}: ")?;
        }
        write!(f, "{}", self.step)?;
        match &self.exit {
            Some(exit) => write!(f, " ({exit})"),
            None if self.step == ShutdownStep::NotRunning => Ok(()),
            None => f.write_str(" (not reaped)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_read_as_sentences() {
        let report = ShutdownReport {
            step: ShutdownStep::Exited,
            generation: Some(3),
            exit: None,
        };
        assert_eq!(
            report.to_string(),
            "generation 3: the child exited after the shutdown frame (not reaped)"
        );
    }
}
