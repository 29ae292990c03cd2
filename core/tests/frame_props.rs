//! Property tests of the frame decoder: arbitrary bytes never panic it, and
//! encoded frames survive any split of the byte stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bulkhead::wire::{Frame, FrameCodec, FrameEncoder, FrameError, FrameKind};
use bytes::BytesMut;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

/// Feeds `bytes` to a codec in chunks of the given sizes, decoding each body.
/// Returns the bodies decoded and the error that stopped decoding, if any.
fn feed(bytes: &[u8], chunks: &[usize], max: u32) -> (Vec<Vec<u8>>, Option<FrameError>) {
    let mut codec = FrameCodec::new(max);
    let mut buf = BytesMut::new();
    let mut bodies = Vec::new();
    let mut rest = bytes;
    let mut sizes = chunks.iter().cycle();
    loop {
        let take = if rest.is_empty() {
            0
        } else {
            (*sizes.next().unwrap()).clamp(1, rest.len())
        };
        buf.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        loop {
            let step = if rest.is_empty() {
                codec.decode_eof(&mut buf)
            } else {
                codec.decode(&mut buf)
            };
            match step {
                Ok(Some(body)) => {
                    assert!(body.len() <= max as usize);
                    // Parsing must not panic whatever the body holds.
                    let _parsed = Frame::decode(&body);
                    bodies.push(body.to_vec());
                }
                Ok(None) => break,
                Err(err) => return (bodies, Some(err)),
            }
        }
        if rest.is_empty() {
            return (bodies, None);
        }
    }
}

#[derive(Debug, Clone)]
enum Sent {
    Row {
        request: u64,
        stream: String,
        seq: u64,
        text: String,
    },
    Request {
        request: u64,
        command: String,
        number: i64,
    },
    Cancel {
        request: u64,
    },
    Error {
        request: u64,
        text: String,
    },
}

fn sent() -> impl Strategy<Value = Sent> {
    prop_oneof![
        (any::<u64>(), "[a-z]{0,12}", any::<u64>(), ".{0,40}").prop_map(
            |(request, stream, seq, text)| Sent::Row {
                request,
                stream,
                seq,
                text
            }
        ),
        (any::<u64>(), "[a-z_]{1,20}", any::<i64>()).prop_map(|(request, command, number)| {
            Sent::Request {
                request,
                command,
                number,
            }
        }),
        any::<u64>().prop_map(|request| Sent::Cancel { request }),
        (any::<u64>(), ".{0,40}").prop_map(|(request, text)| Sent::Error { request, text }),
    ]
}

fn encode(frames: &[Sent]) -> Vec<u8> {
    let encoder = FrameEncoder::default();
    let mut buf = Vec::new();
    for frame in frames {
        match frame {
            Sent::Row {
                request,
                stream,
                seq,
                text,
            } => encoder.row(&mut buf, *request, stream, *seq, text).unwrap(),
            Sent::Request {
                request,
                command,
                number,
            } => {
                encoder
                    .request(&mut buf, *request, command, number)
                    .unwrap();
            }
            Sent::Cancel { request } => encoder.bare(&mut buf, FrameKind::Cancel, *request),
            Sent::Error { request, text } => encoder
                .json(&mut buf, FrameKind::Error, *request, text)
                .unwrap(),
        }
    }
    buf
}

fn matches(sent: &Sent, body: &[u8]) -> bool {
    match (sent, Frame::decode(body).unwrap()) {
        (
            Sent::Row {
                request,
                stream,
                seq,
                text,
            },
            Frame::Row {
                request: r,
                stream: s,
                seq: q,
                payload,
            },
        ) => {
            *request == r
                && stream == s
                && *seq == q
                && serde_json::from_slice::<String>(payload).unwrap() == *text
        }
        (
            Sent::Request {
                request,
                command,
                number,
            },
            Frame::Request {
                request: r,
                command: c,
                args,
            },
        ) => {
            *request == r && command == c && serde_json::from_slice::<i64>(args).unwrap() == *number
        }
        (Sent::Cancel { request }, Frame::Cancel { request: r }) => *request == r,
        (
            Sent::Error { request, text },
            Frame::Error {
                request: r,
                payload,
            },
        ) => *request == r && serde_json::from_slice::<String>(payload).unwrap() == *text,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        chunks in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let (bodies, _err) = feed(&bytes, &chunks, 256);
        let consumed: usize = bodies.iter().map(|body| body.len() + 4).sum();
        prop_assert!(consumed <= bytes.len());
    }

    #[test]
    fn frames_survive_any_split_of_the_stream(
        frames in proptest::collection::vec(sent(), 0..20),
        chunks in proptest::collection::vec(1usize..100, 1..8),
    ) {
        let bytes = encode(&frames);
        let (bodies, err) = feed(&bytes, &chunks, 1 << 20);
        prop_assert!(err.is_none(), "{err:?}");
        prop_assert_eq!(bodies.len(), frames.len());
        for (frame, body) in frames.iter().zip(&bodies) {
            prop_assert!(matches(frame, body), "{frame:?} != {:?}", Frame::decode(body));
        }
    }

    #[test]
    fn a_cut_stream_is_truncation_not_a_frame(
        frames in proptest::collection::vec(sent(), 1..10),
        cut in 1usize..64,
    ) {
        let bytes = encode(&frames);
        let last = encode(&frames[frames.len() - 1..]).len();
        let cut = cut.min(last - 1);
        let (bodies, err) = feed(&bytes[..bytes.len() - cut], &[7], 1 << 20);
        prop_assert_eq!(bodies.len(), frames.len() - 1);
        prop_assert!(matches!(err, Some(FrameError::Truncated { .. })), "{err:?}");
    }
}
