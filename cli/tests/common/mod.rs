//! What the tests of the `bulkhead` binary share: the binary, the fixture
//! child, a watchdog.

#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

pub const BULKHEAD: &str = env!("CARGO_BIN_EXE_bulkhead");
pub const WATCHDOG: Duration = Duration::from_secs(60);

/// The fixture child binary of this build, built first if need be.
pub fn fixture() -> &'static str {
    static CHILD: OnceLock<String> = OnceLock::new();
    CHILD.get_or_init(|| {
        bulkhead_fixture::child_program()
            .to_str()
            .expect("a UTF-8 path")
            .to_owned()
    })
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `bulkhead ARGS...`, killing it if it outlives the watchdog.
pub fn bulkhead(args: &[&str]) -> Ran {
    let mut child = Command::new(BULKHEAD)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bulkhead starts");
    let reader = |mut pipe: Box<dyn Read + Send>, done: mpsc::Sender<()>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).expect("readable output");
            let _ = done.send(());
            text
        })
    };
    let (done, finished) = mpsc::channel();
    let stdout = reader(Box::new(child.stdout.take().unwrap()), done.clone());
    let stderr = reader(Box::new(child.stderr.take().unwrap()), done);
    for _ in 0..2 {
        if finished.recv_timeout(WATCHDOG).is_err() {
            child.kill().expect("kill");
            panic!("watchdog: bulkhead {args:?} took too long");
        }
    }
    let status = child.wait().expect("bulkhead exits");
    Ran {
        code: status.code().expect("an exit code"),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// A file of the Python child package, by its path under `children/python`.
pub fn python(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../children/python");
    root.join(path).to_str().expect("a UTF-8 path").to_owned()
}

/// The checks of a `bulkhead conformance --json` run that have `status`.
pub fn checks_with(report: &serde_json::Value, status: &str) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|check| check["status"] == status)
        .map(|check| {
            format!(
                "{} {}",
                check["transport"].as_str().unwrap_or(""),
                check["check"].as_str().unwrap_or("")
            )
        })
        .collect()
}
