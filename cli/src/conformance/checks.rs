//! The checks of the conformance kit, each on a child of its own.

use std::time::{Duration, Instant};

use bulkhead::wire::{DEFAULT_MAX_FRAME, FrameKind, LENGTH_BYTES, MIN_MAX_FRAME, SESSION_COMMAND};
use serde_json::{Value, json};

use super::raw::{Exchange, RawChild, Target, describe, exited};

/// What a check concluded.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    Pass(String),
    Fail(String),
    Skip(String),
}

/// The commands every conforming child serves.
pub(crate) const REQUIRED: [&str; 7] = [
    "conformance.echo",
    "conformance.rows",
    "conformance.sleep",
    "conformance.fail",
    "conformance.panic",
    "conformance.exit",
    "conformance.stderr",
];

/// How long a child may take to exit when it should.
const EXIT_LIMIT: Duration = Duration::from_secs(3);
/// How long a cancelled request may take to end (the parent's default
/// cancel grace).
const CANCEL_GRACE: Duration = Duration::from_secs(1);

type Outcome = Result<String, String>;

/// The checks, by name, in the order they run.
pub(crate) const CHECKS: [&str; 20] = [
    "handshake",
    "quiet_before_hello",
    "echo",
    "request_ids",
    "json_values",
    "rows",
    "named_stream",
    "progress_and_diagnostics",
    "handler_error",
    "unknown_command",
    "bad_arguments",
    "panic_asks_for_replacement",
    "cancel",
    "stray_cancel_ignored",
    "exit_code",
    "stderr_and_stray_stdout",
    "session",
    "shutdown",
    "end_of_input",
    "frame_limits",
];

/// Runs check `name` against a fresh child of `target`.
pub(crate) async fn run(name: &str, target: &Target) -> Verdict {
    let outcome = match name {
        "handshake" => handshake(target).await,
        "quiet_before_hello" => quiet_before_hello(target).await,
        "echo" => echo(target).await,
        "request_ids" => request_ids(target).await,
        "json_values" => json_values(target).await,
        "rows" => rows(target).await,
        "named_stream" => named_stream(target).await,
        "progress_and_diagnostics" => progress_and_diagnostics(target).await,
        "handler_error" => handler_error(target).await,
        "unknown_command" => unknown_command(target).await,
        "bad_arguments" => bad_arguments(target).await,
        "panic_asks_for_replacement" => panic(target).await,
        "cancel" => cancel(target).await,
        "stray_cancel_ignored" => stray_cancel(target).await,
        "exit_code" => exit_code(target).await,
        "stderr_and_stray_stdout" => stderr(target).await,
        "session" => return session(target).await,
        "shutdown" => shutdown(target).await,
        "end_of_input" => end_of_input(target).await,
        "frame_limits" => frame_limits(target).await,
        other => Err(format!("no check named {other}")),
    };
    match outcome {
        Ok(note) => Verdict::Pass(note),
        Err(reason) => Verdict::Fail(reason),
    }
}

async fn start(target: &Target) -> Result<(RawChild, Value), String> {
    RawChild::started(target, DEFAULT_MAX_FRAME).await
}

async fn handshake(target: &Target) -> Outcome {
    let (_child, handshake) = start(target).await?;
    let protocol = handshake["protocol"].as_u64();
    if protocol != Some(u64::from(bulkhead::wire::PROTOCOL_VERSION)) {
        return Err(format!(
            "the handshake announces protocol {}, not 1",
            handshake["protocol"]
        ));
    }
    let max_frame = handshake["max_frame"].as_u64().unwrap_or(0);
    if max_frame < u64::from(MIN_MAX_FRAME) {
        return Err(format!(
            "the handshake announces max_frame {}, below 4096",
            handshake["max_frame"]
        ));
    }
    let info: bulkhead::wire::ChildInfo = serde_json::from_value(handshake["child"].clone())
        .map_err(|err| format!("the handshake's child information does not decode: {err}"))?;
    if info.name.is_empty() || info.version.is_empty() {
        return Err("the handshake has an empty name or version".to_owned());
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|name| info.command(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!("the child does not list {}", missing.join(", ")));
    }
    if info
        .command("conformance.rows")
        .is_some_and(|rows| !rows.streaming)
    {
        return Err("conformance.rows is listed as unary".to_owned());
    }
    Ok(format!(
        "{} {}, protocol 1, max_frame {max_frame}, {} commands{}",
        info.name,
        info.version,
        info.commands.len(),
        if info.sessions {
            ", opens sessions"
        } else {
            ""
        }
    ))
}

