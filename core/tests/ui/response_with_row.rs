use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Line(String);

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(stream, row = Line)]
#[command(response = String)]
struct Grep;

// No cascade: the fallback follows `row` and is a streaming command.
fn streaming<C: bulkhead::StreamCommand>() {}
fn main() {
    streaming::<Grep>();
}
