//! Requests through node agents running as separate processes, against a
//! real `nats-server`: calls, streams, typed failures, session affinity,
//! flow control, bad input.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bulkhead::{Row, Sink, SinkError};
use bulkhead_fixture::{
    Abort, Balloon, BigRow, Count, Echo, Fail, Inject, Item, Segfault, Session, SessionState, Spin,
};
use bulkhead_nats::{RemoteError, RemotePool};
use common::{Node, Server, echo, patient, service, watchdog};
use futures_util::StreamExt;

/// The session key of the tests that need one key only.
fn key() -> String {
    "plain".to_owned()
}

#[test]
fn calls_and_streams_reach_the_sink_in_order_and_once() {
    let Some(server) = Server::start("calls") else {
        return;
    };
    let name = service("calls");
    let _a = Node::start(&server, &name, "calls-a", &[]);
    let _b = Node::start(&server, &name, "calls-b", &[]);
    watchdog(async {
        let pool: RemotePool<String> = server.client(&name, patient().credits(32), 2).await;
        let echoed = echo(&pool, "across the wire").await;
        assert_eq!(echoed.expect("echo"), "across the wire");

        let mut rows: Vec<Row<Item>> = Vec::new();
        let summary = pool
            .stream(
                key(),
                &Count {
                    n: 5_000,
                    progress_every: 100,
                    diagnostic_every: 1_000,
                },
                &mut rows,
            )
            .await
            .expect("the stream ends well");
        assert_eq!(summary.rows, 5_000);
        assert_eq!(summary.value.emitted, 5_000);
        assert_eq!(rows.len(), 5_000);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.seq, i as u64, "rows arrive in order, each once");
            assert_eq!(row.value, Item::new(i as u64));
        }

        // Many at once, spread over both nodes.
        let items = (0..40).map(|i| {
            (
                key(),
                Echo {
                    text: format!("item {i}"),
                },
            )
        });
        let outcomes = pool.run(items, 8).await;
        for (i, outcome) in outcomes.into_iter().enumerate() {
            assert_eq!(outcome.expect("every call succeeds"), format!("item {i}"));
        }
    });
}

#[test]
fn failures_keep_their_classification_across_the_wire() {
    let Some(server) = Server::start("failures") else {
        return;
    };
    let name = service("failures");
    let _node = Node::start(
        &server,
        &name,
        "failures-a",
        &["--timeout-secs", "1", "--rss-limit-mib", "96"],
    );
    watchdog(async {
        let pool: RemotePool<String> = server.client(&name, patient(), 1).await;
        let failure = |error: RemoteError| {
            assert_eq!(error.node(), Some("failures-a"), "{error}");
            error
                .failure()
                .cloned()
                .unwrap_or_else(|| panic!("a node failure, not {error}"))
        };

        let abort = pool
            .call(
                key(),
                &Abort {
                    message: "remote abort".into(),
                },
            )
            .await;
        let abort = failure(abort.expect_err("the child aborts"));
        assert_eq!(abort.kind, "child_exited");
        let exit = abort.exit.expect("the exit is kept");
        assert_eq!(exit.signal_name.as_deref(), Some("SIGABRT"));
        assert!(
            abort
                .stderr_tail
                .unwrap_or_default()
                .contains("remote abort")
        );
        assert!(abort.message.contains("SIGABRT"), "{}", abort.message);

        let segv = failure(
            pool.call(key(), &Segfault {})
                .await
                .expect_err("the child crashes"),
        );
        assert_eq!(
            segv.exit.and_then(|e| e.signal_name).as_deref(),
            Some("SIGSEGV")
        );

        let spin = failure(
            pool.call(key(), &Spin {})
                .await
                .expect_err("the child spins"),
        );
        assert_eq!(spin.kind, "timeout");
        assert_eq!(spin.limit_ms, Some(1_000));

        let leak = failure(
            pool.call(key(), &Balloon { mib: 400 })
                .await
                .expect_err("too big"),
        );
        assert_eq!(leak.kind, "memory_limit", "{}", leak.message);
        assert_eq!(
            leak.memory.expect("the limit is kept").limit,
            96 * 1024 * 1024
        );

        let garbage = Inject {
            before: 2,
            bytes: vec![0, 0, 0, 4, 0xff, 1, 2, 3],
            exit: false,
        };
        let mut rows: Vec<Row<Item>> = Vec::new();
        let framing = pool
            .stream(key(), &garbage, &mut rows)
            .await
            .expect_err("bad frames");
        let framing = failure(framing);
        assert_eq!(framing.kind, "frame", "{}", framing.message);
        assert_eq!(framing.rows_delivered, 2);
        assert_eq!(rows.len(), 2, "the good rows came before the failure");

        // A row the worker takes but NATS would not carry in one message.
        let mut big: Vec<Row<String>> = Vec::new();
        let huge = BigRow { bytes: 1_500_000 };
        let too_large = failure(
            pool.stream(key(), &huge, &mut big)
                .await
                .expect_err("too big"),
        );
        assert_eq!(too_large.kind, "too_large", "{}", too_large.message);
        assert!(
            too_large
                .message
                .contains("more than the NATS server takes in one message")
        );

        let fail = Fail {
            message: "no such lemma".into(),
            code: 7,
        };
        let handler = failure(pool.call(key(), &fail).await.expect_err("a handler error"));
        assert_eq!(handler.kind, "remote");
        let remote = handler.remote.expect("the child's error is kept");
        assert_eq!(remote.message, "no such lemma");
        assert_eq!(remote.detail.expect("with its detail")["code"], 7);

        // After all that, the node still serves.
        let echoed = echo(&pool, "still here").await;
        assert_eq!(echoed.expect("the node recovered"), "still here");
    });
}

