//! Continuous capture of the child's stderr into a bounded ring.
//!
//! The reader runs for the life of the child, so a chatty child never blocks
//! on a full pipe; only the newest bytes are kept for error reports.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::ChildStderr;
use tokio::task::JoinHandle;

/// The newest bytes a child wrote to stderr.
#[derive(Debug, Clone)]
pub(crate) struct StderrRing {
    bytes: Arc<Mutex<VecDeque<u8>>>,
    capacity: usize,
}

impl StderrRing {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            bytes: Arc::new(Mutex::new(VecDeque::with_capacity(capacity.min(64 * 1024)))),
            capacity,
        }
    }

    fn push(&self, chunk: &[u8]) {
        if self.capacity == 0 {
            return;
        }
        let mut ring = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        let chunk = &chunk[chunk.len().saturating_sub(self.capacity)..];
        let overflow = (ring.len() + chunk.len()).saturating_sub(self.capacity);
        ring.drain(..overflow);
        ring.extend(chunk);
    }

    /// The captured text, lossily decoded.
    pub(crate) fn tail(&self) -> String {
        let ring = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        let (a, b) = ring.as_slices();
        let mut bytes = Vec::with_capacity(a.len() + b.len());
        bytes.extend_from_slice(a);
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Starts draining `stderr` into this ring until it closes, logging
    /// each line too when `forward` says whose it is.
    pub(crate) fn drain(&self, mut stderr: ChildStderr, forward: Option<Forward>) -> StderrTask {
        let ring = self.clone();
        let task = tokio::spawn(async move {
            let mut chunk = vec![0u8; 8192];
            let mut lines = forward.map(Lines::new);
            loop {
                match stderr.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        ring.push(&chunk[..n]);
                        if let Some(lines) = &mut lines {
                            lines.push(&chunk[..n]);
                        }
                    }
                }
            }
            if let Some(lines) = &mut lines {
                lines.finish();
            }
        });
        StderrTask { task }
    }
}

/// Whose stderr is forwarded to `tracing`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Forward {
    pub(crate) generation: u64,
    pub(crate) pid: Option<u32>,
}

/// Splits a byte stream into lines and logs each one.
struct Lines {
    whose: Forward,
    partial: Vec<u8>,
}

/// The longest line logged in one event.
const LONGEST_LINE: usize = 16 * 1024;

impl Lines {
    fn new(whose: Forward) -> Self {
        Self {
            whose,
            partial: Vec::new(),
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        while let Some(end) = bytes.iter().position(|&byte| byte == b'\n') {
            self.partial.extend_from_slice(&bytes[..end]);
            self.emit();
            bytes = &bytes[end + 1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() >= LONGEST_LINE {
            let rest = self.partial.split_off(LONGEST_LINE);
            self.emit();
            self.partial = rest;
        }
    }

    /// Logs what is left after the pipe closed.
    fn finish(&mut self) {
        if !self.partial.is_empty() {
            self.emit();
        }
    }

    fn emit(&mut self) {
        let line = String::from_utf8_lossy(&self.partial);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        tracing::info!(
            target: "bulkhead::child",
            generation = self.whose.generation,
            pid = self.whose.pid,
            "{line}"
        );
        self.partial.clear();
    }
}

/// The task draining one child's stderr.
#[derive(Debug)]
pub(crate) struct StderrTask {
    task: JoinHandle<()>,
}

impl StderrTask {
    /// Waits up to `limit` for the pipe to close, so that a report made after
    /// the child exited sees everything it wrote. A grandchild holding the
    /// pipe open cannot stall the caller longer than `limit`.
    pub(crate) async fn settle(&mut self, limit: Duration) {
        // A panic or cancellation of the drain task only ends the capture early.
        let _settled = tokio::time::timeout(limit, &mut self.task).await;
    }
}

impl Drop for StderrTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_only_the_newest_bytes() {
        let ring = StderrRing::new(8);
        ring.push(b"hello ");
        ring.push(b"world!");
        assert_eq!(ring.tail(), "o world!");
        ring.push(b"0123456789");
        assert_eq!(ring.tail(), "23456789");
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let ring = StderrRing::new(0);
        ring.push(b"abc");
        assert_eq!(ring.tail(), "");
    }
}
