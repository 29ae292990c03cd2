use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(summary = u64)]
struct Count;

// No cascade: the fallback is a unary command.
fn unary<C: bulkhead::UnaryCommand>() {}
fn main() {
    unary::<Count>();
}
