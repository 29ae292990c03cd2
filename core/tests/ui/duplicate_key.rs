use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(name = "one", response = u64)]
#[command(name = "two")]
struct Twice;

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(stream, row = u8, stream)]
struct Flagged;

fn main() {}
