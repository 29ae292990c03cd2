//! The commands the application and its child share. This crate of types
//! depends on `bulkhead-protocol` alone, so both sides can use it.

use serde::{Deserialize, Serialize};

/// Counts from 0 to `n - 1`, one row per number.
#[derive(Debug, Clone, Serialize, Deserialize, bulkhead_protocol::Command)]
#[command(row = Number, summary = Counted)]
pub struct Count {
    /// How many numbers.
    pub n: u64,
}

/// One row of [`Count`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Number {
    /// The number.
    pub value: u64,
}

/// The summary of [`Count`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    /// Numbers emitted.
    pub emitted: u64,
}

/// Crashes the child on purpose, to show that the application survives.
#[derive(Debug, Clone, Serialize, Deserialize, bulkhead_protocol::Command)]
#[command(response = ())]
pub struct Crash {}

/// The name the child announces in its handshake.
pub const NAME: &str = "counter";

/// The child binary's file name (without `.exe`).
pub const CHILD_BINARY: &str = "counter-child";

/// The environment variable that overrides where the child binary is.
pub const CHILD_OVERRIDE: &str = "COUNTER_CHILD";
