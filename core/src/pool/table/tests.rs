//! The table alone, without processes: picks, the queue, refusals and
//! the snapshot.

use super::*;

fn table(workers: usize, queue: usize) -> Table<String> {
    Table::new(workers, queue, None)
}

fn key(name: &str) -> String {
    name.to_owned()
}

/// Puts slot `index` in back-off until `until`.
fn back_off(table: &mut Table<String>, index: usize, until: Instant, crash_loop: bool) {
    let backoff = BackedOff {
        until,
        crash_loop,
        error: Arc::new(crate::WorkerError::Closed),
    };
    table.recovering(index, &WorkerStats::default(), Some(backoff));
}

/// Queues an acquirer for `name`; it waits as long as the receiver
/// returned is kept.
fn waiter(
    table: &mut Table<String>,
    name: &str,
    deadline: Instant,
) -> oneshot::Receiver<Result<Seat<String>, PoolError>> {
    let (reply, granted) = oneshot::channel();
    table.enqueue(key(name), reply, deadline).unwrap();
    granted
}

#[test]
fn an_empty_pool_starts_a_worker_for_the_first_acquirer() {
    let mut table = table(2, 8);
    let later = Instant::now() + Duration::from_secs(1);
    let grant = table.try_grant(&key("a"), later).unwrap().unwrap();
    assert_eq!((grant.index, grant.parked.is_none()), (0, true));
    let second = table.try_grant(&key("b"), later).unwrap().unwrap();
    assert_eq!(second.index, 1);
    assert!(table.try_grant(&key("c"), later).unwrap().is_none());
    assert_eq!(table.snapshot().starting, 2);
}

#[test]
fn waiters_are_served_in_arrival_order() {
    let mut table = table(1, 8);
    let later = Instant::now() + Duration::from_secs(1);
    let grant = table.try_grant(&key("a"), later).unwrap().unwrap();
    let _b = waiter(&mut table, "b", later);
    let _c = waiter(&mut table, "c", later);
    // Newcomers queue behind the waiters even when a slot is free.
    table.put_back(grant.index, None);
    assert!(table.try_grant(&key("d"), later).unwrap().is_none());
    let answers = table.dispatch();
    assert_eq!(answers.len(), 1);
    assert!(matches!(answers[0].grant, Ok(Grant { index: 0, .. })));
    assert_eq!(table.snapshot().queue_depth, 1);
}

#[test]
fn a_full_queue_refuses_at_once() {
    let mut table = table(1, 1);
    let later = Instant::now() + Duration::from_secs(1);
    table.try_grant(&key("a"), later).unwrap().unwrap();
    let _b = waiter(&mut table, "b", later);
    let (reply, _granted) = oneshot::channel();
    let refused = table.enqueue(key("c"), reply, later).unwrap_err();
    assert!(
        matches!(
            refused,
            PoolError::Exhausted {
                workers: 1,
                queued: 1
            }
        ),
        "{refused:?}"
    );
}

#[test]
fn every_worker_backing_off_from_a_crash_loop_refuses_at_once() {
    let mut table = table(2, 8);
    let now = Instant::now();
    back_off(&mut table, 0, now + Duration::from_millis(100), true);
    back_off(&mut table, 1, now + Duration::from_millis(200), true);
    let refused = table
        .try_grant(&key("a"), now + Duration::from_secs(30))
        .unwrap_err();
    let PoolError::BackingOff {
        workers: 2,
        retry_after,
        ..
    } = refused
    else {
        panic!("{refused:?}");
    };
    assert!(retry_after <= Duration::from_millis(100));
    let snapshot = table.snapshot();
    assert_eq!(snapshot.backing_off, 2);
    assert!(
        snapshot
            .next_retry
            .is_some_and(|next| next <= Duration::from_millis(100))
    );
}

#[test]
fn a_back_off_that_ends_in_time_keeps_the_acquirer_waiting() {
    let mut table = table(1, 8);
    let now = Instant::now();
    back_off(&mut table, 0, now + Duration::from_millis(100), false);
    assert!(
        table
            .try_grant(&key("a"), now + Duration::from_secs(1))
            .unwrap()
            .is_none()
    );
    let refused = table.try_grant(&key("a"), now + Duration::from_millis(50));
    assert!(
        matches!(refused, Err(PoolError::BackingOff { .. })),
        "{refused:?}"
    );
}

#[test]
fn a_waiter_is_refused_once_every_worker_backs_off_for_good() {
    let mut table = table(1, 8);
    let now = Instant::now();
    let grant = table.try_grant(&key("a"), now).unwrap().unwrap();
    let _b = waiter(&mut table, "b", now + Duration::from_secs(1));
    // The worker out with a lease comes back broken and trips its
    // crash-loop guard: nothing will serve the waiter.
    back_off(&mut table, grant.index, now + Duration::from_secs(5), true);
    let answers = table.dispatch();
    assert_eq!(answers.len(), 1);
    assert!(matches!(
        answers[0].grant,
        Err(PoolError::BackingOff { .. })
    ));
    assert_eq!((table.snapshot().queue_depth, table.leases.refused), (0, 1));
}

#[test]
fn closing_refuses_every_waiter_and_grants_nothing() {
    let mut table = table(1, 8);
    let later = Instant::now() + Duration::from_secs(1);
    let grant = table.try_grant(&key("a"), later).unwrap().unwrap();
    let _b = waiter(&mut table, "b", later);
    let answers = table.close();
    assert!(matches!(
        answers[..],
        [Answer {
            grant: Err(PoolError::ShuttingDown),
            ..
        }]
    ));
    table.put_back(grant.index, None);
    assert!(table.try_grant(&key("c"), later).unwrap().is_none());
}

#[test]
fn a_timed_out_acquirer_is_told_what_kept_it_out() {
    let waited = Duration::from_secs(1);
    let mut table = table(1, 8);
    table.try_grant(&key("a"), Instant::now()).unwrap().unwrap();
    assert!(matches!(
        table.timeout_error(waited),
        PoolError::QueueTimeout { .. }
    ));
    back_off(&mut table, 0, Instant::now() + waited, false);
    assert!(matches!(
        table.timeout_error(waited),
        PoolError::BackingOff { .. }
    ));
    // A budget no child fits in keeps the empty slot empty.
    let mut table: Table<String> = Table::new(1, 8, Some(0));
    table.largest_startup = 1;
    assert!(
        table
            .try_grant(&key("a"), Instant::now())
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        table.timeout_error(waited),
        PoolError::MemoryBudget { budget: 0, .. }
    ));
}

#[test]
fn a_slot_being_replaced_counts_as_a_worker_and_holds_the_estimate() {
    let mut table: Table<String> = Table::new(2, 8, Some(100));
    table.largest_startup = 60;
    table.recovering(0, &WorkerStats::default(), None);
    let snapshot = table.snapshot();
    assert_eq!((snapshot.replacing, snapshot.workers()), (1, 1));
    // The replacement's estimate leaves no room for a second child.
    assert!(
        table
            .try_grant(&key("a"), Instant::now())
            .unwrap()
            .is_none()
    );
}
