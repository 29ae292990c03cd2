//! Typed row decoding: any body is parsed as a frame, and a row's payload
//! decoded straight into the caller's type, as the parent does, without
//! panicking; so are the terminal payloads it reads.

#![no_main]

use bulkhead::wire::{Frame, RemoteError, Success};
use bulkhead_fixture::Item;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fn decode_row(payload: &[u8]) {
    let typed = serde_json::from_slice::<Item>(payload);
    let raw = serde_json::from_slice::<Box<RawValue>>(payload);
    // A row that decodes into the type is valid JSON too.
    if typed.is_ok() {
        assert!(
            raw.is_ok(),
            "typed decoding accepted what raw decoding refused"
        );
    }
    let _ = serde_json::from_slice::<u64>(payload);
    let _ = serde_json::from_slice::<String>(payload);
}

fuzz_target!(|body: &[u8]| {
    match Frame::decode(body) {
        Ok(Frame::Row { payload, .. }) => decode_row(payload),
        Ok(Frame::Success { payload, .. }) => {
            if let Ok(success) = serde_json::from_slice::<Success<Box<RawValue>>>(payload) {
                let _ = serde_json::from_str::<Item>(success.value.get());
            }
        }
        Ok(Frame::Error { payload, .. }) => {
            let _ = serde_json::from_slice::<RemoteError>(payload);
        }
        _ => decode_row(body),
    }
});