async fn quiet_before_hello(target: &Target) -> Outcome {
    let mut child = RawChild::spawn(target, DEFAULT_MAX_FRAME).await?;
    // A child must wait for the hello; anything it writes first is wrong.
    match child.next(Duration::from_millis(300)).await {
        Err(_) => Ok("nothing before the hello".to_owned()),
        Ok(Some(got)) => Err(format!(
            "the child sent {} before the hello",
            describe(&got)
        )),
        Ok(None) => Err("the child closed its output before the hello".to_owned()),
    }
}

fn success(exchange: &Exchange) -> Result<&Value, String> {
    match &exchange.terminal {
        Some(Ok(success)) => Ok(success),
        Some(Err(error)) => Err(format!("the request failed: {error}")),
        None => Err("the request has no terminal frame".to_owned()),
    }
}

fn failure(exchange: &Exchange) -> Result<&Value, String> {
    match &exchange.terminal {
        Some(Err(error)) => Ok(error),
        Some(Ok(success)) => Err(format!(
            "the request succeeded where it should fail: {success}"
        )),
        None => Err("the request has no terminal frame".to_owned()),
    }
}

/// The child still answers an echo after whatever came before.
async fn still_serves(child: &mut RawChild, id: u64) -> Result<(), String> {
    let exchange = child
        .call(id, "conformance.echo", &json!("still there"))
        .await?;
    match success(&exchange)?.get("value") {
        Some(value) if *value == json!("still there") => Ok(()),
        other => Err(format!("the next echo answered {other:?}")),
    }
}

async fn echo(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    let value = json!({"text": "hi", "list": [1, 2, 3]});
    let exchange = child.call(1, "conformance.echo", &value).await?;
    if !exchange.rows.is_empty() {
        return Err("a unary command sent rows".to_owned());
    }
    let success = success(&exchange)?;
    if success.get("value") != Some(&value) {
        return Err(format!("echo answered {success}, expected value {value}"));
    }
    Ok("the arguments came back as the value".to_owned())
}

async fn request_ids(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    for id in [7, 1_000, u64::MAX - 1] {
        let exchange = child.call(id, "conformance.echo", &json!(id)).await?;
        success(&exchange)?;
    }
    Ok("ids 7, 1000 and 2^64-2 answered under their own ids".to_owned())
}

async fn json_values(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    let value = json!({
        "unicode": "grüße, 東京, 🦀",
        "escapes": "quote \" backslash \\ newline \n tab \t nul \u{0}",
        "big": u64::MAX,
        "negative": i64::MIN,
        "float": 1.5e-7,
        "nested": [[], {}, [null, true, false]],
        "empty": "",
    });
    let exchange = child.call(1, "conformance.echo", &value).await?;
    let success = success(&exchange)?;
    if success.get("value") != Some(&value) {
        return Err(format!("the value came back changed: {}", success["value"]));
    }
    Ok("unicode, escapes, 64-bit integers and floats came back unchanged".to_owned())
}

async fn rows(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    let n = 1_000u64;
    let exchange = child.call(1, "conformance.rows", &json!({"n": n})).await?;
    let success = success(&exchange)?.clone();
    check_rows(&exchange, "rows", n)?;
    if success["rows"] != json!({"rows": n}) {
        return Err(format!(
            "the success frame counts {}, expected {{\"rows\":{n}}}",
            success["rows"]
        ));
    }
    if success["value"] != json!({"rows": n}) {
        return Err(format!(
            "the summary is {}, expected {{\"rows\":{n}}}",
            success["value"]
        ));
    }
    Ok(format!(
        "{n} rows numbered 0 to {} and counted in the success frame",
        n - 1
    ))
}

fn check_rows(exchange: &Exchange, stream: &str, n: u64) -> Result<(), String> {
    if exchange.rows.len() as u64 != n {
        return Err(format!(
            "{} rows arrived, expected {n}",
            exchange.rows.len()
        ));
    }
    for (at, (name, seq, value)) in exchange.rows.iter().enumerate() {
        let at = at as u64;
        if name != stream || *seq != at || *value != json!({"index": at}) {
            return Err(format!(
                "row {at} is {value} as row {seq} of stream \"{name}\", expected {{\"index\":{at}}} as row {at} of \"{stream}\""
            ));
        }
    }
    Ok(())
}

async fn named_stream(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    let args = json!({"n": 3, "stream": "other"});
    let exchange = child.call(1, "conformance.rows", &args).await?;
    let success = success(&exchange)?.clone();
    check_rows(&exchange, "other", 3)?;
    if success["rows"] != json!({"other": 3}) {
        return Err(format!(
            "the success frame counts {}, expected {{\"other\":3}}",
            success["rows"]
        ));
    }
    Ok("3 rows on stream \"other\"".to_owned())
}

