//! Whatever a source file or a lakefile holds, reading it ends in a header,
//! a configuration or a typed error: never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

/// Text made of the pieces Lean sources and lakefiles are made of, so that
/// the readers' paths are reached, not only their first refusal.
fn lean_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("import ".to_owned()),
        Just("public ".to_owned()),
        Just("meta ".to_owned()),
        Just("all ".to_owned()),
        Just("module\n".to_owned()),
        Just("prelude\n".to_owned()),
        Just("/-".to_owned()),
        Just("-/".to_owned()),
        Just("--".to_owned()),
        Just("«".to_owned()),
        Just("»".to_owned()),
        Just("\n".to_owned()),
        Just("lean_lib ".to_owned()),
        Just("package ".to_owned()),
        Just(" where\n  ".to_owned()),
        Just("roots := #[`A, ".to_owned()),
        Just("globs := #[.andSubmodules `B]".to_owned()),
        Just("srcDir := \"s\"".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("@[default_target]\n".to_owned()),
        "[A-Za-z.]{1,8}",
        ".{0,4}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn headers_never_panic(source in lean_like()) {
        let _header = bulkhead_lake::parse_header(&source);
    }

    #[test]
    fn lakefiles_never_panic(text in lean_like()) {
        let root = std::env::temp_dir().join(format!("bulkhead-lake-hostile-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("lakefile.lean"), &text).unwrap();
        let _package = bulkhead_lake::Package::discover(&root);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
