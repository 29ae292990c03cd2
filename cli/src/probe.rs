//! `bulkhead probe`: the operational figures of any child, measured the
//! same way for a comparison command.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bulkhead::sink::{Counting, SinkError, from_fn};
use bulkhead::{CancellationToken, RawRow, Worker, WorkerBuilder};
use clap::Args;
use serde_json::value::RawValue;

use crate::target::{ChildCommand, ChildOptions, json_args};
use crate::{EXIT_FAILED, Usage};

/// Arguments of `bulkhead probe`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example, with the fixture child:\n  bulkhead probe --stream count \
                        --stream-args '{\"n\":100000}' --cancel sleep_rows --cancel-args \
                        '{\"rows\":1000,\"every_ms\":10}' --crash segfault -- \
                        target/release/bulkhead-fixture-child"
)]
pub(crate) struct ProbeArgs {
    #[command(flatten)]
    child: ChildOptions,
    /// The unary command timed for round trips. Default: `ping` when the
    /// child serves it.
    #[arg(long, value_name = "NAME")]
    command: Option<String>,
    /// Its arguments.
    #[arg(long, default_value = "{}", value_name = "JSON")]
    args: String,
    /// Round trips to time.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    requests: u32,
    /// A streaming command whose rows per second are measured.
    #[arg(long, value_name = "NAME")]
    stream: Option<String>,
    /// Its arguments.
    #[arg(long, default_value = "{}", value_name = "JSON")]
    stream_args: String,
    /// A long command that is cancelled at its first row (or after 20 ms)
    /// to time how fast the child stops.
    #[arg(long, value_name = "NAME")]
    cancel: Option<String>,
    /// Its arguments.
    #[arg(long, default_value = "{}", value_name = "JSON")]
    cancel_args: String,
    /// A command that kills the child, to time crash recovery.
    #[arg(long, value_name = "NAME")]
    crash: Option<String>,
    /// Its arguments.
    #[arg(long, default_value = "{}", value_name = "JSON")]
    crash_args: String,
    /// Cold starts (and cycles) to time.
    #[arg(long, default_value_t = 5, value_name = "N")]
    starts: u32,
    /// Print the figures as one JSON object.
    #[arg(long)]
    json: bool,
    /// Print the figures as `RESULT <name> <value> <unit>` lines.
    #[arg(long)]
    results: bool,
    /// Another child command line (split on spaces) probed the same way,
    /// shown next to the first.
    #[arg(long, value_name = "COMMAND")]
    compare: Option<String>,
    #[command(flatten)]
    program: ChildCommand,
}

/// One measured figure.
#[derive(Debug, Clone, serde::Serialize)]
struct Figure {
    name: &'static str,
    value: f64,
    unit: &'static str,
}

/// What a probe of one child found.
#[derive(Debug, Default, serde::Serialize)]
struct Probe {
    figures: Vec<Figure>,
    /// What could not be measured, or what happened on the way.
    notes: Vec<String>,
}

impl Probe {
    fn figure(&mut self, name: &'static str, value: f64, unit: &'static str) {
        self.figures.push(Figure { name, value, unit });
    }

    fn get(&self, name: &str) -> Option<&Figure> {
        self.figures.iter().find(|figure| figure.name == name)
    }
}

/// The requests to time, with their arguments checked.
struct Plan {
    command: Option<String>,
    args: Box<RawValue>,
    requests: u32,
    stream: Option<(String, Box<RawValue>)>,
    cancel: Option<(String, Box<RawValue>)>,
    crash: Option<(String, Box<RawValue>)>,
    starts: u32,
}

