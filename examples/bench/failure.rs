//! How fast the worker gets out of trouble: cancellation, timeouts, crashes.

use std::time::{Duration, Instant};

use bulkhead::sink::from_fn;
use bulkhead::{CancellationToken, Row, Worker, WorkerError};
use bulkhead_fixture::{Abort, Hang, Item, Ping, SleepRows};

use super::{BoxError, check, fixture, percentile, raw_ready, result, round1, round3};

/// Request deadline of the timeout benchmark.
const HANG_TIMEOUT: Duration = Duration::from_millis(50);

pub(crate) async fn failure(reps: usize) -> Result<(), BoxError> {
    let warm_up = 3;
    println!("failure: {reps} repetitions of each after {warm_up} warm-up");
    cancel_cooperative(reps, warm_up).await?;
    timeout_replace(reps, warm_up).await?;
    crash_recovery(reps, warm_up).await
}

/// A worker that neither the restart limit nor the crash-loop guard stops
/// while a benchmark replaces its child dozens of times a second. Both stay
/// armed (at 10 000) but never trip here.
async fn tolerant_worker() -> Result<Worker, BoxError> {
    let mut worker = fixture()?
        .restart_limit(10_000, Duration::from_secs(60))
        .crash_loop_limit(10_000)
        .spawn()
        .await?;
    worker.call(&Ping {}).await?;
    Ok(worker)
}

/// Time from triggering the token (in the sink, at the first row) to the
/// `stream` future returning `Cancelled`, with the child kept warm.
async fn cancel_cooperative(reps: usize, warm_up: usize) -> Result<(), BoxError> {
    let mut worker = fixture()?.spawn().await?;
    worker.call(&Ping {}).await?;
    let generation = worker.generation();
    // Sees cancellation at each row, one row per millisecond: never ends
    // by itself within the benchmark.
    let command = SleepRows {
        rows: 1_000_000,
        every_ms: 1,
    };
    let mut samples = Vec::with_capacity(reps);
    for i in 0..warm_up + reps {
        let token = CancellationToken::new();
        let trigger = token.clone();
        let mut triggered = None;
        let sink = from_fn(|_row: Row<Item>| {
            if triggered.is_none() {
                triggered = Some(Instant::now());
                trigger.cancel();
            }
            Ok(())
        });
        let result = worker.request(&command).cancel(token).stream(sink).await;
        let returned = Instant::now();
        match result {
            Err(WorkerError::Cancelled {
                generation: cancelled_in,
                ..
            }) if cancelled_in == generation => {}
            other => return Err(format!("expected Cancelled, got {other:?}").into()),
        }
        check(
            worker.generation() == generation,
            "cancelling replaced the child",
        )?;
        let triggered = triggered.ok_or("the token was never triggered")?;
        if i >= warm_up {
            samples.push(returned - triggered);
        }
    }
    worker.shutdown().await;
    let median = percentile(&mut samples, 50);
    let p90 = percentile(&mut samples, 90);
    println!(
        "  cancel    median {median:>8.1} us  p90 {p90:>8.1} us  (token triggered at the first row of SleepRows every 1 ms -> Cancelled; target <= 1000 us)"
    );
    result("cancel_cooperative_us", round1(median), "us");
    Ok(())
}

