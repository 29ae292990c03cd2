//! Stable, readable batch names.

use sha2::{Digest, Sha256};

/// The fingerprint of a batch of the key whose JSON encoding is `key_json`
/// and of the items `ids` (sorted): the key made readable (letters, digits,
/// `.`, `-` and `_` kept, anything else a `_`, at most 40 characters), a
/// `-`, and the first 16 hex digits of the SHA-256 of the key's JSON, a
/// newline, and the ids each followed by a newline. It does not change
/// between runs, machines or versions of bulkhead that keep this
/// definition.
///
/// ```
/// let name = bulkhead::plan::fingerprint(r#""Mathlib.Data.Nat""#, &["a", "b"]);
/// assert!(name.starts_with("Mathlib.Data.Nat-"));
/// assert_eq!(name.len(), "Mathlib.Data.Nat-".len() + 16);
/// ```
pub fn fingerprint(key_json: &str, ids: &[&str]) -> String {
    let mut digest = Sha256::new();
    digest.update(key_json.as_bytes());
    digest.update(b"\n");
    for id in ids {
        digest.update(id.as_bytes());
        digest.update(b"\n");
    }
    let hex: String = digest
        .finalize()
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let readable: String = key_json
        .trim_matches('"')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("{readable}-{hex}")
}
