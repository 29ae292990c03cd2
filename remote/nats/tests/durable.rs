//! Durable batches on JetStream, with node agents as separate processes:
//! a node killed mid-batch, poison items, a graceful drain, a NATS server
//! restart. Every item ends with exactly one recorded outcome.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bulkhead::Row;
use bulkhead_fixture::conformance::{ConformanceSleep, Slept};
use bulkhead_fixture::{Abort, Echo, Fail, Item, SleepRows};
use bulkhead_nats::{
    DurableQueue, DurableReport, ItemOutcome, NodeStatus, RemoteError, RemotePool, Subjects,
};
use common::{Node, Server, patient, service, watchdog};
use futures_util::StreamExt;

const KEY: &str = "plain";

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:03}")).collect()
}

async fn queue(server: &Server, name: &str) -> DurableQueue {
    let client = server
        .options()
        .connect("batch client")
        .await
        .expect("connects");
    DurableQueue::open(&client, Subjects::new(name).expect("a name"))
        .await
        .expect("the stream and buckets")
}

async fn submit_sleeps(queue: &DurableQueue, batch: &str, items: &[String], ms: u64) {
    let commands = items
        .iter()
        .map(|id| (id.clone(), KEY.to_owned(), ConformanceSleep { ms }));
    let stored = queue.submit(batch, commands).await.expect("submitted");
    assert_eq!(stored, items.len());
}

/// Every item succeeded, its outcome was written once, and nothing is
/// left in the work queue.
async fn assert_exactly_once(
    queue: &DurableQueue,
    batch: &str,
    items: &[String],
    report: &DurableReport,
    ms: u64,
) {
    assert_eq!(report.records.len(), items.len());
    for id in items {
        let slept = report
            .output::<ConformanceSleep>(id)
            .expect("succeeded")
            .expect("decodes");
        assert_eq!(slept, Slept { slept_ms: ms }, "item {id}");
        assert_eq!(
            queue.writes(batch, id).await.expect("a history"),
            1,
            "item {id}"
        );
    }
    assert_eq!(queue.pending().await.expect("the stream's state"), 0);
}

fn node_running(id: &'static str) -> impl Fn(&[NodeStatus]) -> bool {
    move |nodes| nodes.iter().any(|n| n.node == id && n.running > 0)
}

#[test]
fn a_node_killed_mid_batch_loses_nothing_and_each_item_is_recorded_once() {
    let Some(server) = Server::start("kill") else {
        return;
    };
    let name = service("kill");
    let durable = ["--durable", "--ack-wait-secs", "2", "--max-attempts", "3"];
    let mut a = Node::start(&server, &name, "kill-a", &durable);
    let _b = Node::start(&server, &name, "kill-b", &durable);
    let _c = Node::start(&server, &name, "kill-c", &durable);
    watchdog(async {
        let pool: RemotePool<String> = server.client(&name, patient(), 3).await;
        let queue = queue(&server, &name).await;
        let items = ids("k", 36);
        submit_sleeps(&queue, "kill", &items, 400).await;
        // Plain requests in flight as well.
        let streams: Vec<_> = (0..4)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut rows: Vec<Row<Item>> = Vec::new();
                    let outcome = pool
                        .stream(
                            KEY.into(),
                            &SleepRows {
                                rows: 300,
                                every_ms: 10,
                            },
                            &mut rows,
                        )
                        .await;
                    (outcome, rows.len())
                })
            })
            .collect();
        assert!(
            pool.wait_for(node_running("kill-a"), Duration::from_secs(30))
                .await
        );
        a.kill();
        let report = queue
            .wait("kill", items.clone(), Duration::from_secs(60))
            .await
            .expect("every item ends");
        assert_exactly_once(&queue, "kill", &items, &report, 400).await;
        let redelivered = report.records.values().filter(|r| r.deliveries > 1).count();
        assert!(
            redelivered > 0,
            "the killed node's items were delivered again"
        );
        assert!(
            report
                .records
                .values()
                .all(|r| r.node != "kill-a" || r.deliveries == 1)
        );
        for stream in streams {
            match stream.await.expect("joins") {
                (Ok(summary), rows) => assert_eq!((summary.rows, rows), (300, 300)),
                (Err(RemoteError::NodeLost { node, .. }), _) => assert_eq!(node, "kill-a"),
                (Err(other), _) => panic!("a plain request failed otherwise: {other}"),
            }
        }
    });
}

