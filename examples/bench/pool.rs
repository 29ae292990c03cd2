//! The pool: scaling over workers, and warm reuse of sessions.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bulkhead::WorkerBuilder;
use bulkhead::pool::Pool;
use bulkhead_fixture::{Burn, Echo, Ping};
use tokio::task::JoinSet;

use super::{BoxError, Scale, check, fixture, result, round1, round3};

/// CPU time of one item of the scaling benchmark, in milliseconds.
const BURN_MILLIS: u64 = 20;
/// Tasks submitting items to the pool concurrently.
const SUBMITTERS: usize = 2;
/// What a session open costs the child in the warm reuse benchmark.
const SESSION_COST_MS: u64 = 20;

pub(crate) async fn pool(scale: &Scale) -> Result<(), BoxError> {
    println!(
        "pool: scaling over {} items, warm reuse over {} items, best of {} runs each",
        scale.pool_items, scale.reuse_items, scale.pool_rounds
    );
    pool_scaling(scale.pool_items, scale.pool_rounds).await?;
    warm_reuse(scale.reuse_items, scale.pool_rounds).await
}

/// A pool of fixture workers keyed by strings that keeps idle workers.
pub(crate) fn fixture_pool(
    builder: WorkerBuilder,
    workers: usize,
) -> Result<Pool<String>, BoxError> {
    Ok(
        Pool::builder(builder.request_timeout(Duration::from_secs(30)))
            .max_workers(workers)
            .queue_wait_timeout(Duration::from_secs(30))
            .keep_idle_workers()
            .build()?,
    )
}

/// Starts every worker of `pool` and opens `key` on each: holds
/// `workers` leases at once, then returns them all.
async fn warm_pool(pool: &Pool<String>, workers: usize, key: &str) -> Result<(), BoxError> {
    let mut leases = Vec::with_capacity(workers);
    for _ in 0..workers {
        let mut lease = pool.acquire(key.to_owned()).await?;
        lease.call(&Ping {}).await?;
        leases.push(lease);
    }
    drop(leases);
    let snapshot = pool.snapshot();
    check(
        snapshot.idle == workers && snapshot.leases.sessions_opened == workers as u64,
        "the pool did not warm every worker",
    )
}

/// One scaling run's outcome.
struct BurnRun {
    elapsed: Duration,
    iterations: u64,
    /// Most leases held at the same moment.
    most_in_flight: usize,
}

/// `items` burns through `pool` from [`SUBMITTERS`] tasks.
async fn burn_through(pool: &Pool<String>, items: usize) -> Result<BurnRun, BoxError> {
    let next = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let sessions = pool.snapshot().leases.sessions_opened;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..SUBMITTERS {
        let (pool, next) = (pool.clone(), Arc::clone(&next));
        let (in_flight, most) = (Arc::clone(&in_flight), Arc::clone(&most));
        tasks.spawn(async move {
            let mut iterations = 0u64;
            while next.fetch_add(1, Ordering::Relaxed) < items {
                let mut lease = pool.acquire("burn".to_owned()).await?;
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let burned = lease
                    .call(&Burn {
                        millis: BURN_MILLIS,
                    })
                    .await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                drop(lease);
                iterations += burned?;
            }
            Ok::<_, BoxError>(iterations)
        });
    }
    let mut iterations = 0;
    while let Some(joined) = tasks.join_next().await {
        iterations += joined??;
    }
    let elapsed = started.elapsed();
    check(
        pool.snapshot().leases.sessions_opened == sessions,
        "a timed scaling run opened a session",
    )?;
    Ok(BurnRun {
        elapsed,
        iterations,
        most_in_flight: most.load(Ordering::SeqCst),
    })
}

/// Scaling runs of one pool, added up.
#[derive(Default)]
struct BurnRuns {
    /// The fastest run.
    best: Option<Duration>,
    elapsed: Duration,
    iterations: u64,
    most_in_flight: usize,
}

impl BurnRuns {
    fn add(&mut self, run: &BurnRun) {
        self.best = Some(self.best.map_or(run.elapsed, |best| best.min(run.elapsed)));
        self.elapsed += run.elapsed;
        self.iterations += run.iterations;
        self.most_in_flight = self.most_in_flight.max(run.most_in_flight);
    }

    /// Items per second of the fastest run.
    fn items_per_s(&self, items: usize) -> f64 {
        self.best
            .map_or(f64::NAN, |best| items as f64 / best.as_secs_f64())
    }

    /// Burn loop iterations per second over all runs.
    fn iterations_per_s(&self) -> f64 {
        self.iterations as f64 / self.elapsed.as_secs_f64()
    }
}