#[test]
fn requests_for_a_key_go_to_a_node_warm_for_it() {
    let Some(server) = Server::start("affinity") else {
        return;
    };
    let name = service("affinity");
    let _a = Node::start(&server, &name, "affinity-a", &["--workers", "1"]);
    let _b = Node::start(&server, &name, "affinity-b", &["--workers", "1"]);
    watchdog(async {
        let pool: RemotePool<String> = server.client(&name, patient(), 2).await;
        let first: SessionState = pool.call("alpha".into(), &Session {}).await.expect("opens");
        assert_eq!(first.opens, 1);
        let warm = |nodes: &[bulkhead_nats::NodeStatus]| {
            nodes
                .iter()
                .any(|n| n.warm.iter().any(|(key, _)| key.text() == "\"alpha\""))
                && nodes.iter().all(|n| n.leased == 0)
        };
        assert!(
            pool.wait_for(warm, Duration::from_secs(10)).await,
            "no node says it is warm"
        );
        for _ in 0..10 {
            let state = pool
                .call("alpha".into(), &Session {})
                .await
                .expect("a warm call");
            assert_eq!(state.opens, 1, "the warm child served it, no new open");
        }
        let counted = |nodes: &[bulkhead_nats::NodeStatus]| {
            nodes.iter().map(|n| n.warm_hits).sum::<u64>() >= 10
        };
        assert!(
            pool.wait_for(counted, Duration::from_secs(10)).await,
            "{:?}",
            pool.nodes()
        );
        let nodes = pool.nodes();
        let opened: u64 = nodes.iter().map(|n| n.sessions_opened).sum();
        assert_eq!(opened, 1, "one session was opened in all: {nodes:?}");
    });
}

/// Takes `open` rows, then is not ready until `release` is set.
struct Stalling {
    taken: Arc<AtomicU64>,
    open: u64,
    release: Arc<AtomicBool>,
    waker: Arc<std::sync::Mutex<Option<std::task::Waker>>>,
}

