//! The ends of a remote request that are not its outcome: a caller that
//! drops it, a client that goes silent, NATS's own authentication.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bulkhead::Row;
use bulkhead_fixture::{Echo, Item, Session, SessionState, SleepRows};
use bulkhead_nats::{ClientConfig, NatsOptions, NodeStatus, RemotePool, Subjects};
use common::{Node, Server, service, watchdog};
use futures_util::StreamExt;

fn idle(nodes: &[NodeStatus]) -> bool {
    nodes.iter().all(|n| n.running == 0 && n.leased == 0)
}

#[test]
fn a_dropped_request_is_cancelled_on_its_node_and_the_child_stays_warm() {
    let Some(server) = Server::start("drop") else {
        return;
    };
    let name = service("drop");
    let _node = Node::start(&server, &name, "drop-a", &["--workers", "1"]);
    watchdog(async {
        let pool: RemotePool<String> = server.client(&name, ClientConfig::default(), 1).await;
        let opened: SessionState = pool.call("k".into(), &Session {}).await.expect("opens");
        assert_eq!(opened.opens, 1);
        let (first_rows, got_rows) = tokio::sync::oneshot::channel();
        let mut first_rows = Some(first_rows);
        let sink = bulkhead::sink::from_fn(move |row: Row<Item>| {
            if row.seq == 20
                && let Some(signal) = first_rows.take()
            {
                let _ = signal.send(());
            }
            Ok(())
        });
        let stream = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.stream(
                    "k".into(),
                    &SleepRows {
                        rows: 100_000,
                        every_ms: 2,
                    },
                    sink,
                )
                .await
            }
        });
        got_rows.await.expect("rows came");
        stream.abort();
        assert!(stream.await.expect_err("aborted").is_cancelled());
        // The node hears the cancellation, the child ends the request
        // itself and stays warm for the key.
        assert!(
            pool.wait_for(idle, Duration::from_secs(20)).await,
            "{:?}",
            pool.nodes()
        );
        let state: SessionState = pool.call("k".into(), &Session {}).await.expect("warm");
        assert_eq!(state.opens, 1, "the same child, still warm");
    });
}

#[test]
fn a_request_whose_client_went_silent_is_cancelled() {
    let Some(server) = Server::start("silent") else {
        return;
    };
    let name = service("silent");
    let _node = Node::start(&server, &name, "silent-a", &["--client-silence-ms", "600"]);
    watchdog(async {
        let pool: RemotePool<String> = server.client(&name, ClientConfig::default(), 1).await;
        // A client that sends a request, takes two rows' credit and then
        // says nothing more: no credit, no keep-alive.
        let raw = server
            .options()
            .connect("silent client")
            .await
            .expect("connects");
        let inbox = raw.new_inbox();
        let mut events = raw.subscribe(inbox.clone()).await.expect("subscribed");
        let job = serde_json::json!({
            "id": "silent-1", "reply": inbox, "command": "sleep_rows",
            "args": { "rows": 100_000, "every_ms": 1 }, "key": "k", "stream": true, "credits": 2
        });
        let subjects = Subjects::new(&name).expect("a name");
        raw.publish(subjects.requests(), job.to_string().into())
            .await
            .expect("sent");
        let mut seen = Vec::new();
        while let Some(message) = events.next().await {
            let text = String::from_utf8_lossy(&message.payload).into_owned();
            let terminal = text.contains("\"failed\"") || text.contains("\"done\"");
            seen.push(text);
            if terminal {
                break;
            }
        }
        let rows: usize = seen
            .iter()
            .map(|event| event.matches("\"row\":").count())
            .sum();
        assert_eq!(rows, 2, "no row past the credit: {seen:?}");
        let last = seen.last().expect("a terminal event");
        assert!(last.contains("\"kind\":\"cancelled\""), "{last}");
        assert!(last.contains("its client sent nothing for"), "{last}");
        assert!(
            pool.wait_for(idle, Duration::from_secs(20)).await,
            "{:?}",
            pool.nodes()
        );
        let echoed = pool
            .call(
                "k".into(),
                &Echo {
                    text: "next".into(),
                },
            )
            .await;
        assert_eq!(echoed.expect("the node serves on"), "next");
    });
}

#[test]
fn authentication_is_natss_own_and_passes_through() {
    let Some(server) = Server::start_with("auth", &["--user", "bulkhead", "--pass", "s3cret"])
    else {
        return;
    };
    let name = service("auth");
    let _node = Node::start(
        &server,
        &name,
        "auth-a",
        &["--user", "bulkhead", "--password", "s3cret"],
    );
    watchdog(async {
        let refused = server
            .options()
            .connect("anonymous")
            .await
            .expect_err("no credentials");
        let message = refused.to_string();
        assert!(
            message.starts_with(&format!("could not connect to NATS at {}", server.url)),
            "{message}"
        );
        assert!(message.to_lowercase().contains("author"), "{message}");

        let mut options = NatsOptions::new(server.url.clone());
        options.user = Some("bulkhead".into());
        let half = options
            .connect("half")
            .await
            .expect_err("a user without a password");
        assert_eq!(
            half.to_string(),
            "a NATS user name needs a password, and a password a user name"
        );
        options.password = Some("s3cret".into());
        let client = options.connect("authenticated").await.expect("connects");
        let pool: RemotePool<String> = RemotePool::connect(
            client,
            Subjects::new(&name).expect("a name"),
            ClientConfig::default(),
        )
        .await
        .expect("a client");
        assert!(pool.wait_for_nodes(1, Duration::from_secs(20)).await);
        let echoed = pool
            .call(
                "k".into(),
                &Echo {
                    text: "signed in".into(),
                },
            )
            .await;
        assert_eq!(echoed.expect("served"), "signed in");
    });
}
