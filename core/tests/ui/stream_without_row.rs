use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(stream, summary = u64)]
struct Tail;

// No cascade: the fallback impl still provides `Command`.
const _: &str = <Tail as bulkhead::Command>::NAME;

fn main() {}
