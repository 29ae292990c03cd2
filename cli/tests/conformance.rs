//! The conformance kit against the Rust fixture child, the Python child
//! (both pass every check over both transports) and a child broken on
//! purpose (it fails exactly the checks it breaks, with readable reasons).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bulkhead, checks_with, fixture};

/// Runs every check over both transports against `child` and asserts
/// that all pass.
fn passes_everything(child: &[&str]) {
    let mut args = vec!["conformance", "--json", "--transport", "both", "--"];
    args.extend_from_slice(child);
    let ran = bulkhead(&args);
    let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    let failed = checks_with(&report, "failed");
    assert_eq!(failed, Vec::<String>::new(), "{report:#}");
    assert_eq!(report["passed"], 40, "{report:#}");
    assert_eq!(ran.code, 0);
}

#[test]
fn the_rust_fixture_passes_every_check_over_both_transports() {
    passes_everything(&[fixture()]);
}

#[test]
fn the_human_report_has_one_line_per_check_and_a_count() {
    let ran = bulkhead(&[
        "conformance",
        "--check",
        "echo",
        "--check",
        "cancel",
        fixture(),
    ]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", ran.stdout);
    assert!(
        lines[0].starts_with("pass  stdio        echo "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("pass  stdio        cancel "),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "2 passed, 0 failed, 0 skipped");
    let ran = bulkhead(&["conformance", "--check", "no_such_check", fixture()]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("no check named no_such_check"),
        "{}",
        ran.stderr
    );
}

#[cfg(unix)]
#[test]
fn the_python_child_passes_every_check_over_both_transports() {
    passes_everything(&["python3", &common::python("examples/conformance_child.py")]);
}

#[cfg(unix)]
#[test]
fn a_broken_child_fails_exactly_the_rules_it_breaks() {
    let child = common::python("tests/broken_child.py");
    let ran = bulkhead(&["conformance", "--json", "--", "python3", &child]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    let failed = checks_with(&report, "failed");
    let expected: Vec<String> = [
        "rows",
        "named_stream",
        "progress_and_diagnostics",
        "handler_error",
        "panic_asks_for_replacement",
        "cancel",
        "stderr_and_stray_stdout",
        "shutdown",
        "frame_limits",
    ]
    .iter()
    .map(|check| format!("stdio {check}"))
    .collect();
    assert_eq!(failed, expected, "{report:#}");
    assert_eq!(checks_with(&report, "skipped"), ["stdio session"]);
    let reason = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|check| check["check"] == name)
            .map(|check| check["detail"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert!(
        reason("rows").contains("as row 1 of stream \"rows\", expected"),
        "{}",
        reason("rows")
    );
    assert!(
        reason("cancel").contains("did not end within 1 s"),
        "{}",
        reason("cancel")
    );
    assert!(reason("stderr_and_stray_stdout").contains("\"conformance-stray-stdout-line\\n"));
    assert!(reason("shutdown").contains("did not end after the shutdown frame"));
    assert!(reason("frame_limits").contains("exceeds the maximum of 4096 bytes"));
}
