//! The futures callers spawn onto multi-threaded runtimes are `Send`.

use bulkhead::pool::{Lease, Pool};
use bulkhead::{Sink, Worker};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(response = String)]
struct Echo {
    text: String,
}

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(row = u64, summary = u64)]
struct Count {
    to: u64,
}

fn send<T: Send>(_: T) {}

/// Never called: it only has to compile.
#[allow(dead_code)]
fn worker_pool_and_lease_futures_are_send(
    worker: &mut Worker,
    pool: &Pool<String>,
    lease: &mut Lease<String>,
    sink: impl Sink<bulkhead::Row<u64>>,
) {
    let echo = Echo { text: "hi".into() };
    send(worker.call(&echo));
    send(worker.shutdown());
    send(worker.cycle());
    send(pool.acquire("key".to_owned()));
    send(pool.shutdown());
    send(lease.call(&echo));
    send(lease.stream(&Count { to: 3 }, sink));
    send(pool.call("key".to_owned(), &echo));
    send(pool.stream("key".to_owned(), &Count { to: 3 }, Vec::new()));
    let items = vec![("key".to_owned(), 1u64), ("other".to_owned(), 2)];
    send(pool.batch(items).run(|lease, to: &u64| {
        Box::pin(async move { lease.stream(&Count { to: *to }, Vec::new()).await })
    }));
    let plan = bulkhead::plan::Planner::new(2)
        .plan([bulkhead::plan::WorkItem::new("a", "key".to_owned(), 1u64)])
        .ok();
    if let Some(plan) = plan {
        send(pool.run_plan(plan, |lease, item| {
            Box::pin(async move {
                lease
                    .call(&Echo {
                        text: item.id.clone(),
                    })
                    .await
            })
        }));
    }
    let mut diagnostics = Vec::new();
    let mut progress = Vec::new();
    send(
        worker
            .request(&echo)
            .diagnostics(&mut diagnostics)
            .progress(&mut progress)
            .call(),
    );
}

#[test]
fn pools_and_leases_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send_only<T: Send>() {}
    send_sync::<Pool<String>>();
    send_only::<Lease<String>>();
    send_only::<Worker>();
    send_sync::<bulkhead::pool::BlockingPool<String>>();
}
