//! Derive macros for [bulkhead](https://example.invalid/bulkhead).
//!
//! Use them through the `bulkhead` crate, which re-exports
//! [`macro@Command`] next to the trait of the same name:
//! `#[derive(bulkhead::Command)]`.
//!
//! # `#[derive(Command)]`
//!
//! Implements `bulkhead::Command` and either `bulkhead::UnaryCommand` or
//! `bulkhead::StreamCommand` for a struct or enum that is also
//! `Serialize + Deserialize`. Generic types are supported; the impls are
//! bounded on what they need, like serde's own derives.
//!
//! The shape of the command is written in `#[command(...)]` attributes on the
//! type. Keys may be split over several attributes, each key at most once:
//!
//! | key | meaning | default |
//! |-----|---------|---------|
//! | `name = "..."` | wire name (`Command::NAME`); not empty, no whitespace | type name in snake case: `CountRows` → `"count_rows"`, `HTTPGet` → `"http_get"` |
//! | `response = Type` | unary: `Command::Output` | `()` |
//! | `row = Type` | streaming: `StreamCommand::Row`; makes the command streaming | — |
//! | `summary = Type` | streaming: `Command::Output`, sent after the rows | `()` |
//! | `stream` | flag that documents a streaming command; needs `row` | — |
//!
//! Without `row` (or with no attribute at all) the command is unary;
//! `response` cannot be combined with `row` or `stream`, and `summary` needs
//! `row`.
//!
//! ```ignore
//! use serde::{Deserialize, Serialize};
//!
//! /// Unary: `Add::NAME == "add"`, `Output = u64`.
//! #[derive(Serialize, Deserialize, bulkhead::Command)]
//! #[command(response = u64)]
//! struct Add {
//!     a: u64,
//!     b: u64,
//! }
//!
//! /// Streaming: rows of `Line`, then a `Counts` summary, under the wire
//! /// name "grep".
//! #[derive(Serialize, Deserialize, bulkhead::Command)]
//! #[command(stream, row = Line, summary = Counts)]
//! #[command(name = "grep")]
//! struct Search {
//!     pattern: String,
//! }
//! # #[derive(Serialize, Deserialize)] struct Line;
//! # #[derive(Serialize, Deserialize)] struct Counts;
//! ```
//!
//! Mistakes in the attribute are reported at the offending token, all of
//! them at once, and a best-effort impl is still emitted so that code using
//! the type does not fail a second time. A request, response, row or summary
//! type that is not serde-serializable is reported at that type.
//!
//! Generated code names `::bulkhead` and `::serde`, so both must be direct
//! dependencies of the crate that uses the derive (serde already is, for its
//! own derives).

#![warn(missing_docs)]

mod attr;
mod case;
mod errors;
mod expand;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `bulkhead::Command` plus `bulkhead::UnaryCommand` or
/// `bulkhead::StreamCommand` for a request type.
///
/// See the [crate documentation](crate) for the `#[command(...)]` keys:
/// `name = "..."`, `response = Type`, `stream`, `row = Type` and
/// `summary = Type`.
#[proc_macro_derive(Command, attributes(command))]
pub fn derive_command(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input, &quote::quote!(::bulkhead)).into()
}

/// The same derive for crates that depend on `bulkhead-protocol` alone (a
/// child, or command types shared by both sides); `bulkhead_protocol`
/// re-exports it as `Command`. The impls name `::bulkhead_protocol` instead
/// of `::bulkhead`.
#[proc_macro_derive(ProtocolCommand, attributes(command))]
pub fn derive_protocol_command(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input, &quote::quote!(::bulkhead_protocol)).into()
}