pub(crate) async fn run(args: ProbeArgs) -> Result<ExitCode, Usage> {
    let with_args = |name: &Option<String>, text: &str, option: &str| match name {
        Some(name) => json_args(text, option).map(|args| Some((name.clone(), args))),
        None => Ok(None),
    };
    if args.starts == 0 || args.requests == 0 {
        return Err(Usage(
            "--starts and --requests must be at least 1".to_owned(),
        ));
    }
    let plan = Plan {
        command: args.command.clone(),
        args: json_args(&args.args, "--args")?,
        requests: args.requests,
        stream: with_args(&args.stream, &args.stream_args, "--stream-args")?,
        cancel: with_args(&args.cancel, &args.cancel_args, "--cancel-args")?,
        crash: with_args(&args.crash, &args.crash_args, "--crash-args")?,
        starts: args.starts,
    };
    let main = args.child.builder(&args.program.words)?;
    let compare = match &args.compare {
        Some(line) => {
            let words: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
            Some(args.child.builder(&words)?)
        }
        None => None,
    };
    let Some(probe) = probe(main, &plan).await else {
        return Ok(ExitCode::from(EXIT_FAILED));
    };
    let compared = match compare {
        Some(builder) => match self::probe(builder, &plan).await {
            Some(compared) => Some(compared),
            None => return Ok(ExitCode::from(EXIT_FAILED)),
        },
        None => None,
    };
    if args.json {
        let object = serde_json::json!({ "child": probe, "compare": compared });
        println!("{object:#}");
    } else if args.results {
        print_results("probe", &probe);
        if let Some(compared) = &compared {
            print_results("compare", compared);
        }
    } else {
        print_table(&probe, compared.as_ref());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_results(prefix: &str, probe: &Probe) {
    for figure in &probe.figures {
        println!(
            "RESULT {prefix}_{} {} {}",
            figure.name,
            shown(figure.value),
            figure.unit
        );
    }
    for note in &probe.notes {
        eprintln!("note ({prefix}): {note}");
    }
}

/// A figure with three decimals, or none when it is whole.
fn shown(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

fn print_table(probe: &Probe, compared: Option<&Probe>) {
    for figure in &probe.figures {
        let mut line = format!(
            "{:<22} {:>14} {:<6}",
            figure.name,
            shown(figure.value),
            figure.unit
        );
        if let Some(other) = compared.and_then(|compared| compared.get(figure.name)) {
            line.push_str(&format!(" {:>14} {}", shown(other.value), other.unit));
        }
        println!("{}", line.trim_end());
    }
    for note in &probe.notes {
        println!("note: {note}");
    }
    if let Some(compared) = compared {
        for note in &compared.notes {
            println!("note (compare): {note}");
        }
    }
}

/// Probes one child; `None`, with the error printed, when it does not start.
async fn probe(builder: WorkerBuilder, plan: &Plan) -> Option<Probe> {
    let config = match builder.build() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("bulkhead: {err}");
            return None;
        }
    };
    let mut probe = Probe::default();
    let mut starts = Vec::new();
    for _ in 0..plan.starts {
        let started = Instant::now();
        match Worker::start(config.clone()).await {
            Ok(mut worker) => {
                starts.push(started.elapsed());
                worker.shutdown().await;
            }
            Err(err) => {
                eprintln!("bulkhead: the child did not start: {err}");
                if let Some(tail) = err.stderr_tail().filter(|tail| !tail.trim().is_empty()) {
                    eprintln!("the child's stderr ended with:\n{tail}");
                }
                return None;
            }
        }
    }
    probe.figure("cold_start_ms", millis(median(&mut starts)), "ms");
    let mut worker = Worker::start(config).await.ok()?;
    if let Some(rss) = worker.sample_rss().bytes() {
        probe.figure("rss_after_start_mib", mib(rss), "MiB");
    }
    let command = plan.command.clone().or_else(|| {
        worker
            .info()
            .and_then(|info| info.command("ping"))
            .map(|command| command.name.clone())
    });
    match &command {
        Some(command) => round_trips(&mut probe, &mut worker, command, plan).await,
        None => probe.notes.push(
            "no round trips: the child serves no `ping`; name a unary command with --command"
                .to_owned(),
        ),
    }
    if let Some((name, args)) = &plan.stream {
        rows(&mut probe, &mut worker, name, args).await;
    }
    if let Some((name, args)) = &plan.cancel {
        cancel(&mut probe, &mut worker, name, args).await;
    }
    if let Some((name, args)) = &plan.crash {
        crash(
            &mut probe,
            &mut worker,
            name,
            args,
            command.as_deref(),
            &plan.args,
        )
        .await;
    }
    let mut cycles = Vec::new();
    for _ in 0..plan.starts {
        let started = Instant::now();
        match worker.cycle().await {
            Ok(()) => cycles.push(started.elapsed()),
            Err(err) => {
                probe.notes.push(format!("cycling failed: {err}"));
                break;
            }
        }
    }
    if !cycles.is_empty() {
        probe.figure("cycle_ms", millis(median(&mut cycles)), "ms");
    }
    if let Some(rss) = worker.sample_rss().bytes() {
        probe.figure("rss_after_work_mib", mib(rss), "MiB");
    }
    worker.shutdown().await;
    Some(probe)
}

async fn round_trips(probe: &mut Probe, worker: &mut Worker, command: &str, plan: &Plan) {
    let mut times = Vec::with_capacity(plan.requests as usize);
    for _ in 0..plan.requests {
        let started = Instant::now();
        if let Err(err) = worker.raw_request(command, &plan.args).call_raw().await {
            probe.notes.push(format!("round trips stopped: {err}"));
            break;
        }
        times.push(started.elapsed());
    }
    let Some(first) = times.first().copied() else {
        return;
    };
    probe.figure("first_request_ms", millis(first), "ms");
    let median = median(&mut times);
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    probe.figure("rtt_median_us", micros(median), "us");
    probe.figure("rtt_p99_us", micros(p99), "us");
}

async fn rows(probe: &mut Probe, worker: &mut Worker, name: &str, args: &RawValue) {
    let mut sink = Counting::default();
    match worker.raw_request(name, args).stream_raw(&mut sink).await {
        Ok(summary) if summary.elapsed > Duration::ZERO => {
            probe.figure("rows", summary.rows as f64, "rows");
            probe.figure(
                "rows_per_s",
                summary.rows as f64 / summary.elapsed.as_secs_f64(),
                "rows/s",
            );
        }
        Ok(_) => probe.notes.push("the stream ended at once".to_owned()),
        Err(err) => probe.notes.push(format!("the stream failed: {err}")),
    }
}

async fn cancel(probe: &mut Probe, worker: &mut Worker, name: &str, args: &RawValue) {
    let token = CancellationToken::new();
    let cancelled_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let mark = |at: &Arc<Mutex<Option<Instant>>>| {
        at.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(Instant::now);
    };
    // A command without rows is cancelled after 20 ms instead.
    let timer = tokio::spawn({
        let (token, at) = (token.clone(), Arc::clone(&cancelled_at));
        async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            mark(&at);
            token.cancel();
        }
    });
    let generation = worker.generation();
    let rows = from_fn({
        let (token, at) = (token.clone(), Arc::clone(&cancelled_at));
        move |_: RawRow| {
            mark(&at);
            token.cancel();
            Ok::<_, SinkError>(())
        }
    });
    let outcome = worker
        .raw_request(name, args)
        .cancel(token)
        .stream_raw(rows)
        .await;
    let ended = Instant::now();
    timer.abort();
    let started = *cancelled_at.lock().unwrap_or_else(PoisonError::into_inner);
    match (outcome, started) {
        (Err(_), Some(started)) => {
            probe.figure("cancel_ms", millis(ended - started), "ms");
            if worker.generation() != generation {
                probe.notes.push(
                    "the cancelled child did not stop within the grace and was replaced".to_owned(),
                );
            }
        }
        (Ok(_), _) => probe
            .notes
            .push(format!("`{name}` finished before it could be cancelled")),
        (Err(err), None) => probe.notes.push(format!("`{name}` failed: {err}")),
    }
}

async fn crash(
    probe: &mut Probe,
    worker: &mut Worker,
    name: &str,
    args: &RawValue,
    command: Option<&str>,
    command_args: &RawValue,
) {
    let Some(command) = command else {
        probe
            .notes
            .push("no crash recovery: it needs a command to answer after the crash".to_owned());
        return;
    };
    let started = Instant::now();
    match worker
        .raw_request(name, args)
        .stream_raw(Counting::default())
        .await
    {
        Ok(_) => {
            probe
                .notes
                .push(format!("`{name}` did not crash the child"));
            return;
        }
        Err(err) => probe.notes.push(format!("crash: {err}")),
    }
    match worker.raw_request(command, command_args).call_raw().await {
        Ok(_) => probe.figure("crash_recovery_ms", millis(started.elapsed()), "ms"),
        Err(err) => probe
            .notes
            .push(format!("no recovery after the crash: {err}")),
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000_000.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
