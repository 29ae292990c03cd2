//! Frame reading: the one `FrameReader`'s async face (the parent's) and its
//! blocking face (the child's) must split any byte stream, delivered in
//! chunks of any size, into the same frames and the same error, without
//! panicking; every body must parse or fail cleanly.
//!
//! Input: a chunk size byte, a maximum-frame selector byte, then the stream.

#![no_main]

use std::pin::Pin;
use std::task::{Context, Poll};

use bulkhead::wire::{Frame, FrameError, FrameReader};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncRead, ReadBuf};

/// What reading produced: bodies, then how the stream ended.
#[derive(Debug, Default, PartialEq, Eq)]
struct Read {
    bodies: Vec<Vec<u8>>,
    end: End,
}

impl Read {
    /// Records what a reader returned; false once the stream has ended.
    fn take(&mut self, next: Option<Result<&[u8], FrameError>>) -> bool {
        match next {
            Some(Ok(body)) => {
                self.bodies.push(body.to_vec());
                true
            }
            Some(Err(error)) => {
                self.end = end_of(error);
                false
            }
            None => false,
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
enum End {
    #[default]
    Clean,
    TooLarge {
        len: u64,
        max: u32,
    },
    Truncated {
        buffered: usize,
    },
}

fn end_of(error: FrameError) -> End {
    match error {
        FrameError::TooLarge { len, max } => End::TooLarge { len, max },
        FrameError::Truncated { buffered } => End::Truncated { buffered },
        other => panic!("a reader failed with {other}"),
    }
}

/// Hands out at most `chunk` bytes per read.
struct Chunked {
    data: Vec<u8>,
    at: usize,
    chunk: usize,
}

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let left = self.data.len() - self.at;
        let take = self.chunk.min(left).min(buf.remaining());
        let at = self.at;
        buf.put_slice(&self.data[at..at + take]);
        self.at += take;
        Poll::Ready(Ok(()))
    }
}

impl std::io::Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let take = self.chunk.min(self.data.len() - self.at).min(buf.len());
        buf[..take].copy_from_slice(&self.data[self.at..self.at + take]);
        self.at += take;
        Ok(take)
    }
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
}

fn via_reader(data: &[u8], chunk: usize, max_frame: u32) -> Read {
    let io = Chunked {
        data: data.to_vec(),
        at: 0,
        chunk,
    };
    let mut reader = FrameReader::new(Box::pin(io), max_frame);
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let mut read = Read::default();
            while read.take(reader.next().await) {}
            read
        })
    })
}

fn via_blocking(data: &[u8], chunk: usize, max_frame: u32) -> Read {
    let io = Chunked {
        data: data.to_vec(),
        at: 0,
        chunk,
    };
    let mut reader = FrameReader::new(io, max_frame);
    let mut read = Read::default();
    while read.take(reader.read_frame()) {}
    read
}

fuzz_target!(|input: &[u8]| {
    let [chunk, max, data @ ..] = input else {
        return;
    };
    let chunk = 1 + usize::from(*chunk % 64);
    let max_frame = [16, 4096, 1 << 20, u32::MAX][usize::from(*max % 4)];
    let from_reader = via_reader(data, chunk, max_frame);
    let from_blocking = via_blocking(data, chunk, max_frame);
    assert_eq!(from_reader, from_blocking);
    for body in &from_reader.bodies {
        if let Ok(frame) = Frame::decode(body) {
            // Every parsed frame knows its kind and request.
            let _ = (frame.kind(), frame.request());
        }
    }
});
