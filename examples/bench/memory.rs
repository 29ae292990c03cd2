//! The `memory` section: the parent's own memory while a long stream runs
//! into a slow sink. The child writes faster than the sink takes rows, so
//! the parent stops reading (backpressure) and the child blocks on a full
//! pipe; nothing may pile up in the parent.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bulkhead::rss::RssSampler;
use bulkhead::sink::Counting;
use bulkhead::{Row, Sink, SinkError};
use bulkhead_fixture::{Count, Item};
use tokio::time::Sleep;

use super::{BoxError, check, fixture, result, round3};

const MIB: f64 = 1024.0 * 1024.0;
/// Rows between two pauses of the sink, and between two samples of the
/// parent's RSS.
const EVERY: u64 = 10_000;

/// Takes rows one by one, but pauses 1 ms every [`EVERY`] rows, and
/// samples the parent's RSS as it goes.
struct Slow {
    rows: u64,
    pause: Option<Pin<Box<Sleep>>>,
    own: RssSampler,
    peak: u64,
}

impl Sink<Row<Item>> for Slow {
    fn send(&mut self, row: Row<Item>) -> Result<(), SinkError> {
        std::hint::black_box(row);
        self.rows += 1;
        if self.rows.is_multiple_of(EVERY) {
            self.peak = self.peak.max(self.own.sample().bytes().unwrap_or(0));
            self.pause = Some(Box::pin(tokio::time::sleep(Duration::from_millis(1))));
        }
        Ok(())
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        if let Some(pause) = &mut self.pause {
            std::task::ready!(pause.as_mut().poll(cx));
            self.pause = None;
        }
        Poll::Ready(Ok(()))
    }
}

/// `parent_memory_growth_mib`: the parent's peak RSS during a stream of
/// `rows` `Item` rows into [`Slow`], minus its RSS just before, after a
/// warm-up stream of the same kind. Target <= 0.16 MiB.
pub(crate) async fn memory(rows: u64) -> Result<(), BoxError> {
    println!("memory: {rows} Item rows into a sink that pauses 1 ms every {EVERY} rows");
    let mut worker = fixture()?.spawn().await?;
    let mut own = RssSampler::new(std::process::id());
    let warm_up = Count {
        n: rows / 10,
        progress_every: 0,
        diagnostic_every: 0,
    };
    worker.stream(&warm_up, &mut Counting::default()).await?;
    let before = own
        .sample()
        .bytes()
        .ok_or("the parent's RSS cannot be sampled here")?;
    let mut sink = Slow {
        rows: 0,
        pause: None,
        own,
        peak: before,
    };
    let count = Count {
        n: rows,
        progress_every: 0,
        diagnostic_every: 0,
    };
    let summary = worker.stream(&count, &mut sink).await?;
    let waits = worker.stats().backpressure_waits;
    worker.shutdown().await;
    check(summary.rows == rows && sink.rows == rows, "rows lost")?;
    let growth = sink.peak.saturating_sub(before) as f64 / MIB;
    println!(
        "  parent RSS {:.1} MiB before, peak {:.1} MiB during: growth {growth:.3} MiB (target <= 0.16); the sink made the parent wait {waits} times",
        before as f64 / MIB,
        sink.peak as f64 / MIB,
    );
    result("parent_memory_growth_mib", round3(growth), "MiB");
    result("parent_memory_backpressure_waits", waits as f64, "waits");
    Ok(())
}
