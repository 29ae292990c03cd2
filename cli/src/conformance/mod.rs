//! `bulkhead conformance`: checks that any child speaks the protocol
//! (`docs/conformance.md`).

mod checks;
mod raw;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::json;

use crate::target::{ChildCommand, TransportName, seconds};
use crate::{EXIT_FAILED, Usage};
use checks::Verdict;
use raw::Target;

/// Arguments of `bulkhead conformance`.
#[derive(Debug, Args)]
pub(crate) struct ConformanceArgs {
    /// The channel to the child; `both` runs every check over each.
    #[arg(long, value_enum, default_value_t = Over::Stdio)]
    transport: Over,
    /// Seconds the child may take from spawn to its handshake.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    startup_timeout: f64,
    /// Run only these checks (repeatable); default all.
    #[arg(long = "check", value_name = "NAME")]
    only: Vec<String>,
    /// Print the results as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    command: ChildCommand,
}

/// Which transports to check over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Over {
    Stdio,
    LocalSocket,
    Both,
}

pub(crate) async fn run(args: ConformanceArgs) -> Result<ExitCode, Usage> {
    let startup = seconds(args.startup_timeout, "--startup-timeout")?;
    for name in &args.only {
        if !checks::CHECKS.contains(&name.as_str()) {
            return Err(Usage(format!(
                "no check named {name}; the checks are {}",
                checks::CHECKS.join(", ")
            )));
        }
    }
    let transports = match args.transport {
        Over::Stdio => vec![TransportName::Stdio],
        Over::LocalSocket => vec![TransportName::LocalSocket],
        Over::Both => vec![TransportName::Stdio, TransportName::LocalSocket],
    };
    let mut results = Vec::new();
    for transport in transports {
        let (label, shared): (&str, Arc<dyn bulkhead::Transport>) = match transport {
            TransportName::Stdio => ("stdio", Arc::new(bulkhead::transport::StdioTransport)),
            TransportName::LocalSocket => (
                "local-socket",
                Arc::new(bulkhead_local_socket::LocalSocketTransport::new()),
            ),
        };
        let target = Target {
            program: args.command.words.clone(),
            transport: shared,
            startup,
        };
        for name in checks::CHECKS {
            if !args.only.is_empty() && !args.only.iter().any(|only| only == name) {
                continue;
            }
            let verdict = checks::run(name, &target).await;
            if !args.json {
                print_line(label, name, &verdict);
            }
            results.push((label, name, verdict));
        }
    }
    let count = |wanted: fn(&Verdict) -> bool| results.iter().filter(|(_, _, v)| wanted(v)).count();
    let passed = count(|v| matches!(v, Verdict::Pass(_)));
    let failed = count(|v| matches!(v, Verdict::Fail(_)));
    let skipped = count(|v| matches!(v, Verdict::Skip(_)));
    if args.json {
        let checks: Vec<_> = results
            .iter()
            .map(|(transport, name, verdict)| {
                let (status, detail) = match verdict {
                    Verdict::Pass(note) => ("passed", note),
                    Verdict::Fail(reason) => ("failed", reason),
                    Verdict::Skip(why) => ("skipped", why),
                };
                json!({"transport": transport, "check": name, "status": status, "detail": detail})
            })
            .collect();
        let report =
            json!({"checks": checks, "passed": passed, "failed": failed, "skipped": skipped});
        println!("{report:#}");
    } else {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    }
    Ok(if failed > 0 {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_line(transport: &str, name: &str, verdict: &Verdict) {
    let (status, detail) = match verdict {
        Verdict::Pass(note) => ("pass", note),
        Verdict::Fail(reason) => ("FAIL", reason),
        Verdict::Skip(why) => ("skip", why),
    };
    println!("{status}  {transport:<12} {name:<28} {detail}");
}
