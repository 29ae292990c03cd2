//! The generated impls trigger no lints, even strict ones.

#![deny(warnings, missing_docs, unused_qualifications, unused_results)]

use serde::{Deserialize, Serialize};

/// A unary command.
#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(response = u64)]
pub struct Add<T> {
    /// Operands.
    pub operands: Vec<T>,
}

/// A streaming command.
#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(stream, row = String, summary = u64, name = "scan")]
pub enum Scan {
    /// All rows.
    All,
}

fn main() {
    use bulkhead::Command;
    assert_eq!(Add::<u8>::NAME, "add");
    assert_eq!(Scan::NAME, "scan");
}
