//! The template's child, found the way tests find it, and the application
//! run as a user would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bulkhead::Child;
use bulkhead::sink::Counting;
use bulkhead_template_counter::{Count, NAME};

const WATCHDOG: Duration = Duration::from_secs(60);

#[test]
fn the_child_serves_its_commands() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let test = async {
            // Tests name the binary cargo built for them.
            let mut worker = Child::program(env!("CARGO_BIN_EXE_counter-child"))
                .expect_name(NAME)
                .require_stream::<Count>()
                .worker()
                .await
                .unwrap();
            let summary = worker
                .stream(&Count { n: 5 }, Counting::default())
                .await
                .unwrap();
            assert_eq!((summary.rows, summary.value.emitted), (5, 5));
            worker.shutdown().await;
        };
        tokio::time::timeout(WATCHDOG, test)
            .await
            .expect("watchdog");
    });
}

#[test]
fn the_application_finds_its_child_and_survives_its_crash() {
    let app = std::process::Command::new(env!("CARGO_BIN_EXE_counter"))
        .env_remove(bulkhead_template_counter::CHILD_OVERRIDE)
        .stdin(std::process::Stdio::null())
        .spawn_and_wait(WATCHDOG);
    assert!(
        app.status.success(),
        "{}",
        String::from_utf8_lossy(&app.stderr)
    );
    let stdout = String::from_utf8(app.stdout).unwrap();
    assert!(stdout.contains("counted 1000 numbers"), "{stdout}");
    assert!(stdout.contains("the child crashed"), "{stdout}");
    assert!(
        stdout.contains("counted 10 numbers in generation 2"),
        "{stdout}"
    );
}

#[test]
fn a_wrong_override_is_an_error_not_a_fallback() {
    let nowhere = std::env::temp_dir().join("bulkhead-template-no-such-child");
    let app = std::process::Command::new(env!("CARGO_BIN_EXE_counter"))
        .env(bulkhead_template_counter::CHILD_OVERRIDE, &nowhere)
        .stdin(std::process::Stdio::null())
        .spawn_and_wait(WATCHDOG);
    assert!(!app.status.success());
    let stderr = String::from_utf8(app.stderr).unwrap();
    assert!(stderr.contains("COUNTER_CHILD is set to"), "{stderr}");
}

/// Runs a command to its end, killing it if it outlives `limit`.
trait SpawnAndWait {
    fn spawn_and_wait(&mut self, limit: Duration) -> std::process::Output;
}

impl SpawnAndWait for std::process::Command {
    fn spawn_and_wait(&mut self, limit: Duration) -> std::process::Output {
        let child = self
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let id = child.id();
        let (done, finished) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let output = child.wait_with_output();
            let _ = done.send(());
            output
        });
        if finished.recv_timeout(limit).is_err() {
            panic!("watchdog: process {id} took too long");
        }
        waiter.join().unwrap().unwrap()
    }
}
