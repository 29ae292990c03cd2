//! The deployment that `docs/distributed.md` documents, run as written:
//! its server configuration is read from the page, node agents and an
//! application sign in as its users, and each is kept to its subjects.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bulkhead_fixture::conformance::{ConformanceSleep, Slept};
use bulkhead_nats::{DurableQueue, NatsOptions, NodeStatus, RemotePool, Subjects};
use common::{Node, Server, echo, patient, watchdog};
use futures_util::StreamExt;

/// The `conf` block of the page's Security section.
fn documented_config() -> String {
    let page = include_str!("../../../docs/distributed.md");
    let start = page.find("```conf\n").expect("a conf block") + "```conf\n".len();
    let end = start + page[start..].find("```").expect("its end");
    page[start..end].to_owned()
}

fn signed_in(server: &Server, user: &str, password: &str) -> NatsOptions {
    let mut options = server.options();
    options.user = Some(user.to_owned());
    options.password = Some(password.to_owned());
    options
}

#[test]
fn the_documented_deployment_keeps_nodes_and_applications_to_their_subjects() {
    let tag = format!("bulkhead-nats-deployment-{}", std::process::id());
    let config = std::env::temp_dir().join(format!("{tag}.conf"));
    let store = std::env::temp_dir().join(format!("{tag}-store"));
    let documented = documented_config();
    assert!(documented.contains("store_dir: /var/lib/nats"));
    let text = documented.replace("/var/lib/nats", store.to_str().expect("a UTF-8 path"));
    std::fs::write(&config, text).expect("the configuration is written");
    let config_path = config.to_str().expect("a UTF-8 path");
    let Some(server) = Server::start_with("deployment", &["-c", config_path]) else {
        return;
    };
    let node = ["--user", "node", "--password", "node-secret", "--durable"];
    let _a = Node::start(&server, "prover", "deploy-a", &node);
    watchdog(async {
        let refused = server.options().connect("anonymous").await;
        assert!(refused.is_err(), "the server admits only its users");

        let app = signed_in(&server, "app", "app-secret")
            .connect("app")
            .await
            .expect("the app signs in");
        let subjects = Subjects::new("prover").expect("a name");
        let pool: RemotePool<String> =
            RemotePool::connect(app.clone(), subjects.clone(), patient())
                .await
                .expect("a client");
        assert!(pool.wait_for_nodes(1, Duration::from_secs(20)).await);
        let echoed = echo(&pool, "permitted").await;
        assert_eq!(echoed.expect("the app sends work"), "permitted");

        let queue = DurableQueue::open(&app, subjects.clone())
            .await
            .expect("the app opens the queue");
        let items = (0..4).map(|i| (format!("d{i}"), "k".to_owned(), ConformanceSleep { ms: 10 }));
        queue
            .submit("deployed", items)
            .await
            .expect("the app submits");
        let ids = (0..4).map(|i| format!("d{i}"));
        let report = queue
            .wait("deployed", ids, Duration::from_secs(30))
            .await
            .expect("the node records");
        for i in 0..4 {
            let slept = report
                .output::<ConformanceSleep>(&format!("d{i}"))
                .expect("ok")
                .expect("decodes");
            assert_eq!(slept, Slept { slept_ms: 10 });
        }

        // The application cannot pose as a node.
        let impostor = serde_json::json!({
            "node": "impostor", "version": "0", "beat": 0, "interval_ms": 100, "capacity": 64,
            "leased": 0, "queued": 0, "warm": [], "rss_bytes": 0, "running": 0, "events": 0,
            "warm_hits": 0, "sessions_opened": 0, "draining": false, "leaving": false
        });
        app.publish(subjects.heartbeat("impostor"), impostor.to_string().into())
            .await
            .expect("sent");
        // A node cannot send work.
        let as_node = signed_in(&server, "node", "node-secret")
            .connect("node user")
            .await
            .expect("signs in");
        let inbox = as_node.new_inbox();
        let mut answers = as_node.subscribe(inbox.clone()).await.expect("subscribed");
        let job = serde_json::json!({
            "id": "forged-1", "reply": inbox, "command": "echo", "args": {"text": "forged"},
            "key": "k", "stream": false, "credits": 4
        });
        as_node
            .publish(subjects.requests(), job.to_string().into())
            .await
            .expect("sent");
        as_node.flush().await.expect("flushed");
        // Three heartbeats later, neither got through.
        let beat = pool.nodes()[0].beat;
        let later = |nodes: &[NodeStatus]| nodes.iter().any(|n| n.beat >= beat + 3);
        assert!(pool.wait_for(later, Duration::from_secs(20)).await);
        let nodes: Vec<String> = pool.nodes().into_iter().map(|n| n.node).collect();
        assert_eq!(nodes, ["deploy-a"], "the impostor's heartbeat was refused");
        let answer = tokio::time::timeout(Duration::from_millis(1), answers.next()).await;
        assert!(
            answer.is_err(),
            "the forged request was refused, so nothing answered it"
        );
        let again = echo(&pool, "still permitted").await;
        assert_eq!(again.expect("served"), "still permitted");
    });
    let _ = std::fs::remove_file(config);
    let _ = std::fs::remove_dir_all(store);
}