/// Items per second through pools of 1 and 2 workers, fed by
/// [`SUBMITTERS`] tasks.
async fn pool_scaling(items: usize, rounds: usize) -> Result<(), BoxError> {
    let one = fixture_pool(fixture()?, 1)?;
    let two = fixture_pool(fixture()?, 2)?;
    warm_pool(&one, 1, "burn").await?;
    warm_pool(&two, 2, "burn").await?;
    let (mut runs_one, mut runs_two) = (BurnRuns::default(), BurnRuns::default());
    for round in 1..=rounds {
        let run_one = burn_through(&one, items).await?;
        let run_two = burn_through(&two, items).await?;
        println!(
            "  run {round}: 1 worker {:.1} items/s, 2 workers {:.1} items/s",
            items as f64 / run_one.elapsed.as_secs_f64(),
            items as f64 / run_two.elapsed.as_secs_f64()
        );
        runs_one.add(&run_one);
        runs_two.add(&run_two);
    }
    one.shutdown().await;
    two.shutdown().await;
    let ratio = runs_two.items_per_s(items) / runs_one.items_per_s(items);
    let cpu_ratio = runs_two.iterations_per_s() / runs_one.iterations_per_s();
    for (workers, runs) in [(1, &runs_one), (2, &runs_two)] {
        println!(
            "  {workers} worker{} {:>7.1} items/s  {:>6.1} M burn iterations/s  peak leases in flight {}  (Burn {{ millis: {BURN_MILLIS} }}, {SUBMITTERS} submitters)",
            if workers == 1 { " " } else { "s" },
            runs.items_per_s(items),
            runs.iterations_per_s() / 1e6,
            runs.most_in_flight
        );
    }
    println!("  ratio     {ratio:.3}  (items/s of the best runs, 2 workers over 1; target >= 1.8)");
    println!(
        "  cpu ratio {cpu_ratio:.3}  (burn iterations/s over all runs, 2 workers over 1: whether each lease had a core)"
    );
    result(
        "pool_items_per_s_1",
        round1(runs_one.items_per_s(items)),
        "items/s",
    );
    result(
        "pool_items_per_s_2",
        round1(runs_two.items_per_s(items)),
        "items/s",
    );
    result("pool_scaling_ratio", round3(ratio), "x");
    result("pool_cpu_scaling_ratio", round3(cpu_ratio), "x");
    Ok(())
}

/// One warm reuse run's outcome.
struct EchoRun {
    elapsed: Duration,
    /// The time of every item but the first.
    after_first: Duration,
    /// Sessions the run opened.
    opens: u64,
}

/// `items` leases one after another, on the keys `key` gives each item;
/// each runs one `Echo`.
async fn echo_through(
    pool: &Pool<String>,
    items: usize,
    key: impl Fn(usize) -> String,
) -> Result<EchoRun, BoxError> {
    let echo = Echo {
        text: "warm?".to_owned(),
    };
    let sessions = pool.snapshot().leases.sessions_opened;
    let started = Instant::now();
    let mut first = None;
    for item in 0..items {
        let mut lease = pool.acquire(key(item)).await?;
        lease.call(&echo).await?;
        drop(lease);
        first.get_or_insert_with(Instant::now);
    }
    let ended = Instant::now();
    Ok(EchoRun {
        elapsed: ended - started,
        after_first: first.map_or(Duration::ZERO, |first| ended - first),
        opens: pool.snapshot().leases.sessions_opened - sessions,
    })
}

/// Items sharing one key (one session open, then warm leases) against
/// items with a key each (a session open per item).
async fn warm_reuse(items: usize, rounds: usize) -> Result<(), BoxError> {
    let builder = fixture()?.env(
        bulkhead_fixture::SESSION_COST_ENV,
        SESSION_COST_MS.to_string(),
    );
    let pool = fixture_pool(builder, 1)?;
    // Start the worker, untimed; its session is for neither side.
    warm_pool(&pool, 1, "warm-up").await?;
    let (mut warm, mut cold, mut steady) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for round in 1..=rounds {
        let shared = echo_through(&pool, items, |_| format!("shared-{round}")).await?;
        let own = echo_through(&pool, items, |item| format!("own-{round}-{item}")).await?;
        check(shared.opens == 1, "warm reuse opened more than one session")?;
        check(
            own.opens == items as u64,
            "a keyed item did not open its session",
        )?;
        println!(
            "  run {round}: shared key {:.3} ms/item ({} open), key per item {:.3} ms/item ({} opens)",
            shared.elapsed.as_secs_f64() * 1e3 / items as f64,
            shared.opens,
            own.elapsed.as_secs_f64() * 1e3 / items as f64,
            own.opens
        );
        warm = warm.min(shared.elapsed);
        steady = steady.min(shared.after_first);
        cold = cold.min(own.elapsed);
    }
    let snapshot = pool.snapshot();
    pool.shutdown().await;
    let warm_ms = warm.as_secs_f64() * 1e3 / items as f64;
    let steady_ms = steady.as_secs_f64() * 1e3 / items.saturating_sub(1).max(1) as f64;
    let cold_ms = cold.as_secs_f64() * 1e3 / items as f64;
    let speedup = cold.as_secs_f64() / warm.as_secs_f64();
    println!(
        "  warm     {warm_ms:>8.3} ms/item  (one key: acquire + Echo + drop, one {SESSION_COST_MS} ms open amortised over {items} items)"
    );
    println!(
        "           {steady_ms:>8.3} ms/item  (the same after the first item: a warm lease and an Echo)"
    );
    println!(
        "  baseline {cold_ms:>8.3} ms/item  (a key per item: every acquire opens a {SESSION_COST_MS} ms session)"
    );
    println!(
        "  speedup  {speedup:>8.1} x        (bounded by the {items} items sharing one open; {} warm hits, {} sessions opened over the section)",
        snapshot.leases.warm_hits, snapshot.leases.sessions_opened
    );
    result("warm_reuse_ms_per_item", round3(warm_ms), "ms");
    result("session_per_item_ms", round3(cold_ms), "ms");
    result("warm_reuse_speedup", round1(speedup), "x");
    Ok(())
}
