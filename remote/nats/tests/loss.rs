//! Nodes that go away mid-request: killed, or cut off by a partition.
//! Their requests fail with `NodeLost`, naming them, within the bound.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bulkhead::Row;
use bulkhead::worker::StreamSummary;
use bulkhead_fixture::{CountSummary, Item, SleepRows};
use bulkhead_nats::{ClientConfig, NodeStatus, RemoteError, RemotePool};
use common::{Node, Server, echo, remote_pool, service, watchdog};

type Streaming = tokio::task::JoinHandle<Result<StreamSummary<CountSummary>, RemoteError>>;

/// A stream of rows five milliseconds apart, for minutes, counting the
/// rows that reach its sink.
fn endless_stream(pool: &RemotePool<String>, rows: Arc<AtomicU64>) -> Streaming {
    let pool = pool.clone();
    tokio::spawn(async move {
        let sink = bulkhead::sink::from_fn(move |_: Row<Item>| {
            rows.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        let endless = SleepRows {
            rows: 100_000,
            every_ms: 5,
        };
        pool.stream("k".to_owned(), &endless, sink).await
    })
}

fn flowing(nodes: &[NodeStatus]) -> bool {
    nodes.iter().any(|n| n.running > 0 && n.events > 10)
}

#[test]
fn a_killed_node_fails_its_requests_with_node_lost() {
    let Some(server) = Server::start("lost") else {
        return;
    };
    let name = service("lost");
    let mut node = Node::start(&server, &name, "lost-a", &[]);
    watchdog(async {
        let config = ClientConfig::default().missed_heartbeats(3);
        let pool: RemotePool<String> = server.client(&name, config, 1).await;
        let rows = Arc::new(AtomicU64::new(0));
        let stream = endless_stream(&pool, rows.clone());
        assert!(pool.wait_for(flowing, Duration::from_secs(30)).await);
        node.kill();
        let killed = tokio::time::Instant::now();
        let error = stream.await.expect("joins").expect_err("the node is gone");
        let noticed = killed.elapsed();
        match &error {
            RemoteError::NodeLost {
                node,
                silent_for,
                rows_delivered,
            } => {
                assert_eq!(node, "lost-a");
                assert!(*silent_for > Duration::from_millis(600), "{silent_for:?}");
                assert_eq!(*rows_delivered, rows.load(Ordering::SeqCst));
                assert!(*rows_delivered > 0);
            }
            other => panic!("expected NodeLost, got {other}"),
        }
        let message = error.to_string();
        assert!(
            message.starts_with("node lost-a was lost: no heartbeat for"),
            "{message}"
        );
        // Three heartbeats of 200 ms and the check's own period; the bound
        // here leaves room for a loaded machine.
        assert!(
            noticed < Duration::from_secs(10),
            "noticed after {noticed:?}"
        );
        // With no node left, a new request is not taken and says so.
        let config = ClientConfig::default().accept_timeout(Duration::from_millis(500));
        let late = remote_pool(&server.options(), &name, config, 0).await;
        let refused = echo(&late, "anyone?").await.expect_err("nobody");
        assert_eq!(refused.kind(), "no_node", "{refused}");
    });
}

#[test]
fn a_partitioned_node_is_lost_then_heard_again_once_healed() {
    let Some(server) = Server::start("partition") else {
        return;
    };
    let name = service("partition");
    let a = Node::start(&server, &name, "partition-a", &["--workers", "1"]);
    let b = Node::start(&server, &name, "partition-b", &["--workers", "1"]);
    if !a.on_own_host() {
        eprintln!("skipped: a partition needs network namespaces (root and `ip`)");
        return;
    }
    watchdog(async {
        let pool: RemotePool<String> = server.client(&name, ClientConfig::default(), 2).await;
        let stream = endless_stream(&pool, Arc::default());
        assert!(pool.wait_for(flowing, Duration::from_secs(30)).await);
        let busy = pool
            .nodes()
            .into_iter()
            .find(|n| n.running > 0)
            .expect("a busy node")
            .node;
        let (cut, other) = if busy == a.id { (&a, &b) } else { (&b, &a) };
        assert!(cut.cut());
        match stream.await.expect("joins") {
            Err(RemoteError::NodeLost { node, .. }) => assert_eq!(node, busy),
            Err(other) => panic!("expected NodeLost, got {other}"),
            Ok(summary) => panic!("the stream ended with {} rows", summary.rows),
        }
        // The other node serves meanwhile.
        let echoed = echo(&pool, "around the cut").await;
        assert_eq!(echoed.expect("served by the other node"), "around the cut");
        let others = |nodes: &[NodeStatus]| nodes.len() == 1 && nodes[0].node == other.id;
        assert!(
            pool.wait_for(others, Duration::from_secs(10)).await,
            "{:?}",
            pool.nodes()
        );
        cut.heal();
        assert!(
            pool.wait_for_nodes(2, Duration::from_secs(30)).await,
            "the healed node was not heard again"
        );
    });
}

#[test]
fn a_node_restarted_under_the_same_id_fails_the_requests_it_had() {
    let Some(server) = Server::start("restarted") else {
        return;
    };
    let name = service("restarted");
    let mut node = Node::start(&server, &name, "restarted-a", &[]);
    watchdog(async {
        // Patient enough that the restart is seen before any silence.
        let config = ClientConfig::default().missed_heartbeats(50);
        let pool: RemotePool<String> = server.client(&name, config, 1).await;
        let stream = endless_stream(&pool, Arc::default());
        assert!(pool.wait_for(flowing, Duration::from_secs(30)).await);
        let before = pool.nodes()[0].incarnation.clone();
        node.kill();
        let _again = Node::start(&server, &name, "restarted-a", &[]);
        match stream.await.expect("joins") {
            Err(RemoteError::NodeRestarted {
                node,
                rows_delivered,
            }) => {
                assert_eq!(node, "restarted-a");
                assert!(rows_delivered > 0);
            }
            Err(other) => panic!("expected NodeRestarted, got {other}"),
            Ok(summary) => panic!("the stream ended with {} rows", summary.rows),
        }
        assert_ne!(pool.nodes()[0].incarnation, before);
        let echoed = echo(&pool, "the new one").await;
        assert_eq!(
            echoed.expect("served by the new incarnation"),
            "the new one"
        );
    });
}
