//! The child a subcommand runs: program, arguments, transport.

use std::ffi::OsString;
use std::time::Duration;

use bulkhead::{Child, WorkerBuilder};
use clap::{Args, ValueEnum};

use crate::Usage;

/// The transports a child can be reached over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TransportName {
    /// The child's stdin and stdout.
    Stdio,
    /// A Unix domain socket or a Windows named pipe.
    LocalSocket,
}

/// The child's command line, the last arguments of a subcommand.
#[derive(Debug, Args)]
pub(crate) struct ChildCommand {
    /// The child program and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROGRAM [ARGS]..."
    )]
    pub(crate) words: Vec<OsString>,
}

/// How to start the child.
#[derive(Debug, Args)]
pub(crate) struct ChildOptions {
    /// The channel to the child.
    #[arg(long, value_enum, default_value_t = TransportName::Stdio)]
    pub(crate) transport: TransportName,
    /// Seconds the child may take from spawn to its handshake.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub(crate) startup_timeout: f64,
}

impl ChildOptions {
    /// `builder` with the transport and the startup timeout.
    pub(crate) fn apply(&self, builder: WorkerBuilder) -> Result<WorkerBuilder, Usage> {
        let builder = builder.startup_timeout(seconds(self.startup_timeout, "--startup-timeout")?);
        Ok(match self.transport {
            TransportName::Stdio => builder.transport(bulkhead::transport::StdioTransport),
            TransportName::LocalSocket => {
                builder.transport(bulkhead_local_socket::LocalSocketTransport::new())
            }
        })
    }

    /// A worker builder for `command`, the program first.
    pub(crate) fn builder(&self, command: &[OsString]) -> Result<WorkerBuilder, Usage> {
        let (program, args) = split(command)?;
        self.apply(WorkerBuilder::new(program).args(args.iter().cloned()))
    }

    /// A [`Child`] for `command`, the program first.
    pub(crate) fn child(&self, command: &[OsString]) -> Result<Child, Usage> {
        let (program, args) = split(command)?;
        // Checked here so that a bad value is a usage error, not a finding.
        self.apply(WorkerBuilder::new(program))?;
        let startup = seconds(self.startup_timeout, "--startup-timeout")?;
        let child = Child::program(program)
            .args(args.iter().cloned())
            .configure(move |worker| worker.startup_timeout(startup));
        Ok(match self.transport {
            TransportName::Stdio => child,
            TransportName::LocalSocket => {
                child.transport(bulkhead_local_socket::LocalSocketTransport::new())
            }
        })
    }
}

fn split(command: &[OsString]) -> Result<(&OsString, &[OsString]), Usage> {
    command
        .split_first()
        .ok_or_else(|| Usage("no child program was given".to_owned()))
}

/// A positive number of seconds from an option.
pub(crate) fn seconds(value: f64, option: &str) -> Result<Duration, Usage> {
    if value.is_finite() && value > 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Usage(format!(
            "{option} must be a positive number of seconds, not {value}"
        )))
    }
}

/// JSON arguments from an option, checked before any child starts.
pub(crate) fn json_args(
    text: &str,
    option: &str,
) -> Result<Box<serde_json::value::RawValue>, Usage> {
    serde_json::from_str(text)
        .map_err(|err| Usage(format!("{option}: not valid JSON ({err}): {text}")))
}
