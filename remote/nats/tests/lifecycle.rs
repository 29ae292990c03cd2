//! The ends of a remote request that are not its outcome: a caller that
//! drops it, a client that goes silent, NATS's own authentication.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bulkhead::Row;
use bulkhead_fixture::{Item, Session, SessionState, SleepRows};
use bulkhead_nats::{NatsOptions, NodeStatus, RemotePool, Subjects};
use common::{Node, Server, echo, patient, remote_pool, service, watchdog};
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
    // A client that went silent would be noticed after a minute only: a
    // quick end is the cancellation's.
    let _node = Node::start(
        &server,
        &name,
        "drop-a",
        &["--workers", "1", "--client-silence-ms", "60000"],
    );
    watchdog(async {
        let pool: RemotePool<String> = server.client(&name, patient(), 1).await;
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
        // itself and stays warm for the key: a heartbeat made after the
        // abort shows the worker free, well before the client silence.
        let beat = pool.nodes().first().map_or(0, |n| n.beat);
        let freed = |nodes: &[NodeStatus]| nodes.iter().all(|n| n.beat > beat + 1) && idle(nodes);
        assert!(
            pool.wait_for(freed, Duration::from_secs(10)).await,
            "{:?}",
            pool.nodes()
        );
        let state: SessionState = pool.call("k".into(), &Session {}).await.expect("warm");
        assert_eq!(state.opens, 1, "the same child, still warm");
        let opened = |nodes: &[NodeStatus]| nodes.iter().all(|n| n.beat > beat + 2);
        assert!(pool.wait_for(opened, Duration::from_secs(10)).await);
        let nodes = pool.nodes();
        assert_eq!(
            nodes[0].sessions_opened, 1,
            "no child was replaced: {nodes:?}"
        );
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
        let pool: RemotePool<String> = server.client(&name, patient(), 1).await;
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
        let echoed = echo(&pool, "next").await;
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
        let pool = remote_pool(&options, &name, patient(), 1).await;
        let echoed = echo(&pool, "signed in").await;
        assert_eq!(echoed.expect("served"), "signed in");
    });
}

/// A CA and a certificate it signed for 127.0.0.1, as PEM files in `dir`:
/// (CA, certificate, key).
fn certificates(dir: &std::path::Path) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("a CA key");
    let ca_cert = ca.self_signed(&ca_key).expect("the CA");
    let issuer = Issuer::new(ca, ca_key);
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).expect("parameters");
    server
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    let key = KeyPair::generate().expect("a key");
    let cert = server.signed_by(&key, &issuer).expect("a certificate");
    std::fs::create_dir_all(dir).expect("a directory");
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("written");
        path.to_str().expect("a UTF-8 path").to_owned()
    };
    (
        write("ca.pem", ca_cert.pem()),
        write("server.pem", cert.pem()),
        write("server.key", key.serialize_pem()),
    )
}

#[test]
fn tls_is_natss_own_and_passes_through() {
    let dir =
        std::env::temp_dir().join(format!("bulkhead-nats-certificates-{}", std::process::id()));
    let (ca, cert, key) = certificates(&dir);
    let tls = [
        "--tls",
        "--tlscert",
        cert.as_str(),
        "--tlskey",
        key.as_str(),
    ];
    let Some(server) = Server::start_on_loopback("tls", &tls) else {
        return;
    };
    let name = service("tls");
    let _node = Node::start(
        &server,
        &name,
        "tls-a",
        &["--tls-ca", ca.as_str(), "--require-tls"],
    );
    watchdog(async {
        let untrusted = server.options().connect("untrusted").await;
        let refusal = untrusted.expect_err("a client that does not trust the CA is refused");
        let message = refusal.to_string();
        assert!(
            message.starts_with("could not connect to NATS at"),
            "{message}"
        );
        let mut options = server.options();
        options.tls_ca = Some(ca.clone().into());
        options.require_tls = true;
        let pool = remote_pool(&options, &name, patient(), 1).await;
        let echoed = echo(&pool, "encrypted").await;
        assert_eq!(echoed.expect("served over TLS"), "encrypted");
    });
    let _ = std::fs::remove_dir_all(dir);
}