impl Sink<Row<Item>> for Stalling {
    fn send(&mut self, row: Row<Item>) -> Result<(), SinkError> {
        let expected = self.taken.fetch_add(1, Ordering::SeqCst);
        if row.seq == expected && row.value == Item::new(expected) {
            Ok(())
        } else {
            Err(SinkError::custom(format!(
                "row {} came where row {expected} was due",
                row.seq
            )))
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        if self.taken.load(Ordering::SeqCst) < self.open || self.release.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        *self.waker.lock().expect("the waker") = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn a_slow_sink_slows_the_child_and_memory_stays_bounded() {
    let Some(server) = Server::start("backpressure") else {
        return;
    };
    let name = service("backpressure");
    let node = Node::start(&server, &name, "backpressure-a", &[]);
    let credits = 64;
    watchdog(async {
        let pool: RemotePool<String> = server.client(&name, patient().credits(credits), 1).await;
        let taken = Arc::new(AtomicU64::new(0));
        let release = Arc::new(AtomicBool::new(false));
        let waker = Arc::new(std::sync::Mutex::new(None::<std::task::Waker>));
        let sink = Stalling {
            taken: taken.clone(),
            open: 1_000,
            release: release.clone(),
            waker: waker.clone(),
        };
        let total = 100_000;
        let stream = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.stream(
                    key(),
                    &Count {
                        n: total,
                        progress_every: 0,
                        diagnostic_every: 0,
                    },
                    sink,
                )
                .await
            }
        });
        // While the sink is stalled, heartbeat after heartbeat, the node
        // publishes no more than the credit it was given.
        let stalled = |nodes: &[bulkhead_nats::NodeStatus]| nodes.iter().any(|n| n.events >= 1_000);
        assert!(
            pool.wait_for(stalled, Duration::from_secs(30)).await,
            "no rows came"
        );
        let mut published = Vec::new();
        for _ in 0..5 {
            let beat = pool.nodes()[0].beat;
            let next = |nodes: &[bulkhead_nats::NodeStatus]| nodes[0].beat > beat;
            assert!(
                pool.wait_for(next, Duration::from_secs(5)).await,
                "no heartbeat"
            );
            published.push(pool.nodes()[0].events);
        }
        let events = *published.last().expect("samples");
        assert_eq!(taken.load(Ordering::SeqCst), 1_000);
        // One accepted event, the rows the sink took, and at most one
        // window ahead of it.
        assert!(
            events <= 1 + 1_000 + credits,
            "the node ran ahead of its credit: {published:?}"
        );
        let rss = rss_kib(node.pid());
        release.store(true, Ordering::SeqCst);
        if let Some(waker) = waker.lock().expect("the waker").take() {
            waker.wake();
        }
        let summary = stream.await.expect("joins").expect("the stream ends well");
        assert_eq!(summary.rows, total);
        assert_eq!(taken.load(Ordering::SeqCst), total);
        let peak = peak_kib(node.pid());
        eprintln!(
            "events published while stalled: {published:?}; node RSS {rss} KiB, peak {peak} KiB"
        );
        // 100,000 rows are about 12 MiB of JSON; the node never held more
        // than a window of them.
        assert!(
            peak < rss + 8 * 1024,
            "the node grew from {rss} KiB to a peak of {peak} KiB"
        );
    });
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the node's status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a figure in kB")
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

fn peak_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

#[test]
fn bad_messages_get_typed_answers_and_lose_nothing() {
    let Some(server) = Server::start("bad") else {
        return;
    };
    let name = service("bad");
    let _node = Node::start(&server, &name, "bad-a", &[]);
    watchdog(async {
        let subjects = bulkhead_nats::Subjects::new(&name).expect("a name");
        let raw = server.options().connect("raw").await.expect("connects");
        // Garbage where requests, control messages and heartbeats go.
        for subject in [
            subjects.requests(),
            subjects.node_control("bad-a"),
            subjects.heartbeat("bad-a"),
        ] {
            raw.publish(subject, "\u{0}not json".into())
                .await
                .expect("published");
        }
        // A request that names its reply but is otherwise wrong.
        let inbox = raw.new_inbox();
        let mut replies = raw.subscribe(inbox.clone()).await.expect("subscribed");
        let body = serde_json::json!({ "id": "x-1", "reply": inbox, "command": 7 });
        raw.publish(subjects.requests(), body.to_string().into())
            .await
            .expect("published");
        let reply = replies.next().await.expect("an answer");
        let event: serde_json::Value = serde_json::from_slice(&reply.payload).expect("JSON");
        assert_eq!(event["seq"], 0);
        assert_eq!(event["body"]["failed"]["kind"], "bad_request", "{event}");
        let message = event["body"]["failed"]["message"]
            .as_str()
            .expect("a message");
        assert!(
            message.starts_with("node bad-a could not read the request"),
            "{message}"
        );

        // An unknown command is the child's typed refusal.
        let inbox = raw.new_inbox();
        let mut replies = raw.subscribe(inbox.clone()).await.expect("subscribed");
        let job = serde_json::json!({
            "id": "x-2", "reply": inbox, "command": "no.such.command", "args": {},
            "key": "plain", "stream": false, "credits": 4
        });
        raw.publish(subjects.requests(), job.to_string().into())
            .await
            .expect("published");
        let mut events = Vec::new();
        while let Some(reply) = replies.next().await {
            let event: serde_json::Value = serde_json::from_slice(&reply.payload).expect("JSON");
            let done = event["body"].get("failed").is_some() || event["body"].get("done").is_some();
            events.push(event);
            if done {
                break;
            }
        }
        assert_eq!(events[0]["body"]["accepted"]["node"], "bad-a");
        let failed = &events[1]["body"]["failed"];
        assert_eq!(failed["kind"], "remote", "{failed}");
        assert_eq!(failed["remote"]["kind"], "unknown_command", "{failed}");

        // A row that does not decode into the caller's type.
        let pool: RemotePool<String> = server.client(&name, patient(), 1).await;
        let mut wrong: Vec<Row<String>> = Vec::new();
        let numbers = NumbersAsStrings { n: 3 };
        let wrong_rows = pool
            .stream(key(), &numbers, &mut wrong)
            .await
            .expect_err("not strings");
        assert_eq!(wrong_rows.kind(), "row_decode", "{wrong_rows}");
        assert!(wrong.is_empty());

        // And the node still serves.
        let echoed = echo(&pool, "fine").await;
        assert_eq!(echoed.expect("still serving"), "fine");
    });
}

/// A command whose rows are numbers, asked for as strings.
#[derive(serde::Serialize, serde::Deserialize, bulkhead::Command)]
#[command(name = "numbers", row = String, summary = u64)]
struct NumbersAsStrings {
    n: u64,
}
