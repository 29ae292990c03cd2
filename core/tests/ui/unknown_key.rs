use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(respone = u64)]
struct Add;

#[derive(Serialize, Deserialize, bulkhead::Command)]
#[command(rows = std::collections::BTreeMap<String, u64>, summary = u64, stream::row = u8)]
struct Scan;

fn main() {}
