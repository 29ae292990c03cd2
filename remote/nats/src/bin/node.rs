//! `bulkhead-node`: a node agent. Runs a pool of one child program and
//! serves it over NATS until SIGTERM or ctrl-c, then drains.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use bulkhead::{Pool, Worker};
use bulkhead_nats::{DurableConfig, NatsOptions, NodeAgent, NodeConfig, Subjects, default_node_id};
use clap::Parser;

/// Serve a bulkhead child over NATS.
#[derive(Debug, Parser)]
#[command(name = "bulkhead-node", version)]
struct Args {
    #[command(flatten)]
    nats: NatsOptions,
    /// The service: one kind of child. Clients name it too.
    #[arg(long)]
    service: String,
    /// The subject prefix.
    #[arg(long, default_value = "bulkhead")]
    prefix: String,
    /// This node's id [default: host name, pid and a random tail].
    #[arg(long)]
    node_id: Option<String>,
    /// Workers (children) at most.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Milliseconds between two heartbeats.
    #[arg(long, default_value_t = 1000)]
    heartbeat_ms: u64,
    /// Cancel a request whose client sent nothing for this many
    /// milliseconds (its keep-alives come every heartbeat interval).
    #[arg(long, default_value_t = 10_000)]
    client_silence_ms: u64,
    /// Each request's timeout, in seconds, unless the client gives one.
    #[arg(long)]
    timeout_secs: Option<f64>,
    /// Kill a child whose resident memory passes this many MiB during a
    /// request.
    #[arg(long)]
    rss_limit_mib: Option<u64>,
    /// Also take items of durable batches from JetStream.
    #[arg(long)]
    durable: bool,
    /// Seconds JetStream waits for an item's acknowledgement.
    #[arg(long, default_value_t = 30.0)]
    ack_wait_secs: f64,
    /// Deliveries that end their child before an item is poison.
    #[arg(long, default_value_t = 3)]
    max_attempts: u32,
    /// The child program and its arguments.
    #[arg(required = true, last = true)]
    child: Vec<OsString>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bulkhead-node: could not start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bulkhead-node: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let subjects = Subjects::with_prefix(&args.prefix, &args.service)?;
    let node = args.node_id.clone().unwrap_or_else(default_node_id);
    let mut config = NodeConfig::new(subjects, &node)?
        .heartbeat(Duration::from_millis(args.heartbeat_ms.max(10)))
        .client_silence(Duration::from_millis(args.client_silence_ms));
    if args.durable {
        let durable = DurableConfig::default()
            .ack_wait(seconds("--ack-wait-secs", args.ack_wait_secs)?)
            .max_attempts(args.max_attempts);
        config = config.durable(durable);
    }
    let (program, child_args) = args
        .child
        .split_first()
        .ok_or("no child program was given")?;
    let mut worker = Worker::builder(program).args(child_args);
    if let Some(secs) = args.timeout_secs {
        worker = worker.request_timeout(seconds("--timeout-secs", secs)?);
    }
    if let Some(mib) = args.rss_limit_mib {
        worker = worker.rss_hard_limit(mib * 1024 * 1024);
    }
    let pool = Pool::builder(worker)
        .max_workers(args.workers.max(1))
        .build()?;
    let client = args.nats.connect(&format!("bulkhead-node {node}")).await?;
    let agent = NodeAgent::start(client, pool, config).await?;
    println!(
        "bulkhead-node: ready, node {node}, service {}",
        args.service
    );
    stopped().await;
    eprintln!("bulkhead-node: draining node {node}");
    agent.drain().await;
    println!("bulkhead-node: drained, node {node}");
    Ok(())
}

/// A number of seconds from the command line, refused if negative or not
/// a number.
fn seconds(flag: &str, secs: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{flag} takes a number of seconds of 0 or more, not {secs}"))
}

/// Resolves at SIGTERM or ctrl-c.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
