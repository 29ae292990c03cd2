//! Property tests of the one frame reader, through both of its faces:
//! arbitrary bytes never panic it, encoded frames survive any split of the
//! byte stream, a body of exactly the maximum passes and one byte more does
//! not, a cut stream is truncation, and an empty body is a frame of its own
//! that does not parse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
#[cfg(feature = "async")]
use std::pin::Pin;
#[cfg(feature = "async")]
use std::task::{Context, Poll};

use bulkhead_protocol::wire::{Frame, FrameEncoder, FrameError, FrameKind, FrameReader};
use proptest::prelude::*;
#[cfg(feature = "async")]
use tokio::io::{AsyncRead, ReadBuf};

/// Hands out `bytes` in chunks of the given sizes, in turn.
struct Chunked {
    bytes: Vec<u8>,
    at: usize,
    chunks: Vec<usize>,
    turn: usize,
}

impl Chunked {
    fn new(bytes: &[u8], chunks: &[usize]) -> Self {
        Self {
            bytes: bytes.to_vec(),
            at: 0,
            chunks: chunks.to_vec(),
            turn: 0,
        }
    }

    fn next_chunk(&mut self, room: usize) -> &[u8] {
        let size = self.chunks[self.turn % self.chunks.len()].max(1);
        self.turn += 1;
        let take = size.min(room).min(self.bytes.len() - self.at);
        let chunk = &self.bytes[self.at..self.at + take];
        self.at += take;
        chunk
    }
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let chunk = self.next_chunk(buf.len());
        let n = chunk.len();
        buf[..n].copy_from_slice(chunk);
        Ok(n)
    }
}

#[cfg(feature = "async")]
impl AsyncRead for Chunked {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let chunk = this.next_chunk(buf.remaining());
        buf.put_slice(chunk);
        Poll::Ready(Ok(()))
    }
}

/// Reads `bytes`, split by `chunks`, through the blocking face, draining
/// what each read brought with `next_buffered` as the parent's request loop
/// does.
fn blocking(bytes: &[u8], chunks: &[usize], max: u32) -> (Vec<Vec<u8>>, Option<FrameError>) {
    let mut reader = FrameReader::new(Chunked::new(bytes, chunks), max);
    let mut bodies = Vec::new();
    loop {
        let mut frame = reader.read_frame();
        loop {
            match frame {
                None => return (bodies, None),
                Some(Ok(body)) => {
                    assert!(body.len() <= max as usize);
                    // Parsing must not panic whatever the body holds.
                    let _parsed = Frame::decode(body);
                    bodies.push(body.to_vec());
                }
                Some(Err(err)) => return (bodies, Some(err)),
            }
            let Some(buffered) = reader.next_buffered() else {
                break;
            };
            frame = Some(buffered);
        }
    }
}

/// Reads the same through the async face: the bodies, and the error that
/// stopped reading as text.
#[cfg(feature = "async")]
fn asynchronous(bytes: &[u8], chunks: &[usize], max: u32) -> (Vec<Vec<u8>>, Option<String>) {
    let mut reader = FrameReader::new(Chunked::new(bytes, chunks), max);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut bodies = Vec::new();
        loop {
            match reader.next().await {
                None => return (bodies, None),
                Some(Ok(body)) => bodies.push(body.to_vec()),
                Some(Err(err)) => return (bodies, Some(err.to_string())),
            }
        }
    })
}

/// Reads through both faces (the async one with the `async` feature, as in
/// a workspace build), checks they agree, and returns the blocking face's
/// reading.
fn feed(bytes: &[u8], chunks: &[usize], max: u32) -> (Vec<Vec<u8>>, Option<FrameError>) {
    let (bodies, err) = blocking(bytes, chunks, max);
    #[cfg(feature = "async")]
    {
        let (async_bodies, async_err) = asynchronous(bytes, chunks, max);
        assert_eq!(bodies, async_bodies);
        assert_eq!(err.as_ref().map(ToString::to_string), async_err);
    }
    (bodies, err)
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
    fn a_body_of_the_maximum_passes_and_one_byte_more_does_not(
        max in 1u32..4096,
        chunks in proptest::collection::vec(1usize..100, 1..8),
    ) {
        let framed = |len: u32| {
            let mut bytes = len.to_be_bytes().to_vec();
            bytes.extend(std::iter::repeat_n(b'x', len as usize));
            bytes
        };
        let (bodies, err) = feed(&framed(max), &chunks, max);
        prop_assert!(err.is_none(), "{err:?}");
        prop_assert_eq!(bodies.len(), 1);
        prop_assert_eq!(bodies[0].len(), max as usize);
        let (bodies, err) = feed(&framed(max + 1), &chunks, max);
        prop_assert!(bodies.is_empty());
        let too_large = matches!(err, Some(FrameError::TooLarge { len, max: m }) if len == u64::from(max) + 1 && m == max);
        prop_assert!(too_large, "{err:?}");
    }

    #[test]
    fn an_empty_body_is_a_frame_that_does_not_parse(
        frames in proptest::collection::vec(sent(), 0..5),
        chunks in proptest::collection::vec(1usize..16, 1..4),
    ) {
        let mut bytes = encode(&frames);
        bytes.extend_from_slice(&0u32.to_be_bytes());
        let (bodies, err) = feed(&bytes, &chunks, 1 << 20);
        prop_assert!(err.is_none(), "{err:?}");
        prop_assert_eq!(bodies.len(), frames.len() + 1);
        prop_assert!(bodies[frames.len()].is_empty());
        prop_assert!(matches!(Frame::decode(&[]), Err(FrameError::Empty)));
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
