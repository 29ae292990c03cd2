//! The `plan` section: a shuffled workload over many keys, run as it comes
//! (a batch) and as planned (`Planner` and `Pool::run_plan`).
//!
//! - `naive_session_opens`, `plan_session_opens`: sessions the pool opened
//!   for `items` items spread over 20 keys in a shuffled order on 2
//!   workers, when every session open costs the child 20 ms. The plan's
//!   target: at most keys + workers (22).
//! - `plan_speedup`: the batch's wall time over the plan's.

use std::time::Duration;

use bulkhead::plan::{Planner, WorkItem};
use bulkhead_fixture::Echo;

use super::pool::fixture_pool;
use super::{BoxError, check, fixture, result, round3};

const KEYS: usize = 20;
const WORKERS: usize = 2;
const SESSION_COST_MS: u64 = 20;

pub(crate) async fn plan(items: usize) -> Result<(), BoxError> {
    println!(
        "plan: {items} items over {KEYS} keys, shuffled, on {WORKERS} workers, session open {SESSION_COST_MS} ms"
    );
    let work = shuffled(items);

    let naive = fixture_pool(session_cost()?, WORKERS)?;
    let report = naive
        .batch(work.iter().map(|(key, i)| (key.clone(), *i)))
        .run(|lease, i: &usize| {
            Box::pin(async move {
                lease
                    .call(&Echo {
                        text: i.to_string(),
                    })
                    .await
            })
        })
        .await;
    naive.shutdown().await;
    check(report.totals.ok == items, "naive items failed")?;
    let (naive_opens, naive_time) = (report.totals.sessions_opened, report.totals.elapsed);

    let planned = fixture_pool(session_cost()?, WORKERS)?;
    let plan = Planner::new(WORKERS).plan(
        work.iter()
            .map(|(key, i)| WorkItem::new(format!("{i:05}"), key.clone(), *i)),
    )?;
    let batches = plan.batches().len();
    let report = planned
        .run_plan(plan, |lease, item| {
            Box::pin(async move {
                lease
                    .call(&Echo {
                        text: item.data.to_string(),
                    })
                    .await
            })
        })
        .await;
    planned.shutdown().await;
    check(report.totals.ok == items, "planned items failed")?;
    let (plan_opens, plan_time) = (report.totals.sessions_opened, report.totals.elapsed);

    let speedup = naive_time.as_secs_f64() / plan_time.as_secs_f64();
    println!(
        "  as they come  {naive_opens:>5} session opens  {:>8.3} s",
        naive_time.as_secs_f64()
    );
    println!(
        "  planned       {plan_opens:>5} session opens  {:>8.3} s  ({batches} batches; target <= {} opens)",
        plan_time.as_secs_f64(),
        KEYS + WORKERS
    );
    println!("  speedup  {speedup:.2}x");
    result("naive_session_opens", naive_opens as f64, "opens");
    result("plan_session_opens", plan_opens as f64, "opens");
    result("plan_speedup", round3(speedup), "x");
    Ok(())
}

/// A worker builder whose children take `SESSION_COST_MS` to open a session.
fn session_cost() -> Result<bulkhead::WorkerBuilder, BoxError> {
    Ok(fixture()?
        .env(
            bulkhead_fixture::SESSION_COST_ENV,
            SESSION_COST_MS.to_string(),
        )
        .request_timeout(Duration::from_secs(30)))
}

/// `items` items, item `i` for key `i % KEYS`, in an order shuffled from a
/// fixed seed (the same on every run).
fn shuffled(items: usize) -> Vec<(String, usize)> {
    let mut work: Vec<_> = (0..items)
        .map(|i| (format!("key-{:02}", i % KEYS), i))
        .collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in (1..work.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        work.swap(i, (state % (i as u64 + 1)) as usize);
    }
    work
}
