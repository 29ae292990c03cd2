use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use bulkhead_protocol::wire::{Frame, Success, frame_length};
use serde::{Deserialize, Serialize};

use super::*;
use crate::context::CancelMark;
use crate::output::Output;

#[derive(Serialize, Deserialize, bulkhead_protocol::Command)]
#[command(response = String)]
struct Echo {
    text: String,
}

/// A writer whose bytes the test reads back.
#[derive(Clone, Default)]
struct Written(Arc<Mutex<Vec<u8>>>);

impl Write for Written {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Handles one request and returns the outcome with the success
/// payload written, if any.
fn handle(
    capability: &Capability,
    command: &str,
    args: &str,
) -> (Handled, Option<Success<serde_json::Value>>) {
    let written = Written::default();
    let output = Output::start(Box::new(written.clone())).unwrap();
    let cancel = CancelMark::default();
    let handled = capability.handle(
        command,
        args.as_bytes(),
        &mut Context::new(1, &output, &cancel),
    );
    output.close();
    let bytes = written.0.lock().unwrap().clone();
    let mut success = None;
    let mut rest = &bytes[..];
    while let Some(len) = frame_length(rest, u32::MAX).unwrap() {
        let (body, tail) = rest[4..].split_at(len);
        if let Frame::Success { payload, .. } = Frame::decode(body).unwrap() {
            success = Some(serde_json::from_slice(payload).unwrap());
        }
        rest = tail;
    }
    (handled, success)
}

fn with_session(opened: Arc<Mutex<Vec<String>>>) -> Capability {
    Capability::new("test", "0.0.0")
        .unary(|request: Echo, _cx| Ok::<_, HandlerError>(request.text))
        .session(move |key: String, _cx| {
            if key == "refuse" {
                return Err(HandlerError::new("refused"));
            }
            if key == "panic" {
                panic!("no such key");
            }
            opened.lock().unwrap().push(key);
            Ok::<_, HandlerError>(())
        })
}

#[test]
fn session_open_runs_the_handler_and_answers_null() {
    let opened = Arc::default();
    let capability = with_session(Arc::clone(&opened));
    let (handled, success) = handle(&capability, SESSION_COMMAND, r#""warm""#);
    handled.unwrap();
    assert_eq!(success.unwrap().value, serde_json::Value::Null);
    assert_eq!(*opened.lock().unwrap(), ["warm"]);
}

#[test]
fn session_is_announced_but_not_listed() {
    let capability = with_session(Arc::default());
    assert!(capability.sessions());
    let names: Vec<&str> = capability
        .commands()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["echo"]);
    assert!(!Capability::new("plain", "0.0.0").sessions());
}

#[test]
fn session_key_that_does_not_decode_is_a_bad_request() {
    let opened = Arc::default();
    let capability = with_session(Arc::clone(&opened));
    let err = handle(&capability, SESSION_COMMAND, "42").0.unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::BadRequest);
    assert!(opened.lock().unwrap().is_empty());
}

#[test]
fn session_handler_error_fails_the_open() {
    let capability = with_session(Arc::default());
    let err = handle(&capability, SESSION_COMMAND, r#""refuse""#)
        .0
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::Handler);
    assert_eq!(err.message, "refused");
    assert!(!err.replace);
}

#[test]
fn session_handler_panic_asks_for_replacement() {
    let capability = with_session(Arc::default());
    let err = handle(&capability, SESSION_COMMAND, r#""panic""#)
        .0
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::Panic);
    assert!(err.message.contains("no such key"), "{}", err.message);
    assert!(err.replace);
}

#[test]
fn session_open_without_a_handler_is_an_unknown_command() {
    let capability = Capability::new("plain", "0.0.0")
        .unary(|request: Echo, _cx| Ok::<_, HandlerError>(request.text));
    let err = handle(&capability, SESSION_COMMAND, r#""warm""#)
        .0
        .unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::UnknownCommand);
    assert!(
        err.message.contains("does not open sessions"),
        "{}",
        err.message
    );
}

#[test]
fn later_session_handler_replaces_the_earlier_one() {
    let first: Arc<Mutex<Vec<String>>> = Arc::default();
    let second: Arc<Mutex<Vec<String>>> = Arc::default();
    let capability = with_session(Arc::clone(&first)).session({
        let second = Arc::clone(&second);
        move |key: String, _cx| {
            second.lock().unwrap().push(key);
            Ok::<_, HandlerError>(())
        }
    });
    handle(&capability, SESSION_COMMAND, r#""warm""#).0.unwrap();
    assert!(first.lock().unwrap().is_empty());
    assert_eq!(*second.lock().unwrap(), ["warm"]);
}

#[test]
fn commands_still_dispatch_next_to_a_session() {
    let capability = with_session(Arc::default());
    let (handled, success) = handle(&capability, "echo", r#"{"text":"hi"}"#);
    handled.unwrap();
    assert_eq!(success.unwrap().value, "hi");
}

#[test]
fn the_protocol_prefix_is_reserved() {
    assert!(is_reserved(SESSION_COMMAND));
    assert!(is_reserved(DOCTOR_COMMAND));
    assert!(is_reserved("bulkhead.anything"));
    assert!(!is_reserved("bulkhead"));
    assert!(!is_reserved("bulkhead_session"));
    assert!(!is_reserved("Bulkhead.session"));
    assert!(!is_reserved(""));
}

#[test]
fn commands_carry_their_type_names() {
    let capability = with_session(Arc::default());
    let echo = &capability.commands()[0];
    assert_eq!(echo.kind(), "unary");
    assert!(
        echo.request.as_deref().unwrap().ends_with("::Echo"),
        "{echo:?}"
    );
    assert_eq!(echo.output.as_deref(), Some("alloc::string::String"));
    assert_eq!(echo.row, None);
}

fn with_doctor() -> Capability {
    Capability::new("test", "0.0.0")
        .fact("engine", "1.2")
        .doctor(|_cx| {
            Ok::<_, HandlerError>(vec![
                Finding::error("model_missing", "model.bin", "the model file is missing")
                    .hint("fetch it"),
            ])
        })
}

#[test]
fn doctor_answers_with_its_findings() {
    let capability = with_doctor();
    assert!(capability.doctor_served());
    assert!(capability.commands().is_empty());
    assert_eq!(capability.facts()["engine"], "1.2");
    let (handled, success) = handle(&capability, DOCTOR_COMMAND, "null");
    handled.unwrap();
    let findings: Vec<Finding> = serde_json::from_value(success.unwrap().value).unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].code, "model_missing");
    assert_eq!(findings[0].hint.as_deref(), Some("fetch it"));
}

#[test]
fn doctor_without_a_handler_is_an_unknown_command() {
    let capability = with_session(Arc::default());
    let err = handle(&capability, DOCTOR_COMMAND, "null").0.unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::UnknownCommand);
    assert!(err.message.contains("no doctor handler"), "{}", err.message);
}
