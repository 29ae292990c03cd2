//! The JSON rules `docs/protocol.md` §3 states, as the Rust side applies
//! them to payloads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulkhead_protocol::wire::{Diagnostic, Progress, Success};
use serde_json::Value;
use serde_json::value::RawValue;

#[test]
fn nan_and_infinity_are_not_json() {
    for text in ["NaN", "Infinity", "-Infinity", "[1, NaN]"] {
        assert!(serde_json::from_str::<Value>(text).is_err(), "{text}");
        assert!(
            serde_json::from_str::<Box<RawValue>>(text).is_err(),
            "{text}"
        );
    }
}

#[test]
fn payloads_must_be_utf8() {
    let bytes = b"{\"level\":\"info\",\"message\":\"\xff\"}";
    assert!(serde_json::from_slice::<Diagnostic>(bytes).is_err());
    assert!(serde_json::from_slice::<Box<RawValue>>(b"\"\xff\"").is_err());
}

#[test]
fn sixty_four_bit_fields_take_whole_numbers_in_range_only() {
    let ok: Progress = serde_json::from_str(r#"{"done":18446744073709551615}"#).unwrap();
    assert_eq!(ok.done, u64::MAX);
    for text in [
        r#"{"done":18446744073709551616}"#,
        r#"{"done":-1}"#,
        r#"{"done":1.0}"#,
        r#"{"done":"1"}"#,
    ] {
        assert!(serde_json::from_str::<Progress>(text).is_err(), "{text}");
    }
}

#[test]
fn raw_values_keep_their_text_whatever_the_size_of_a_number() {
    let text = "123456789012345678901234567890";
    let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
    assert_eq!(raw.get(), text);
    let success: Success<Box<RawValue>> =
        serde_json::from_str(r#"{"value":{"big":123456789012345678901234567890}}"#).unwrap();
    assert_eq!(
        success.value.get(),
        r#"{"big":123456789012345678901234567890}"#
    );
}

#[test]
fn a_repeated_key_is_refused_in_a_typed_payload() {
    let text = r#"{"level":"info","message":"a","message":"b"}"#;
    let err = serde_json::from_str::<Diagnostic>(text).unwrap_err();
    assert!(err.to_string().contains("duplicate field"), "{err}");
}

#[test]
fn unknown_fields_are_ignored() {
    let diagnostic: Diagnostic =
        serde_json::from_str(r#"{"level":"warn","message":"m","from_the_future":[1,2]}"#).unwrap();
    assert_eq!(diagnostic.message, "m");
}