/// From the request deadline to a ready new generation: the timed-out call
/// kills and reaps the child before it returns, and the next `Ping` spawns
/// and handshakes the next generation. The raw spawn plus handshake,
/// measured alongside, is subtracted.
async fn timeout_replace(reps: usize, warm_up: usize) -> Result<(), BoxError> {
    // Each timeout is an unplanned replacement: the limits must not trip.
    let mut worker = tolerant_worker().await?;
    let hang = Hang {
        check_cancel: false,
    };
    let mut kill_reap = Vec::with_capacity(reps);
    let mut next_ping = Vec::with_capacity(reps);
    let mut deadline_to_ready = Vec::with_capacity(reps);
    let mut raw = Vec::with_capacity(reps);
    let mut overshoot = Vec::with_capacity(reps);
    for i in 0..warm_up + reps {
        let generation = worker.generation();
        let started = Instant::now();
        let result = worker.request(&hang).timeout(HANG_TIMEOUT).call().await;
        let returned = Instant::now();
        match result {
            Err(WorkerError::Timeout { .. }) => {}
            other => return Err(format!("expected Timeout, got {other:?}").into()),
        }
        let ping_started = Instant::now();
        worker.call(&Ping {}).await?;
        let ping = ping_started.elapsed();
        check(
            worker.generation() == generation + 1,
            "the timeout did not start a new generation",
        )?;
        let raw_elapsed = raw_ready().await?;
        // How late tokio's timer fires on its own: part of the first figure.
        let slept = Instant::now();
        tokio::time::sleep(HANG_TIMEOUT).await;
        let late = slept.elapsed().saturating_sub(HANG_TIMEOUT);
        if i >= warm_up {
            // The deadline timer starts once the request is written, a few
            // microseconds after `started`: the figure errs on the high side.
            let after_deadline = returned.saturating_duration_since(started + HANG_TIMEOUT);
            kill_reap.push(after_deadline);
            next_ping.push(ping);
            deadline_to_ready.push(after_deadline + ping);
            raw.push(raw_elapsed);
            overshoot.push(late);
        }
    }
    worker.shutdown().await;
    let kill_reap = percentile(&mut kill_reap, 50) / 1e3;
    let next_ping = percentile(&mut next_ping, 50) / 1e3;
    let deadline_to_ready = percentile(&mut deadline_to_ready, 50) / 1e3;
    let raw = percentile(&mut raw, 50) / 1e3;
    let overshoot = percentile(&mut overshoot, 50) / 1e3;
    let replace = deadline_to_ready - raw;
    println!(
        "  timeout   kill+reap  median {kill_reap:.3} ms  (deadline -> Timeout returned: old child killed and reaped, the next one started alongside)"
    );
    println!(
        "            of which   median {overshoot:.3} ms  (a bare tokio::time::sleep(50 ms) firing late)"
    );
    println!("            next Ping  median {next_ping:.3} ms  (on the replacement)");
    println!("            raw ready  median {raw:.3} ms  (spawn + one handshake-sized frame)");
    println!(
        "            replace           {replace:.3} ms  (median of kill+reap + next Ping, minus raw ready; target <= 2 ms)"
    );
    result("timeout_kill_reap_ms", round3(kill_reap), "ms");
    result("timer_overshoot_ms", round3(overshoot), "ms");
    result("timeout_next_ping_ms", round3(next_ping), "ms");
    result("timeout_raw_ready_ms", round3(raw), "ms");
    result("timeout_replace_ms", round3(replace), "ms");
    Ok(())
}

/// From just before sending `Abort` to the return of the next successful
/// `Ping`, which runs on a new generation.
async fn crash_recovery(reps: usize, warm_up: usize) -> Result<(), BoxError> {
    // Each abort is an unplanned replacement: the limits must not trip.
    // The `Ping` that follows each crash is the new generation's first
    // request, so no abort is ever a first-request failure anyway.
    let mut worker = tolerant_worker().await?;
    let abort = Abort {
        message: "bench: aborting on purpose".to_owned(),
    };
    let mut detect = Vec::with_capacity(reps);
    let mut recovery = Vec::with_capacity(reps);
    for i in 0..warm_up + reps {
        let generation = worker.generation();
        let started = Instant::now();
        let result = worker.call(&abort).await;
        let detected = started.elapsed();
        match result {
            Err(WorkerError::ChildExited { .. }) => {}
            other => return Err(format!("expected ChildExited, got {other:?}").into()),
        }
        worker.call(&Ping {}).await?;
        let recovered = started.elapsed();
        check(
            worker.generation() == generation + 1,
            "the crash did not start a new generation",
        )?;
        if i >= warm_up {
            detect.push(detected);
            recovery.push(recovered);
        }
    }
    worker.shutdown().await;
    let detect = percentile(&mut detect, 50) / 1e3;
    let recovery = percentile(&mut recovery, 50) / 1e3;
    println!("  crash     detect     median {detect:.3} ms  (Abort sent -> ChildExited, reaped)");
    println!("            recovery   median {recovery:.3} ms  (Abort sent -> next Ping answered)");
    result("crash_detect_ms", round3(detect), "ms");
    result("crash_recovery_ms", round3(recovery), "ms");
    Ok(())
}
