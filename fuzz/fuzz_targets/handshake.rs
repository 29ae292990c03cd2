//! Handshake decoding: any body the child sends first is parsed as a frame,
//! and a handshake (or hello) payload as JSON, without panicking; what
//! decodes re-encodes to the same value.

#![no_main]

use bulkhead::wire::{Frame, FrameEncoder, FrameKind, Handshake, Hello};
use libfuzzer_sys::fuzz_target;

/// Encodes `value` as a frame of `kind` and decodes it back.
fn round_trip<T>(kind: FrameKind, value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut out = Vec::new();
    FrameEncoder::new(u32::MAX)
        .json(&mut out, kind, 0, value)
        .expect("a decoded value encodes");
    let frame = Frame::decode(&out[4..]).expect("an encoded frame decodes");
    let payload = match frame {
        Frame::Hello { payload } | Frame::Handshake { payload } => payload,
        other => panic!("encoded {kind} came back as {}", other.kind()),
    };
    serde_json::from_slice(payload).expect("an encoded payload decodes")
}

fuzz_target!(|body: &[u8]| {
    match Frame::decode(body) {
        Ok(Frame::Handshake { payload }) => {
            if let Ok(handshake) = serde_json::from_slice::<Handshake>(payload) {
                assert_eq!(round_trip(FrameKind::Handshake, &handshake), handshake);
            }
        }
        Ok(Frame::Hello { payload }) => {
            if let Ok(hello) = serde_json::from_slice::<Hello>(payload) {
                assert_eq!(round_trip(FrameKind::Hello, &hello), hello);
            }
        }
        _ => {}
    }
    // The payload alone, as the parent decodes it.
    if let Ok(handshake) = serde_json::from_slice::<Handshake>(body) {
        assert_eq!(round_trip(FrameKind::Handshake, &handshake), handshake);
    }
});