async fn progress_and_diagnostics(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    let args = json!({"n": 5, "progress": true, "diagnostics": true});
    let exchange = child.call(1, "conformance.rows", &args).await?;
    success(&exchange)?;
    let done: Vec<Option<u64>> = exchange
        .progress
        .iter()
        .map(|p| p["done"].as_u64())
        .collect();
    if done != [Some(1), Some(2), Some(3), Some(4), Some(5)] {
        return Err(format!("progress counted {done:?}, expected 1 to 5"));
    }
    if exchange.progress.iter().any(|p| p["total"] != json!(5)) {
        return Err("a progress frame has no total of 5".to_owned());
    }
    let levels = ["trace", "debug", "info", "warn", "error"];
    if exchange.diagnostics.len() < 2 {
        return Err(format!(
            "{} diagnostics arrived, expected 2",
            exchange.diagnostics.len()
        ));
    }
    for diagnostic in &exchange.diagnostics {
        let level = diagnostic["level"].as_str().unwrap_or("");
        if !levels.contains(&level) || !diagnostic["message"].is_string() {
            return Err(format!(
                "a diagnostic is not {{level, message}}: {diagnostic}"
            ));
        }
    }
    Ok("5 progress frames with their total, 2 diagnostics".to_owned())
}

async fn handler_error(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    let args = json!({"message": "no such record", "detail": {"code": 404}});
    let exchange = child.call(1, "conformance.fail", &args).await?;
    let error = failure(&exchange)?;
    if error["kind"] != "handler" || error["message"] != "no such record" {
        return Err(format!(
            "the error is {error}, expected kind handler, message \"no such record\""
        ));
    }
    if error["detail"] != json!({"code": 404}) {
        return Err(format!(
            "the detail is {}, expected {{\"code\":404}}",
            error["detail"]
        ));
    }
    if error["replace"] == json!(true) {
        return Err("a handler error asks for replacement".to_owned());
    }
    still_serves(&mut child, 2).await?;
    Ok("kind handler with its message and detail; the child serves on".to_owned())
}

async fn unknown_command(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    let exchange = child
        .call(1, "conformance.no_such_command", &json!({}))
        .await?;
    let error = failure(&exchange)?;
    if error["kind"] != "unknown_command" {
        return Err(format!(
            "the error is {error}, expected kind unknown_command"
        ));
    }
    still_serves(&mut child, 2).await?;
    Ok("kind unknown_command; the child serves on".to_owned())
}

async fn bad_arguments(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    let exchange = child
        .call(1, "conformance.rows", &json!({"n": "many"}))
        .await?;
    let error = failure(&exchange)?;
    if error["kind"] != "bad_request" {
        return Err(format!("the error is {error}, expected kind bad_request"));
    }
    still_serves(&mut child, 2).await?;
    Ok("kind bad_request; the child serves on".to_owned())
}

async fn panic(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    let exchange = child
        .call(1, "conformance.panic", &json!({"message": "on purpose"}))
        .await?;
    let error = failure(&exchange)?;
    if error["replace"] != json!(true) {
        return Err(format!("the error is {error}, without replace: true"));
    }
    Ok(format!("kind {} with replace: true", error["kind"]))
}

async fn cancel(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    child
        .request(1, "conformance.sleep", &json!({"ms": 30_000}))
        .await?;
    child.bare(FrameKind::Cancel, 1).await?;
    let sent = Instant::now();
    let exchange = child
        .exchange(1, CANCEL_GRACE)
        .await
        .map_err(|err| format!("a cancelled sleep did not end within 1 s: {err}"))?;
    let error = failure(&exchange)?;
    if error["kind"] != "cancelled" {
        return Err(format!("the error is {error}, expected kind cancelled"));
    }
    let took = sent.elapsed();
    still_serves(&mut child, 2).await?;
    Ok(format!(
        "ended as cancelled in {}; the child serves on",
        bulkhead::describe::Span(took)
    ))
}

async fn stray_cancel(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    let exchange = child.call(1, "conformance.echo", &json!(1)).await?;
    success(&exchange)?;
    // A cancel that crossed the terminal frame, and one for no request.
    child.bare(FrameKind::Cancel, 1).await?;
    child.bare(FrameKind::Cancel, 99).await?;
    still_serves(&mut child, 2).await?;
    Ok("cancels for requests not running were ignored".to_owned())
}

async fn exit_code(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    child
        .request(1, "conformance.exit", &json!({"code": 7}))
        .await?;
    match child.next(EXIT_LIMIT).await {
        Ok(None) => {}
        Ok(Some(got)) => {
            return Err(format!(
                "the child sent {} instead of exiting",
                describe(&got)
            ));
        }
        Err(err) => return Err(format!("the child did not close its output: {err}")),
    }
    match child.exit_within(EXIT_LIMIT).await {
        Some(status) if status.code() == Some(7) => Ok("exited with code 7".to_owned()),
        Some(status) => Err(format!("the child {}, expected code 7", exited(status))),
        None => Err("the child did not exit".to_owned()),
    }
}

