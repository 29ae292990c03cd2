//! `bulkhead`: check, call and probe any bulkhead child from the command
//! line. Each subcommand takes the child as `PROGRAM [ARGS...]`, so a child
//! run through an interpreter works: `bulkhead doctor -- python3 child.py`.

mod call;
mod conformance;
mod doctor;
mod probe;
mod target;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Check, call and probe bulkhead children.
#[derive(Debug, Parser)]
#[command(name = "bulkhead", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a child, check its handshake, metadata and health, and print
    /// every finding; exits 1 when a finding is an error.
    Doctor(doctor::DoctorArgs),
    /// Send one request and print its rows, diagnostics and progress live,
    /// then its response or summary, or the typed error with the child's
    /// stderr.
    Call(call::CallArgs),
    /// Measure a child: cold start, round trips, rows per second, cancel
    /// latency, crash recovery, cycling, memory.
    Probe(probe::ProbeArgs),
    /// Check that a child, in any language, speaks the protocol: one line
    /// per check, then a count; exits 1 when a check fails.
    Conformance(conformance::ConformanceArgs),
}

/// Exit code for a failure of the checked child or of the request.
const EXIT_FAILED: u8 = 1;
/// Exit code for arguments that cannot work.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bulkhead: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Doctor(args) => doctor::run(args).await,
            Command::Call(args) => call::run(args).await,
            Command::Probe(args) => probe::run(args).await,
            Command::Conformance(args) => conformance::run(args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(Usage(message)) => {
            eprintln!("bulkhead: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Arguments that cannot work, said as a sentence.
#[derive(Debug)]
struct Usage(String);
