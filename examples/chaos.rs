//! A chaos soak: 10,000 requests through a pool of two workers, once over
//! stdio and once over local sockets, with thirteen kinds of fault mixed
//! in at random among normal streaming requests.
//!
//! ```text
//! cargo run --release --example chaos [-- --requests N --seed S]
//! ```
//!
//! The faults: abort, segfault, exit code, an external SIGKILL, a hang past
//! the timeout, a cooperative cancel, a cancel ignored past the grace,
//! garbage on the channel, an oversized frame, a slow sink, memory past the
//! hard limit, a grandchild left running, and a panic. Every request gets a
//! verdict: a success must carry exactly the rows the child emitted, a
//! fault must fail the way it must. After the pool's shutdown, `/proc` is
//! searched for children and grandchildren still running and for children
//! never reaped. The `RESULT` lines say how many requests were lost (no
//! outcome), had two outcomes, had wrong rows, were misclassified, or were
//! normal requests that failed, and how many processes were left: all zero
//! but the first. Exits with an error if any is not.
//!
//! Like the other examples, this executable is its own child (see
//! `capability_runner`). Linux only.

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    bulkhead_child::run_if_child(bulkhead_fixture::capability);
    let mut args = std::env::args().skip(1);
    let (mut requests, mut seed) = (10_000u64, 0x5eed_u64);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or("an option without a value")?;
        match arg.as_str() {
            "--requests" => requests = value.parse()?,
            "--seed" => seed = value.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let transports: [(&str, std::sync::Arc<dyn bulkhead::Transport>); 2] = [
        ("stdio", std::sync::Arc::new(bulkhead_stdio::StdioTransport)),
        (
            "local_socket",
            std::sync::Arc::new(bulkhead_local_socket::LocalSocketTransport::new()),
        ),
    ];
    let mut clean = true;
    let mut total = bulkhead_fixture::chaos::Report::default();
    for (name, transport) in transports {
        let plan = bulkhead_fixture::chaos::Plan {
            program: std::env::current_exe()?,
            transport,
            requests,
            workers: 2,
            concurrency: 4,
            fault_share: 0.15,
            seed,
            watchdog: std::time::Duration::from_secs(30),
        };
        println!("== {requests} requests over {name} (seed {seed})");
        let report = runtime.block_on(bulkhead_fixture::chaos::run(plan, LIMITS))?;
        print(&report);
        for line in report.result_lines(&format!("_{name}")) {
            println!("{line}");
        }
        clean &= report.clean();
        total.add(&report);
    }
    for line in total.result_lines("") {
        println!("{line}");
    }
    if clean {
        Ok(())
    } else {
        Err("the soak found lost, doubled, wrong or misclassified outcomes, or processes left behind".into())
    }
}

/// The limits the faults are sized against.
#[cfg(target_os = "linux")]
const LIMITS: bulkhead_fixture::chaos::Limits = bulkhead_fixture::chaos::Limits {
    hang_timeout: std::time::Duration::from_millis(100),
    rss_hard_limit_mib: 96,
};

#[cfg(target_os = "linux")]
fn print(report: &bulkhead_fixture::chaos::Report) {
    println!("{:<26} {:>6} {:>9}", "kind", "sent", "expected");
    for (fault, (sent, expected)) in &report.by_fault {
        println!("{:<26} {sent:>6} {expected:>9}", fault.name());
    }
    let restarts: Vec<String> = report
        .restarts
        .iter()
        .map(|(reason, count)| format!("{reason} {count}"))
        .collect();
    println!("replacements: {}", restarts.join(", "));
    println!("took {:.1} s", report.elapsed.as_secs_f64());
    for sample in &report.samples {
        println!("unexpected: {sample}");
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the chaos soak reads /proc and runs on Linux only");
}
