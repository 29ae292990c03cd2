use serde::{Deserialize, Serialize};

struct Opaque;

// The request type itself.
#[derive(bulkhead::Command)]
struct Plain;

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(response = Opaque)]
struct Unary;

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(row = Opaque, summary = u64)]
struct Streaming;

fn main() {}
