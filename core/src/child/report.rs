//! What a check found, and why a build failed.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::describe::{Bytes, Span};
use crate::pool::PoolError;
use crate::wire::{ChildInfo, Finding, Severity};

/// Everything [`Child::check`](super::Child::check) learnt about a child:
/// where it was found, what its handshake said, and the findings of every
/// step, the child's own doctor findings among them. Serializes to JSON for
/// tools (durations in milliseconds).
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The binary that was started, once resolved.
    pub program: Option<PathBuf>,
    /// The transport's name.
    pub transport: &'static str,
    /// What the child's handshake said, once it started.
    pub info: Option<ChildInfo>,
    /// From spawn to a completed handshake.
    #[serde(rename = "startup_ms", serialize_with = "crate::describe::millis")]
    pub startup: Option<Duration>,
    /// The child's resident set size right after the handshake, where the
    /// platform tells.
    pub rss_after_start: Option<u64>,
    /// What each step found, in the order found.
    pub findings: Vec<Finding>,
    /// The end of the child's stderr when it failed to start.
    pub stderr_tail: Option<String>,
}

impl CheckReport {
    pub(super) fn new(transport: &'static str) -> Self {
        Self {
            program: None,
            transport,
            info: None,
            startup: None,
            rss_after_start: None,
            findings: Vec::new(),
            stderr_tail: None,
        }
    }

    pub(super) fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Whether any finding is an [`Error`](Severity::Error).
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    /// How many findings have `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.severity == severity)
            .count()
    }

    /// The errors, in the order found.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|finding| finding.severity == Severity::Error)
    }

    /// The finding with code `code`, if any.
    pub fn finding(&self, code: &str) -> Option<&Finding> {
        self.findings.iter().find(|finding| finding.code == code)
    }

    pub(super) fn log_warnings(&self) {
        for finding in &self.findings {
            if finding.severity == Severity::Warning {
                tracing::warn!(code = %finding.code, subject = %finding.subject, "{}", finding.message);
            }
        }
    }
}

/// The report for people: the child, then one line per finding.
impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.program {
            Some(program) => writeln!(f, "child      {}", program.display())?,
            None => writeln!(f, "child      not found")?,
        }
        if let Some(info) = &self.info {
            write!(
                f,
                "capability {} {}, pid {}",
                info.name, info.version, info.pid
            )?;
            if info.sessions {
                write!(f, ", opens sessions")?;
            }
            writeln!(f)?;
        }
        if let Some(startup) = self.startup {
            write!(f, "started    in {} over {}", Span(startup), self.transport)?;
            if let Some(rss) = self.rss_after_start {
                write!(f, ", {} resident", Bytes(rss))?;
            }
            writeln!(f)?;
        }
        if let Some(info) = &self.info {
            let commands: Vec<String> = info
                .commands
                .iter()
                .map(|command| format!("{} ({})", command.name, command.kind()))
                .collect();
            writeln!(f, "commands   {}", commands.join(", "))?;
            if !info.facts.is_empty() {
                let facts: Vec<String> = info
                    .facts
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect();
                writeln!(f, "facts      {}", facts.join(", "))?;
            }
        }
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        if let Some(tail) = &self.stderr_tail {
            writeln!(f, "the child's stderr ended with:")?;
            for line in tail.lines() {
                writeln!(f, "  | {line}")?;
            }
        }
        let plural = |n: usize, word: &str| match n {
            1 => format!("1 {word}"),
            n => format!("{n} {word}s"),
        };
        write!(
            f,
            "{}, {}",
            plural(self.count(Severity::Error), "error"),
            plural(self.count(Severity::Warning), "warning")
        )
    }
}

/// Why [`Child::worker`](super::Child::worker) or
/// [`Child::pool`](super::Child::pool) gave no worker or pool.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A check found an error; the report holds every finding.
    #[error("{}", Failed(.0))]
    Check(Box<CheckReport>),
    /// The pool's settings were refused.
    #[error(transparent)]
    Pool(PoolError),
}

impl BuildError {
    /// The report, when a check failed.
    pub fn report(&self) -> Option<&CheckReport> {
        match self {
            BuildError::Check(report) => Some(report),
            BuildError::Pool(_) => None,
        }
    }
}

/// The first error of a report, and how many more.
struct Failed<'a>(&'a CheckReport);

impl fmt::Display for Failed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut errors = self.0.errors();
        match errors.next() {
            Some(first) => {
                write!(f, "the child failed its checks: {}", first.message)?;
                if let Some(hint) = &first.hint {
                    write!(f, " ({hint})")?;
                }
                match errors.count() {
                    0 => Ok(()),
                    1 => write!(f, "; and 1 more error"),
                    more => write!(f, "; and {more} more errors"),
                }
            }
            None => f.write_str("the child failed its checks"),
        }
    }
}
