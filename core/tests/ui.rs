//! Compile-time behaviour of `#[derive(Command)]`: every misuse is reported
//! at the offending token (snapshots in `tests/ui/*.stderr`), and the
//! generated code is lint-clean.
//!
//! Regenerate snapshots with `TRYBUILD=overwrite cargo test -p bulkhead --test ui`
//! and check by eye that each error points at the right token.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
