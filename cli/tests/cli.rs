//! The `bulkhead` binary against real children: the fixture child, one
//! that is not a child, one that crashes, one of another protocol.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bulkhead, fixture};

#[test]
fn doctor_reports_a_healthy_child_and_exits_zero() {
    let ran = bulkhead(&["doctor", fixture()]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("capability fixture"), "{}", ran.stdout);
    assert!(ran.stdout.contains("count (streaming)"), "{}", ran.stdout);
    assert!(ran.stdout.contains("[no_data_file]"), "{}", ran.stdout);
    assert!(
        ran.stdout.ends_with("0 errors, 0 warnings\n"),
        "{}",
        ran.stdout
    );
}

#[test]
fn doctor_speaks_json_and_checks_expectations() {
    let ran = bulkhead(&[
        "doctor",
        "--json",
        "--expect-name",
        "ranker",
        "--require",
        "rank",
        "--transport",
        "local-socket",
        "--",
        fixture(),
    ]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(report["transport"], "local-socket");
    assert_eq!(report["info"]["name"], "fixture");
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"name_mismatch"), "{codes:?}");
    assert!(codes.contains(&"command_missing"), "{codes:?}");
}

#[test]
fn doctor_names_a_program_that_is_not_a_child_and_shows_its_first_bytes() {
    let ran = bulkhead(&["doctor", fixture(), "--prelude-garbage"]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("[handshake_failed]"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("\"this is not a frame\\n"),
        "{}",
        ran.stdout
    );
}

#[test]
fn doctor_names_a_child_of_another_protocol_and_a_missing_program() {
    let ran = bulkhead(&["doctor", fixture(), "--protocol", "99"]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stdout.contains("speaks protocol version 99"),
        "{}",
        ran.stdout
    );
    let missing = std::env::temp_dir().join("bulkhead-cli-test-no-such-program");
    let ran = bulkhead(&["doctor", missing.to_str().unwrap()]);
    assert_eq!(ran.code, 1);
    assert!(ran.stdout.contains("[spawn_failed]"), "{}", ran.stdout);
}

#[test]
fn call_prints_a_response() {
    let ran = bulkhead(&["call", fixture(), "echo", r#"{"text":"through the cli"}"#]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, "\"through the cli\"\n");
}

#[test]
fn call_streams_rows_progress_and_diagnostics_as_json_lines() {
    let args = r#"{"n":3,"progress_every":1,"diagnostic_every":3}"#;
    let ran = bulkhead(&["call", "--json", "count", args, "--", fixture()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let lines: Vec<serde_json::Value> = ran
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let rows: Vec<u64> = lines
        .iter()
        .filter_map(|line| line["row"]["index"].as_u64())
        .collect();
    assert_eq!(rows, [0, 1, 2]);
    assert_eq!(
        lines
            .iter()
            .filter(|line| line["progress"].is_object())
            .count(),
        3
    );
    let diagnostic = lines
        .iter()
        .find(|line| line["diagnostic"].is_object())
        .unwrap();
    assert_eq!(diagnostic["diagnostic"]["message"], "3 rows so far");
    let last = lines.last().unwrap();
    assert_eq!(
        (last["rows"].as_u64(), &last["summary"]["emitted"]),
        (Some(3), &serde_json::json!(3))
    );
}

#[test]
fn call_names_a_crash_and_shows_the_childs_last_words() {
    let ran = bulkhead(&["call", fixture(), "abort", r#"{"message":"last words"}"#]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("during command \"abort\""),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("| last words"), "{}", ran.stderr);
    #[cfg(unix)]
    assert!(ran.stderr.contains("SIGABRT"), "{}", ran.stderr);
    let ran = bulkhead(&["call", "--json", fixture(), "segfault"]);
    let line: serde_json::Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    assert_eq!(line["error"]["kind"], "child_exited");
}

#[test]
fn call_refuses_bad_json_before_starting_anything() {
    let ran = bulkhead(&["call", fixture(), "echo", "{not json"]);
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("not valid JSON"), "{}", ran.stderr);
    let ran = bulkhead(&["call", fixture()]);
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("PROGRAM COMMAND"), "{}", ran.stderr);
}

#[test]
fn call_names_an_unknown_command_and_a_timeout() {
    let ran = bulkhead(&["call", fixture(), "no_such_command"]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("no command named \"no_such_command\""),
        "{}",
        ran.stderr
    );
    let ran = bulkhead(&["call", "--timeout", "0.2", fixture(), "spin"]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("timed out after 200 ms"),
        "{}",
        ran.stderr
    );
}

#[test]
fn probe_prints_every_figure_as_a_result_line() {
    let ran = bulkhead(&[
        "probe",
        "--results",
        "--requests",
        "50",
        "--starts",
        "2",
        "--stream",
        "count",
        "--stream-args",
        r#"{"n":2000}"#,
        "--cancel",
        "sleep_rows",
        "--cancel-args",
        r#"{"rows":1000,"every_ms":5}"#,
        "--crash",
        "segfault",
        fixture(),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    for name in [
        "cold_start_ms",
        "first_request_ms",
        "rtt_median_us",
        "rtt_p99_us",
        "rows_per_s",
        "cancel_ms",
        "crash_recovery_ms",
        "cycle_ms",
    ] {
        let line = ran
            .stdout
            .lines()
            .find(|line| line.starts_with(&format!("RESULT probe_{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {}", ran.stdout));
        let value: f64 = line.split(' ').nth(2).unwrap().parse().unwrap();
        assert!(value > 0.0, "{line}");
    }
    assert!(
        ran.stdout.contains("RESULT probe_rows 2000 rows"),
        "{}",
        ran.stdout
    );
}

#[test]
fn probe_compares_two_children_in_json() {
    let ran = bulkhead(&[
        "probe",
        "--json",
        "--requests",
        "20",
        "--starts",
        "1",
        "--compare",
        fixture(),
        fixture(),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let probe: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    for side in ["child", "compare"] {
        let figures = probe[side]["figures"].as_array().unwrap();
        assert!(
            figures
                .iter()
                .any(|figure| figure["name"] == "rtt_median_us"),
            "{probe}"
        );
    }
}

#[cfg(unix)]
#[test]
fn doctor_names_a_file_that_is_not_executable() {
    let file = std::env::temp_dir().join(format!(
        "bulkhead-cli-test-not-executable-{}",
        std::process::id()
    ));
    std::fs::write(&file, "not a program\n").unwrap();
    let ran = bulkhead(&["doctor", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(ran.code, 1);
    assert!(ran.stdout.contains("[spawn_failed]"), "{}", ran.stdout);
    assert!(ran.stdout.contains("Permission denied"), "{}", ran.stdout);
}
