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

    /// Starts draining `stderr` into this ring until it closes.
    pub(crate) fn drain(&self, mut stderr: ChildStderr) -> StderrTask {
        let ring = self.clone();
        let task = tokio::spawn(async move {
            let mut chunk = vec![0u8; 8192];
            loop {
                match stderr.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => ring.push(&chunk[..n]),
                }
            }
        });
        StderrTask { task }
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