#[test]
fn an_item_that_ends_its_child_every_time_is_recorded_as_poison() {
    let Some(server) = Server::start("poison") else {
        return;
    };
    let name = service("poison");
    let _a = Node::start(
        &server,
        &name,
        "poison-a",
        &["--durable", "--max-attempts", "2"],
    );
    watchdog(async {
        let _pool: RemotePool<String> = server.client(&name, patient(), 1).await;
        let queue = queue(&server, &name).await;
        let key = || KEY.to_owned();
        let echo = |text: &str| Echo { text: text.into() };
        queue
            .submit("p", [("good-1".into(), key(), echo("one"))])
            .await
            .expect("submitted");
        let abort = Abort {
            message: "poisoned input".into(),
        };
        queue
            .submit("p", [("abort".into(), key(), abort)])
            .await
            .expect("submitted");
        let fail = Fail {
            message: "refused".into(),
            code: 3,
        };
        queue
            .submit("p", [("fail".into(), key(), fail)])
            .await
            .expect("submitted");
        queue
            .submit("p", [("good-2".into(), key(), echo("two"))])
            .await
            .expect("submitted");
        // An item that is not one: published straight onto the stream.
        let raw = server.options().connect("raw").await.expect("connects");
        let subject = Subjects::new(&name).expect("a name").item("p", "garbage");
        raw.publish(subject, "{not json".into())
            .await
            .expect("published");
        raw.flush().await.expect("flushed");

        let items = ["good-1", "abort", "fail", "good-2", "garbage"].map(String::from);
        let report = queue
            .wait("p", items.clone(), Duration::from_secs(60))
            .await
            .expect("every item ends");
        assert_eq!(
            report
                .output::<Echo>("good-1")
                .expect("ok")
                .expect("decodes"),
            "one"
        );
        assert_eq!(
            report
                .output::<Echo>("good-2")
                .expect("ok")
                .expect("decodes"),
            "two"
        );
        assert_eq!(report.counts(), (2, 2, 1));

        let abort = &report.records["abort"];
        assert_eq!(abort.deliveries, 2);
        let ItemOutcome::Poison { last, attempts } = &abort.outcome else {
            panic!("the abort is poison: {abort:?}");
        };
        assert_eq!(attempts.len(), 2);
        assert_eq!(last.kind, "child_exited");
        let exit = last.exit.as_ref().expect("its exit");
        assert_eq!(exit.signal_name.as_deref(), Some("SIGABRT"));
        assert!(
            last.stderr_tail
                .as_deref()
                .unwrap_or_default()
                .contains("poisoned input")
        );

        let fail = &report.records["fail"];
        assert_eq!(fail.deliveries, 1, "a handler error is not retried");
        let ItemOutcome::Failed(failure) = &fail.outcome else {
            panic!("failed: {fail:?}")
        };
        assert_eq!(failure.kind, "remote");

        let ItemOutcome::Failed(garbage) = &report.records["garbage"].outcome else {
            panic!("garbage fails")
        };
        assert_eq!(garbage.kind, "bad_item");
        for item in &items {
            assert_eq!(queue.writes("p", item).await.expect("a history"), 1);
        }
        assert_eq!(queue.pending().await.expect("the stream's state"), 0);
    });
}

