//! `bulkhead doctor`: start a child and report what is wrong with it.

use std::process::ExitCode;

use clap::Args;

use crate::target::{ChildCommand, ChildOptions};
use crate::{EXIT_FAILED, Usage};

/// Arguments of `bulkhead doctor`.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    child: ChildOptions,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// The capability name the child must announce.
    #[arg(long, value_name = "NAME")]
    expect_name: Option<String>,
    /// A semantic-version requirement the child must meet (`^1.2`).
    #[arg(long, value_name = "REQUIREMENT")]
    expect_version: Option<String>,
    /// A command the child must serve; may be repeated.
    #[arg(long = "require", value_name = "COMMAND")]
    required: Vec<String>,
    #[command(flatten)]
    command: ChildCommand,
}

pub(crate) async fn run(args: DoctorArgs) -> Result<ExitCode, Usage> {
    let mut child = args.child.child(&args.command.words)?;
    if let Some(name) = args.expect_name {
        child = child.expect_name(name);
    }
    if let Some(requirement) = args.expect_version {
        child = child.expect_version(requirement);
    }
    for command in args.required {
        child = child.require_command(command);
    }
    let report = child.check().await;
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(err) => {
                eprintln!("bulkhead: the report does not serialize: {err}");
                return Ok(ExitCode::from(EXIT_FAILED));
            }
        }
    } else {
        println!("{report}");
    }
    Ok(if report.has_errors() {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
