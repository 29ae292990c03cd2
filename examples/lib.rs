//! Runnable programs for bulkhead; this library is empty.
//!
//! - `cargo run --release --example capability_runner`: a tour of the API
//!   against the fixture capability.
//! - `cargo run --release --example bench [-- --quick]`: throughput, round
//!   trip and startup against raw baselines measured in the same run.
//!
//! Each example is its own child: it calls `bulkhead_child::run_if_child`
//! first thing and points the worker at `std::env::current_exe()`.