#[test]
fn a_drained_node_finishes_what_it_runs_and_loses_nothing() {
    let Some(server) = Server::start("drain") else {
        return;
    };
    let name = service("drain");
    let mut a = Node::start(&server, &name, "drain-a", &["--durable"]);
    let _b = Node::start(&server, &name, "drain-b", &["--durable"]);
    watchdog(async {
        let pool: RemotePool<String> = server.client(&name, patient(), 2).await;
        let queue = queue(&server, &name).await;
        let items = ids("d", 24);
        submit_sleeps(&queue, "drain", &items, 300).await;
        let calls = tokio::spawn({
            let pool = pool.clone();
            async move {
                let calls = (0..12).map(|_| (KEY.to_owned(), ConformanceSleep { ms: 300 }));
                pool.run(calls, 4).await
            }
        });
        assert!(
            pool.wait_for(node_running("drain-a"), Duration::from_secs(30))
                .await
        );
        let status = tokio::task::spawn_blocking(move || {
            let status = a.terminate();
            drop(a);
            status
        })
        .await
        .expect("joins");
        assert!(status.success(), "the drained node exits cleanly: {status}");
        for outcome in calls.await.expect("joins") {
            assert_eq!(outcome.expect("no call is lost"), Slept { slept_ms: 300 });
        }
        let report = queue
            .wait("drain", items.clone(), Duration::from_secs(60))
            .await
            .expect("every item ends");
        assert_exactly_once(&queue, "drain", &items, &report, 300).await;
        let by_a = report
            .records
            .values()
            .filter(|r| r.node == "drain-a")
            .count();
        assert!(by_a > 0, "the drained node recorded what it ran");
    });
}

#[test]
fn a_nats_server_restart_mid_batch_loses_nothing() {
    let Some(mut server) = Server::start("restart") else {
        return;
    };
    let name = service("restart");
    let _a = Node::start(
        &server,
        &name,
        "restart-a",
        &["--durable", "--ack-wait-secs", "2"],
    );
    let _b = Node::start(
        &server,
        &name,
        "restart-b",
        &["--durable", "--ack-wait-secs", "2"],
    );
    watchdog(async {
        let pool: RemotePool<String> = server.client(&name, patient(), 2).await;
        let queue = queue(&server, &name).await;
        let items = ids("r", 30);
        submit_sleeps(&queue, "restart", &items, 200).await;
        let started = |nodes: &[NodeStatus]| nodes.iter().filter(|n| n.running > 0).count() == 2;
        assert!(pool.wait_for(started, Duration::from_secs(30)).await);
        server.restart();
        let report = queue
            .wait("restart", items.clone(), Duration::from_secs(75))
            .await
            .expect("every item ends after the restart");
        assert_exactly_once(&queue, "restart", &items, &report, 200).await;
    });
}

#[test]
fn a_node_that_cannot_start_its_child_gives_items_back_and_none_is_poison() {
    let Some(server) = Server::start("broken") else {
        return;
    };
    let name = service("broken");
    let missing =
        std::env::temp_dir().join(format!("bulkhead-no-such-child-{}", std::process::id()));
    let _broken = Node::start_serving(
        &server,
        &name,
        "broken-a",
        &["--durable", "--max-attempts", "2"],
        &missing,
    );
    watchdog(async {
        let queue = queue(&server, &name).await;
        let items = ids("b", 6);
        submit_sleeps(&queue, "broken", &items, 10).await;
        // Wait until the broken node has given an item back.
        let client = server.options().connect("watcher").await.expect("connects");
        let js = async_nats::jetstream::new(client);
        let attempts = Subjects::new(&name).expect("a name").attempts_bucket();
        let bucket = js
            .get_key_value(attempts)
            .await
            .expect("the attempts bucket");
        let mut watch = bucket
            .watch_with_history("broken.>")
            .await
            .expect("a watch");
        loop {
            let entry = watch.next().await.expect("an entry").expect("readable");
            let history: serde_json::Value = serde_json::from_slice(&entry.value).expect("JSON");
            if history["given_back"].as_u64().unwrap_or(0) > 0 {
                assert_eq!(
                    history["failures"].as_array().map(Vec::len),
                    Some(0),
                    "{history}"
                );
                break;
            }
        }
        // A healthy node does them all; the broken one's refusals did not
        // count against the items.
        let _healthy = Node::start(
            &server,
            &name,
            "broken-b",
            &["--durable", "--max-attempts", "2"],
        );
        let report = queue
            .wait("broken", items.clone(), Duration::from_secs(60))
            .await
            .expect("every item ends");
        assert_exactly_once(&queue, "broken", &items, &report, 10).await;
        assert!(report.records.values().all(|r| r.node == "broken-b"));
    });
}
