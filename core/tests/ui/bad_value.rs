use serde::{Deserialize, Serialize};

// Every mistake is reported, not only the first.
#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(name = 5, response = "String")]
struct Wrong;

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(name = "has space")]
struct Spaced;

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(name = "", stream = true, row)]
struct Empty;

fn main() {}
