//! Cost of one RSS sample with `RssSampler` against a baseline measured in
//! the same run.
//!
//! ```text
//! cargo run --release --example rss_sample
//! ```
//!
//! A child (`sleep 5`, killed at the end) is sampled 100 000 times, in
//! batches of 100 so the clock is read once per batch; each figure is the
//! median over the batches of the time per sample.
//!
//! - `rss_sample_ns`: `RssSampler::sample` (Linux: the kept-open
//!   `/proc/<pid>/statm` re-read with `pread`).
//! - `rss_open_read_ns`: the naive way, opening, reading and parsing
//!   `/proc/<pid>/statm` each time (Linux only).
//! - `sysinfo` is compiled only where no native call exists, so it is not
//!   measured on Linux, Windows or macOS (it costs ~40 µs on Linux).
//!
//! Written for Linux: it needs `sleep` and `getconf` on `PATH`.

use std::error::Error;
use std::hint::black_box;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use bulkhead::rss::{Rss, RssSampler};

const SAMPLES: usize = 100_000;
const BATCH: usize = 100;

fn main() -> Result<(), Box<dyn Error>> {
    let mut child = Command::new("sleep")
        .arg("5")
        .stdin(Stdio::null())
        .spawn()?;
    let result = run(&child);
    child.kill()?;
    child.wait()?;
    result
}

fn run(child: &Child) -> Result<(), Box<dyn Error>> {
    let pid = child.id();
    let page_size = page_size()?;
    let statm = format!("/proc/{pid}/statm");

    let mut sampler = RssSampler::new(pid);
    let first = sampler.sample();
    let naive = open_read(&statm, page_size);
    println!("child {pid}: sampler {first}, open+read {naive}");
    if first == Rss::Unavailable {
        return Err("the sampler gave no figure for a live child".into());
    }

    let mut unavailable = 0_usize;
    let sample_ns = median_ns(|| {
        if sampler.sample() == Rss::Unavailable {
            unavailable += 1;
        }
    });
    if unavailable > 0 {
        return Err(format!("{unavailable} of {SAMPLES} samples were unavailable").into());
    }
    println!("RESULT rss_sample_ns {sample_ns:.0} ns");

    if naive == Rss::Unavailable {
        println!("note: {statm} is not readable here; rss_open_read_ns skipped");
    } else {
        let open_read_ns = median_ns(|| {
            black_box(open_read(&statm, page_size));
        });
        println!("RESULT rss_open_read_ns {open_read_ns:.0} ns");
        println!(
            "ratio open+read / sampler: {:.1}x",
            open_read_ns / sample_ns.max(f64::MIN_POSITIVE)
        );
    }
    println!(
        "note: sysinfo is compiled only where no native call exists; \
         not measured on this platform (~40 us on Linux)"
    );
    Ok(())
}

/// Median over `SAMPLES / BATCH` batches of the time per call of `f`.
fn median_ns(mut f: impl FnMut()) -> f64 {
    let mut per_call: Vec<f64> = (0..SAMPLES / BATCH)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..BATCH {
                f();
            }
            start.elapsed().as_nanos() as f64 / BATCH as f64
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    per_call
        .get(per_call.len() / 2)
        .copied()
        .unwrap_or(f64::NAN)
}

/// The baseline: open, read and parse `statm` afresh.
fn open_read(path: &str, page_size: u64) -> Rss {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.split(' ').nth(1)?.parse::<u64>().ok())
        .and_then(|pages| pages.checked_mul(page_size))
        .filter(|&bytes| bytes > 0)
        .map_or(Rss::Unavailable, Rss::Bytes)
}

/// The page size, from `getconf PAGESIZE` (this crate has no libc binding).
fn page_size() -> Result<u64, Box<dyn Error>> {
    let output = Command::new("getconf").arg("PAGESIZE").output()?;
    Ok(String::from_utf8(output.stdout)?.trim().parse()?)
}
