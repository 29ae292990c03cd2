//! The items of the demo's batch (`capability_runner`): good ones and
//! hostile ones, what each should come to, and how to tell.

use bulkhead::WorkerError;
use bulkhead::pool::{CallError, ItemError, Lease};
use bulkhead::sink::Counting;
use bulkhead_fixture::{Abort, Balloon, Count, Echo, Fail, Hang, Inject, Segfault};

/// One item of the demo's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hazard {
    /// Echo a word back: good.
    Echo(&'static str),
    /// Stream this many rows: good.
    Count(u64),
    /// A handler error: the child reports it and lives.
    Fail,
    /// The child aborts (SIGABRT).
    Abort,
    /// The child dies of a segmentation fault.
    Segfault,
    /// The child sleeps for ever and ignores cancellation.
    Hang,
    /// The child allocates this many MiB, past its memory limit.
    Balloon(u64),
    /// The child writes bytes that are not a frame into the channel.
    Garbage,
}

/// What an item should come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Success.
    Ok,
    /// A failure of one of these kinds ([`WorkerError::kind`]).
    Failure(&'static [&'static str]),
}

/// Whether an item came to what it should have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It did.
    AsExpected,
    /// It did not.
    Mismatch,
}

impl Hazard {
    /// The demo's batch: good items with hostile ones among them.
    pub fn batch() -> Vec<Hazard> {
        vec![
            Hazard::Echo("alpha"),
            Hazard::Count(10_000),
            Hazard::Abort,
            Hazard::Echo("beta"),
            Hazard::Segfault,
            Hazard::Count(2_500),
            Hazard::Hang,
            Hazard::Echo("gamma"),
            Hazard::Balloon(1024),
            Hazard::Fail,
            Hazard::Garbage,
            Hazard::Echo("delta"),
        ]
    }

    /// A short description for the table.
    pub fn label(&self) -> String {
        match self {
            Hazard::Echo(word) => format!("echo \"{word}\""),
            Hazard::Count(rows) => format!("stream {rows} rows"),
            Hazard::Fail => "handler error".to_owned(),
            Hazard::Abort => "abort".to_owned(),
            Hazard::Segfault => "segfault".to_owned(),
            Hazard::Hang => "hang, ignoring cancel".to_owned(),
            Hazard::Balloon(mib) => format!("allocate {mib} MiB"),
            Hazard::Garbage => "garbage on the channel".to_owned(),
        }
    }

    /// What the item should come to.
    pub fn expect(&self) -> Expect {
        match self {
            Hazard::Echo(_) | Hazard::Count(_) => Expect::Ok,
            Hazard::Fail => Expect::Failure(&["remote"]),
            Hazard::Abort | Hazard::Segfault => Expect::Failure(&["child_exited"]),
            Hazard::Hang => Expect::Failure(&["timeout"]),
            // The kernel's enforcer ends the child (a memory cgroup), or the
            // allocation fails and the child aborts (an address-space limit).
            Hazard::Balloon(_) => Expect::Failure(&["memory_limit", "child_exited"]),
            Hazard::Garbage => Expect::Failure(&["frame", "protocol"]),
        }
    }

    /// Whether the item ends its child (which the pool then replaces).
    pub fn ends_child(&self) -> bool {
        !matches!(self, Hazard::Echo(_) | Hazard::Count(_) | Hazard::Fail)
    }

    /// Whether `outcome` is what the item should have come to. A crash must
    /// name its signal (on Unix), a memory failure must say so.
    pub fn judge(&self, outcome: &Result<String, ItemError>) -> Verdict {
        let fits = match (self.expect(), outcome) {
            (Expect::Ok, Ok(_)) => true,
            (Expect::Failure(kinds), Err(ItemError::Call(error))) => {
                kinds.contains(&error.kind()) && self.named(error)
            }
            _ => false,
        };
        if fits {
            Verdict::AsExpected
        } else {
            Verdict::Mismatch
        }
    }

    /// Whether the error's text names the cause a reader needs.
    fn named(&self, error: &CallError) -> bool {
        let text = error.to_string();
        match self {
            Hazard::Abort => !cfg!(unix) || text.contains("SIGABRT"),
            Hazard::Segfault => !cfg!(unix) || text.contains("SIGSEGV"),
            Hazard::Hang => text.contains("timed out"),
            Hazard::Balloon(_) => text.contains("memory"),
            _ => true,
        }
    }

    /// Runs the item on a lease and describes its answer.
    pub async fn run(self, worker: &mut Lease<String>) -> Result<String, WorkerError> {
        match self {
            Hazard::Echo(word) => worker
                .call(&Echo { text: word.into() })
                .await
                .map(|reply| format!("\"{reply}\"")),
            Hazard::Count(n) => {
                let count = Count {
                    n,
                    progress_every: 0,
                    diagnostic_every: 0,
                };
                let summary = worker.stream(&count, Counting::default()).await?;
                Ok(format!("{} rows, as the child counted", summary.rows))
            }
            Hazard::Fail => {
                let fail = Fail {
                    message: "no such record".into(),
                    code: 404,
                };
                worker.call(&fail).await.map(|()| "no error".to_owned())
            }
            Hazard::Abort => {
                let abort = Abort {
                    message: "demo: aborting on purpose".into(),
                };
                worker.call(&abort).await.map(|()| "still alive".to_owned())
            }
            Hazard::Segfault => worker
                .call(&Segfault {})
                .await
                .map(|()| "still alive".to_owned()),
            Hazard::Hang => worker
                .call(&Hang {
                    check_cancel: false,
                })
                .await
                .map(|()| "woke up".to_owned()),
            Hazard::Balloon(mib) => worker
                .call(&Balloon { mib })
                .await
                .map(|()| "allocated".to_owned()),
            Hazard::Garbage => {
                let inject = Inject {
                    before: 1,
                    bytes: b"\x00\x00\x00\x05\xffgarbage".to_vec(),
                    exit: false,
                };
                let summary = worker.stream(&inject, Counting::default()).await?;
                Ok(format!("{} rows", summary.rows))
            }
        }
    }
}