async fn stderr(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    let marks = ["conformance-stderr-line", "conformance-stray-stdout-line"];
    for (id, (mark, stdout)) in (1..).zip(marks.iter().zip([false, true])) {
        let args = json!({"text": mark, "stdout": stdout});
        let exchange = child.call(id, "conformance.stderr", &args).await?;
        success(&exchange)?;
    }
    still_serves(&mut child, 3).await?;
    child.bare(FrameKind::Shutdown, 0).await?;
    child.close_input().await;
    let _ = child.exit_within(EXIT_LIMIT).await;
    let text = child.stderr();
    for mark in marks {
        if !text.contains(mark) {
            return Err(format!("\"{mark}\" did not reach stderr"));
        }
    }
    Ok("a stderr line and a stray stdout line reached stderr; the channel stayed clean".to_owned())
}

async fn session(target: &Target) -> Verdict {
    let outcome = async {
        let (mut child, handshake) = start(target).await?;
        if handshake["child"]["sessions"] != json!(true) {
            return Ok(None);
        }
        let key = json!("conformance-key");
        let exchange = child.call(1, SESSION_COMMAND, &key).await?;
        success(&exchange)?;
        let exchange = child.call(2, "conformance.session", &json!({})).await?;
        let value = &success(&exchange)?["value"];
        if *value != key {
            return Err(format!(
                "conformance.session answered {value}, expected {key}"
            ));
        }
        Ok(Some("the opened key is the one in use".to_owned()))
    };
    match outcome.await {
        Ok(Some(note)) => Verdict::Pass(note),
        Ok(None) => Verdict::Skip("the child does not open sessions".to_owned()),
        Err(reason) => Verdict::Fail(reason),
    }
}

async fn shutdown(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    still_serves(&mut child, 1).await?;
    child.bare(FrameKind::Shutdown, 0).await?;
    ends_cleanly(&mut child, "the shutdown frame").await
}

async fn end_of_input(target: &Target) -> Outcome {
    let (mut child, _) = start(target).await?;
    still_serves(&mut child, 1).await?;
    child.close_input().await;
    ends_cleanly(&mut child, "end of input").await
}

async fn ends_cleanly(child: &mut RawChild, after: &str) -> Outcome {
    let started = Instant::now();
    match child.next(EXIT_LIMIT).await {
        Ok(None) => {}
        Ok(Some(got)) => return Err(format!("the child sent {} after {after}", describe(&got))),
        Err(err) => return Err(format!("the child did not end after {after}: {err}")),
    }
    match child.exit_within(EXIT_LIMIT).await {
        Some(status) if status.success() => Ok(format!(
            "exited with code 0 within {}",
            bulkhead::describe::Span(started.elapsed())
        )),
        Some(status) => Err(format!(
            "the child {} after {after}, expected code 0",
            exited(status)
        )),
        None => Err(format!("the child did not exit within 3 s of {after}")),
    }
}

async fn frame_limits(target: &Target) -> Outcome {
    // The child must not send more than the parent announced.
    let (mut child, _) = RawChild::started(target, MIN_MAX_FRAME).await?;
    let big = "x".repeat(2 * MIN_MAX_FRAME as usize);
    let exchange = child
        .call(1, "conformance.echo", &json!(big))
        .await
        .map_err(|err| {
            format!("with max_frame 4096 announced, an 8 KiB answer broke the channel: {err}")
        })?;
    let error = failure(&exchange)?;
    still_serves(&mut child, 2).await?;
    // The child must refuse a frame longer than it announced, without
    // reading it.
    let (mut child, handshake) = start(target).await?;
    let limit = handshake["max_frame"]
        .as_u64()
        .unwrap_or(u64::from(DEFAULT_MAX_FRAME));
    let announced = u32::try_from(limit + 1).unwrap_or(u32::MAX);
    let mut prefix = Vec::with_capacity(LENGTH_BYTES);
    prefix.extend_from_slice(&announced.to_be_bytes());
    child.send(&prefix).await?;
    match child.next(EXIT_LIMIT).await {
        Ok(None) => {}
        Ok(Some(got)) => {
            return Err(format!(
                "after an oversized prefix the child sent {}",
                describe(&got)
            ));
        }
        Err(err) => {
            return Err(format!(
                "after an oversized prefix the child did not close its output: {err}"
            ));
        }
    }
    match child.exit_within(EXIT_LIMIT).await {
        Some(status) if !status.success() => Ok(format!(
            "an answer over the parent's 4096 bytes became an error of kind {}; an oversized frame made the child exit ({})",
            error["kind"],
            exited(status)
        )),
        Some(_) => Err("the child exited with code 0 after an oversized frame".to_owned()),
        None => Err("the child did not exit after an oversized frame".to_owned()),
    }
}
