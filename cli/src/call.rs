//! `bulkhead call`: one raw request, its events printed as they come.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use bulkhead::describe::Span;
use bulkhead::sink::{SinkError, from_fn};
use bulkhead::wire::{Diagnostic, Progress};
use bulkhead::{RawRow, WorkerError};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use serde_json::value::RawValue;

use crate::target::{ChildOptions, json_args, seconds};
use crate::{EXIT_FAILED, Usage};

/// Arguments of `bulkhead call`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  bulkhead call ./my-child count '{\"n\": 3}'\n  \
                        bulkhead call count '{\"n\": 3}' -- python3 child.py"
)]
pub(crate) struct CallArgs {
    #[command(flatten)]
    child: ChildOptions,
    /// Print every event as one JSON object per line on stdout.
    #[arg(long)]
    json: bool,
    /// Seconds the request may run before the child is killed.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    timeout: f64,
    /// Open this session key (JSON) before the request.
    #[arg(long, value_name = "JSON")]
    session: Option<String>,
    /// `PROGRAM COMMAND [JSON]`, or `COMMAND [JSON]` when the program
    /// follows `--`. The arguments default to `{}`.
    #[arg(required = true, num_args = 1..=3, value_name = "PROGRAM COMMAND [JSON]")]
    words: Vec<String>,
    /// The child program and its arguments, after `--`.
    #[arg(last = true, value_name = "PROGRAM [ARGS]...")]
    command: Vec<OsString>,
}

/// The request, taken apart.
struct Call {
    program: Vec<OsString>,
    name: String,
    args: Box<RawValue>,
}

impl CallArgs {
    fn call(&self) -> Result<Call, Usage> {
        let (program, rest) = if self.command.is_empty() {
            match self.words.split_first() {
                Some((program, rest)) if !rest.is_empty() => (vec![program.into()], rest),
                _ => {
                    return Err(Usage(
                        "give the program and the command: `bulkhead call PROGRAM COMMAND [JSON]`"
                            .to_owned(),
                    ));
                }
            }
        } else {
            (self.command.clone(), &self.words[..])
        };
        match rest {
            [name] => Ok(Call {
                program,
                name: name.clone(),
                args: json_args("{}", "the arguments")?,
            }),
            [name, args] => Ok(Call {
                program,
                name: name.clone(),
                args: json_args(args, "the arguments")?,
            }),
            _ => Err(Usage(
                "too many words: after `--` give only `COMMAND [JSON]` before it".to_owned(),
            )),
        }
    }
}

pub(crate) async fn run(args: CallArgs) -> Result<ExitCode, Usage> {
    let call = args.call()?;
    let session = match &args.session {
        Some(key) => Some(json_args(key, "--session")?),
        None => None,
    };
    let timeout = seconds(args.timeout, "--timeout")?;
    let builder = args.child.builder(&call.program)?.request_timeout(timeout);
    let out = Printer::new(args.json);
    let mut worker = match builder.spawn().await {
        Ok(worker) => worker,
        Err(err) => return Ok(out.failed(&err)),
    };
    if let Some(key) = &session {
        let opened = worker
            .raw_request(bulkhead::wire::SESSION_COMMAND, key)
            .opens_session()
            .call_raw()
            .await;
        if let Err(err) = opened {
            worker.shutdown().await;
            return Ok(out.failed(&err));
        }
    }
    let streaming = worker
        .info()
        .and_then(|info| info.command(&call.name))
        .is_some_and(|command| command.streaming);
    let code = out.request(&mut worker, &call, streaming).await;
    worker.shutdown().await;
    Ok(code)
}

/// Prints events for people (rows on stdout, the rest on stderr) or as
/// JSON lines on stdout.
struct Printer {
    json: bool,
    bar: ProgressBar,
}

impl Printer {
    fn new(json: bool) -> Self {
        Self {
            json,
            bar: ProgressBar::hidden(),
        }
    }

    async fn request(
        &self,
        worker: &mut bulkhead::Worker,
        call: &Call,
        streaming: bool,
    ) -> ExitCode {
        let mut diagnostics = from_fn(|diagnostic: Diagnostic| {
            self.diagnostic(&diagnostic);
            Ok::<_, SinkError>(())
        });
        let mut progress = from_fn(|progress: Progress| {
            self.progress(&progress);
            Ok::<_, SinkError>(())
        });
        let request = worker
            .raw_request(&call.name, &call.args)
            .diagnostics(&mut diagnostics)
            .progress(&mut progress);
        let outcome = if streaming {
            let rows = from_fn(|row: RawRow| {
                self.row(&row);
                Ok::<_, SinkError>(())
            });
            request
                .stream_raw(rows)
                .await
                .map(|summary| (summary.value, Some((summary.rows, summary.elapsed))))
        } else {
            request.call_raw().await.map(|value| (value, None))
        };
        self.bar.finish_and_clear();
        match outcome {
            Ok((value, rows)) => {
                self.done(&value, rows);
                ExitCode::SUCCESS
            }
            Err(err) => self.failed(&err),
        }
    }

    fn row(&self, row: &RawRow) {
        if self.json {
            let line = json!({ "row": row.value, "stream": &*row.stream, "seq": row.seq });
            println!("{line}");
        } else if &*row.stream == "rows" {
            self.bar.suspend(|| println!("{}", row.value.get()));
        } else {
            self.bar
                .suspend(|| println!("{}: {}", row.stream, row.value.get()));
        }
    }

    fn diagnostic(&self, diagnostic: &Diagnostic) {
        if self.json {
            println!("{}", json!({ "diagnostic": diagnostic }));
        } else {
            self.bar
                .suspend(|| eprintln!("{}: {}", diagnostic.level.as_str(), diagnostic.message));
        }
    }

    fn progress(&self, progress: &Progress) {
        if self.json {
            println!("{}", json!({ "progress": progress }));
            return;
        }
        if self.bar.is_hidden()
            && let Some(total) = progress.total
        {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
            self.bar.set_length(total);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({elapsed})")
            {
                self.bar.set_style(style);
            }
        }
        self.bar.set_position(progress.done);
        if let Some(message) = &progress.message {
            self.bar.set_message(message.clone());
        }
    }

    fn done(&self, value: &RawValue, rows: Option<(u64, Duration)>) {
        if self.json {
            let line = match rows {
                Some((rows, elapsed)) => json!({
                    "summary": value,
                    "rows": rows,
                    "elapsed_ms": elapsed.as_secs_f64() * 1_000.0,
                }),
                None => json!({ "response": value }),
            };
            println!("{line}");
            return;
        }
        println!("{}", value.get());
        if let Some((rows, elapsed)) = rows {
            eprintln!("ok: {rows} rows in {}", Span(elapsed));
        }
    }

    fn failed(&self, err: &WorkerError) -> ExitCode {
        let tail = err.stderr_tail().filter(|tail| !tail.trim().is_empty());
        if self.json {
            let line = json!({ "error": {
                "kind": err.kind(),
                "message": err.to_string(),
                "stderr_tail": tail,
            }});
            println!("{line}");
        } else {
            eprintln!("bulkhead: {err}");
            if let Some(tail) = tail {
                eprintln!("the child's stderr ended with:");
                for line in tail.lines() {
                    eprintln!("  | {line}");
                }
            }
        }
        ExitCode::from(EXIT_FAILED)
    }
}
