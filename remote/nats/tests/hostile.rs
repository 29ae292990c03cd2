//! A node that breaks the rules, played by the test over a raw NATS
//! connection: each misdeed reaches the caller as a typed error, and no
//! request waits for ever.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bulkhead::Row;
use bulkhead_nats::wire::{Event, EventBody, Job, NodeStatus};
use bulkhead_nats::{ClientConfig, RemoteError, RemotePool, Subjects};
use common::{Server, service, watchdog};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

/// Misdeeds by command name.
#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(name = "misdeed", row = u64, summary = u64)]
struct Misdeed {
    what: String,
}

fn status(node: &str, beat: u64) -> NodeStatus {
    serde_json::from_value(serde_json::json!({
        "node": node, "version": "0", "incarnation": "fake-1", "beat": beat, "interval_ms": 100, "capacity": 4,
        "leased": 0, "queued": 0, "warm": [], "rss_bytes": 0, "running": 0,
        "events": 0, "warm_hits": 0, "sessions_opened": 0, "draining": false, "leaving": false
    }))
    .expect("a status")
}

fn event(seq: u64, body: EventBody) -> bytes::Bytes {
    serde_json::to_vec(&Event { seq, body })
        .expect("encodes")
        .into()
}

fn row(index: u64) -> EventBody {
    EventBody::Row {
        stream: "rows".into(),
        index,
        value: serde_json::value::to_raw_value(&index).expect("a row"),
    }
}

/// Plays node `fake`: heartbeats that never list a request, and answers
/// each request as its `what` says.
async fn fake_node(server: &Server, subjects: Subjects) {
    let client = server
        .options()
        .connect("fake node")
        .await
        .expect("connects");
    let mut direct = client
        .subscribe(subjects.node_requests("fake"))
        .await
        .expect("subscribed");
    let mut shared = client
        .queue_subscribe(subjects.requests(), subjects.queue_group())
        .await
        .expect("subscribed");
    let beats = client.clone();
    let heartbeat = subjects.heartbeat("fake");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        for beat in 0.. {
            tick.tick().await;
            let body = serde_json::to_vec(&status("fake", beat)).expect("encodes");
            let _ = beats.publish(heartbeat.clone(), body.into()).await;
        }
    });
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                Some(message) = direct.next() => message,
                Some(message) = shared.next() => message,
                else => return,
            };
            let job: Job = serde_json::from_slice(&message.payload).expect("a job");
            let what: Misdeed = serde_json::from_str(job.args.get()).expect("a misdeed");
            let reply = job.reply.clone();
            let accepted = event(
                0,
                EventBody::Accepted {
                    node: "fake".into(),
                    interval_ms: 100,
                    incarnation: "fake-1".into(),
                },
            );
            let events: Vec<bytes::Bytes> = match what.what.as_str() {
                // Accepts, then is never heard of for this request again.
                "lose" => vec![accepted],
                // Skips an event.
                "skip" => vec![accepted, event(1, row(0)), event(3, row(1))],
                // Sends what is not an event.
                "garbage" => vec![accepted, "\u{0}garbage".into()],
                // Claims rows it never sent.
                "lie" => {
                    let done = EventBody::Done {
                        output: serde_json::value::to_raw_value(&5).expect("json"),
                        streams: [("rows".to_owned(), 5)].into(),
                        elapsed_us: 1,
                    };
                    vec![accepted, event(1, row(0)), event(2, done)]
                }
                // Refuses, as a draining node does.
                _ => vec![event(
                    0,
                    EventBody::Rejected {
                        node: "fake".into(),
                        reason: "the node is draining".into(),
                    },
                )],
            };
            for body in events {
                client
                    .publish(reply.clone(), body)
                    .await
                    .expect("published");
            }
        }
    });
}

#[test]
fn a_rule_breaking_node_gives_typed_errors_and_never_a_hang() {
    let Some(server) = Server::start("hostile") else {
        return;
    };
    let name = service("hostile");
    watchdog(async {
        let subjects = Subjects::new(&name).expect("a name");
        fake_node(&server, subjects).await;
        let config = ClientConfig::default().accept_timeout(Duration::from_secs(1));
        let pool: RemotePool<String> = server.client(&name, config, 1).await;
        let ask = |what: &str| {
            let pool = pool.clone();
            let misdeed = Misdeed {
                what: what.to_owned(),
            };
            async move {
                let mut rows: Vec<Row<u64>> = Vec::new();
                pool.stream("k".into(), &misdeed, &mut rows)
                    .await
                    .expect_err("a misdeed")
            }
        };

        let lost = ask("lose").await;
        assert!(
            matches!(&lost, RemoteError::OutcomeLost { node } if node == "fake"),
            "{lost}"
        );
        assert_eq!(
            lost.to_string(),
            "node fake no longer runs the request, and its outcome never came: NATS lost it"
        );

        let skipped = ask("skip").await;
        assert!(
            matches!(
                skipped,
                RemoteError::EventsLost {
                    expected: 2,
                    got: 3,
                    ..
                }
            ),
            "{skipped}"
        );

        let garbage = ask("garbage").await;
        assert_eq!(garbage.kind(), "bad_event", "{garbage}");
        assert_eq!(garbage.node(), Some("fake"));

        let lie = ask("lie").await;
        assert!(
            matches!(
                lie,
                RemoteError::SummaryMismatch {
                    reported: 5,
                    received: 1,
                    ..
                }
            ),
            "{lie}"
        );

        let refused = ask("refuse").await;
        assert_eq!(refused.kind(), "no_node", "{refused}");
        assert!(
            refused
                .to_string()
                .contains("the last refusal: node fake: the node is draining"),
            "{refused}"
        );
    });
}
