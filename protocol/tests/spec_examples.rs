//! Every hex example in `docs/protocol.md`, decoded by the Rust code: the
//! length prefix, the frame kind named in its title, and each JSON payload
//! read into its type and written back byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use bulkhead_protocol::wire::{
    Diagnostic, Frame, Handshake, Hello, Progress, RemoteError, Success, frame_length,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

const SPEC: &str = include_str!("../../docs/protocol.md");

/// One example: its title line and its bytes.
struct Example {
    title: String,
    bytes: Vec<u8>,
}

/// Every block of lines `0000  xx xx ...` and the title line above it,
/// which ends in `N bytes`.
fn examples() -> Vec<Example> {
    let lines: Vec<&str> = SPEC.lines().collect();
    let mut examples = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        if !line.starts_with("0000  ") || at == 0 {
            continue;
        }
        let title = lines[at - 1].to_owned();
        let mut bytes = Vec::new();
        for (offset, dump) in lines[at..].iter().enumerate() {
            let prefix = format!("{:04x}  ", offset * 16);
            if !dump.starts_with(&prefix) {
                break;
            }
            // Hex fills columns 6 to 53; an annotation may follow.
            let hex = &dump[6..dump.len().min(53)];
            for pair in hex.split_whitespace() {
                bytes.push(u8::from_str_radix(pair, 16).expect("a hex byte"));
            }
        }
        examples.push(Example { title, bytes });
    }
    examples
}

/// Reads `payload` as `T` and checks that writing it back gives the same
/// bytes: the example is what the Rust encoder sends.
fn round_trips<T: DeserializeOwned + Serialize>(title: &str, payload: &[u8]) {
    let value: T = serde_json::from_slice(payload)
        .unwrap_or_else(|err| panic!("{title}: the payload does not decode: {err}"));
    let written = serde_json::to_vec(&value).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&written),
        String::from_utf8_lossy(payload),
        "{title}"
    );
}

#[test]
fn every_hex_example_decodes_as_its_title_says() {
    let examples = examples();
    let mut kinds = BTreeSet::new();
    for Example { title, bytes } in &examples {
        let announced: usize = title
            .trim_end()
            .strip_suffix(" bytes")
            .and_then(|rest| rest.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("the title {title:?} does not end in `N bytes`"));
        assert_eq!(bytes.len(), announced, "{title}: byte count");
        let len = frame_length(bytes, u32::MAX).unwrap().unwrap();
        assert_eq!(len + 4, bytes.len(), "{title}: length prefix");
        let frame = Frame::decode(&bytes[4..]).unwrap_or_else(|err| panic!("{title}: {err}"));
        let kind = frame.kind().to_string();
        assert_eq!(title.split(' ').next(), Some(kind.as_str()), "{title}");
        kinds.insert(kind);
        match frame {
            Frame::Hello { payload } => round_trips::<Hello>(title, payload),
            Frame::Handshake { payload } => round_trips::<Handshake>(title, payload),
            Frame::Diagnostic { payload, .. } => round_trips::<Diagnostic>(title, payload),
            Frame::Progress { payload, .. } => round_trips::<Progress>(title, payload),
            Frame::Error { payload, .. } => round_trips::<RemoteError>(title, payload),
            Frame::Success { payload, .. } => {
                let success: Success<serde_json::Value> = serde_json::from_slice(payload).unwrap();
                assert!(success.value.is_object(), "{title}");
            }
            Frame::Request { args, .. } => {
                serde_json::from_slice::<serde_json::Value>(args).unwrap();
            }
            Frame::Row { payload, .. } => {
                serde_json::from_slice::<serde_json::Value>(payload).unwrap();
            }
            Frame::Cancel { .. } | Frame::Shutdown => {}
        }
    }
    let all = [
        "hello",
        "handshake",
        "request",
        "cancel",
        "shutdown",
        "row",
        "diagnostic",
        "progress",
        "success",
        "error",
    ];
    assert_eq!(
        kinds,
        all.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>(),
        "every kind has an example"
    );
}
