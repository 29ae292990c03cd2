//! Lake discovery on synthetic package trees written by the tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use bulkhead::plan::Planner;
use bulkhead_lake::{LakeError, Package};

/// A package tree in a directory of its own, removed when dropped.
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str, files: &[(&str, &str)]) -> Self {
        let root =
            std::env::temp_dir().join(format!("bulkhead-lake-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Self(root)
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.0.join(path), text).unwrap();
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The modules of a small package, under `src/`: library `Foo` with a
/// root, submodules and every import form; library `Util` selected by
/// `Util.+`; an executable `Main`.
const MODULES: &[(&str, &str)] = &[
    (
        "src/Foo.lean",
        "/-! The root. -/\nmodule\n\npublic import Foo.Basic\nimport all Foo.Lemmas -- the lemmas\nmeta import Mathlib.Tactic\n\ndef x := 1\nimport Foo.NotAnImport\n",
    ),
    (
        "src/Foo/Basic.lean",
        "-- basics\nimport Util.Core\n/- a\n  comment -/\nimport Mathlib.Data.Nat\n",
    ),
    (
        "src/Foo/Lemmas.lean",
        "/-- doc -/\nimport Foo.Basic\nimport Util.Core\n",
    ),
    ("src/Foo/Unused.lean", "import Foo.Basic\n"),
    ("src/Util/Core.lean", "prelude\nimport Init.Prelude\n"),
    ("src/Util/Extra.lean", "import Util.Core\n"),
    (
        "src/Main.lean",
        "import Foo\n\ndef main : IO Unit := pure ()\n",
    ),
];

const TOML: &str = r#"
name = "demo"
srcDir = "src"
defaultTargets = ["Foo"]

[[lean_lib]]
name = "Foo"

[[lean_lib]]
name = "Util"
globs = ["Util.+"]

[[lean_exe]]
name = "demo"
root = "Main"
"#;

const LEAN: &str = r#"import Lake
open Lake DSL

package demo where
  srcDir := "src"

require mathlib from git "https://example.invalid/mathlib4"

@[default_target]
lean_lib Foo

lean_lib Util where
  globs := #[.submodules `Util]

lean_exe demo where
  root := `Main
"#;

fn tree(name: &str, lakefile: (&str, &str)) -> Tree {
    let mut files = MODULES.to_vec();
    files.push(lakefile);
    Tree::new(name, &files)
}

#[test]
fn a_toml_package_gives_its_libraries_modules_and_imports() {
    let tree = tree("toml", ("lakefile.toml", TOML));
    let package = Package::discover(tree.path()).unwrap();
    assert_eq!(package.name, "demo");
    assert_eq!(package.default_targets, ["Foo"]);
    let libraries: Vec<_> = package
        .libraries
        .iter()
        .map(|library| (library.name.as_str(), library.modules.clone()))
        .collect();
    assert_eq!(
        libraries,
        [
            // The root and what it imports, transitively: not Foo.Unused.
            (
                "Foo",
                vec![
                    "Foo".into(),
                    "Foo.Basic".into(),
                    "Foo.Lemmas".into(),
                    "Util.Core".into()
                ]
            ),
            ("Util", vec!["Util.Core".into(), "Util.Extra".into()]),
        ]
    );
    assert_eq!(package.executables["demo"], "Main");
    assert_eq!(package.modules.len(), 6, "{:?}", package.modules.keys());
    let root = &package.modules["Foo"];
    assert!(root.header.module);
    assert_eq!(root.local_imports, ["Foo.Basic", "Foo.Lemmas"]);
    assert_eq!(root.path, Path::new("src/Foo.lean"));
    assert!(package.modules["Util.Core"].header.prelude);
    let order = package.topological_order();
    let at = |name: &str| order.iter().position(|module| *module == name).unwrap();
    assert!(at("Util.Core") < at("Foo.Basic"));
    assert!(at("Foo.Basic") < at("Foo.Lemmas"));
    assert!(at("Foo") < at("Main"));
}

#[test]
fn a_lean_lakefile_reads_as_the_toml_one() {
    let a = tree("as-toml", ("lakefile.toml", TOML));
    let b = tree("as-lean", ("lakefile.lean", LEAN));
    let (a, b) = (
        Package::discover(a.path()).unwrap(),
        Package::discover(b.path()).unwrap(),
    );
    assert_eq!(a.libraries, b.libraries);
    assert_eq!(a.modules, b.modules);
    assert_eq!(a.default_targets, b.default_targets);
    assert_eq!(a.executables, b.executables);
}

#[test]
fn the_fingerprint_follows_the_sources() {
    let tree = tree("fingerprint", ("lakefile.toml", TOML));
    let before = Package::discover(tree.path()).unwrap();
    assert_eq!(
        Package::discover(tree.path()).unwrap().fingerprint,
        before.fingerprint
    );
    assert!(
        before.fingerprint.starts_with("6-modules-"),
        "{}",
        before.fingerprint
    );
    tree.write("src/Util/Extra.lean", "import Util.Core\ndef y := 2\n");
    let after = Package::discover(tree.path()).unwrap();
    assert_ne!(after.fingerprint, before.fingerprint);
    assert_ne!(
        after.modules["Util.Extra"].digest,
        before.modules["Util.Extra"].digest
    );
    assert_eq!(
        after.modules["Util.Core"].digest,
        before.modules["Util.Core"].digest
    );
}

#[test]
fn modules_with_the_same_imports_share_a_key() {
    let mut files = MODULES.to_vec();
    files.push(("lakefile.toml", TOML));
    files.push((
        "src/Util/More.lean",
        "import Util.Core
",
    ));
    let tree = Tree::new("items", &files);
    let package = Package::discover(tree.path()).unwrap();
    let items = package.work_items(true);
    assert_eq!(items.len(), 7);
    let key_of = |id: &str| items.iter().find(|item| item.id == id).unwrap().key.clone();
    assert_eq!(key_of("Util.Extra"), ["Util.Core"]);
    assert_eq!(key_of("Util.More"), ["Util.Core"]);
    assert_eq!(key_of("Foo.Lemmas"), ["Foo.Basic", "Util.Core"]);
    let plan = Planner::new(2).plan(items).unwrap();
    assert_eq!(plan.items(), 7);
    // Util.Extra and Util.More share a batch; the others have imports of
    // their own.
    assert_eq!(plan.batches().len(), 6);
    let shared = plan
        .batches()
        .iter()
        .find(|batch| batch.items().len() == 2)
        .unwrap();
    let ids: Vec<_> = shared.items().iter().map(|item| item.id.as_str()).collect();
    assert_eq!(ids, ["Util.Extra", "Util.More"]);
}

#[test]
fn broken_packages_are_refused_with_a_hint() {
    let empty = Tree::new("empty", &[("README.md", "no lakefile")]);
    let err = Package::discover(empty.path()).unwrap_err();
    assert!(matches!(err, LakeError::NoLakefile { .. }), "{err:?}");
    assert!(err.hint().contains("lakefile"));

    let mut files = MODULES.to_vec();
    files.push(("lakefile.toml", TOML));
    files.push(("src/Util/Cycle.lean", "import Util.Back\n"));
    files.push(("src/Util/Back.lean", "import Util.Cycle\n"));
    let cyclic = Tree::new("cycle", &files);
    let err = Package::discover(cyclic.path()).unwrap_err();
    let LakeError::Cycle { modules } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(modules.first(), modules.last());
    assert!(modules.contains(&"Util.Back".to_owned()), "{modules:?}");

    let mut files = MODULES.to_vec();
    files.push(("lakefile.toml", TOML));
    files.push(("src/Util/Typo.lean", "import Foo.Basik\n"));
    let missing = Tree::new("missing", &files);
    let err = Package::discover(missing.path()).unwrap_err();
    assert!(
        matches!(&err, LakeError::MissingImport { importer, module } if importer == "Util.Typo" && module == "Foo.Basik"),
        "{err:?}"
    );

    let mut files = MODULES.to_vec();
    files.push(("lakefile.toml", TOML));
    files.push(("src/Util/bad«name.lean", ""));
    let badly_named = Tree::new("bad-name", &files);
    let err = Package::discover(badly_named.path()).unwrap_err();
    assert!(matches!(err, LakeError::BadModuleName { .. }), "{err:?}");

    let no_root = Tree::new(
        "no-root",
        &[(
            "lakefile.toml",
            "name = \"x\"\n[[lean_lib]]\nname = \"Gone\"\n",
        )],
    );
    let err = Package::discover(no_root.path()).unwrap_err();
    assert!(matches!(err, LakeError::MissingRoot { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "library Gone has the root Gone, but {} does not exist",
            no_root.path().join("Gone.lean").display()
        )
    );

    let bad_glob = Tree::new(
        "bad-glob",
        &[(
            "lakefile.toml",
            "name = \"x\"\n[[lean_lib]]\nname = \"A\"\nglobs = [\"A.**\"]\n",
        )],
    );
    let err = Package::discover(bad_glob.path()).unwrap_err();
    assert!(matches!(err, LakeError::BadGlob { .. }), "{err:?}");
}

#[test]
fn libraries_with_source_directories_and_nested_roots() {
    let tree = Tree::new(
        "nested",
        &[
            (
                "lakefile.toml",
                "name = \"nested\"\n[[lean_lib]]\nname = \"A\"\nsrcDir = \"libA\"\nroots = [\"Deep.Nested\"]\n\n[[lean_lib]]\nname = \"B\"\nsrcDir = \"b/src\"\nglobs = [\"B.*\"]\n",
            ),
            (
                "libA/Deep/Nested.lean",
                "import Deep.Nested.Leaf\nimport B.Core\n",
            ),
            ("libA/Deep/Nested/Leaf.lean", ""),
            ("b/src/B.lean", "import B.Core\n"),
            ("b/src/B/Core.lean", ""),
            ("b/src/B/Sub/Deeper.lean", "import B\n"),
        ],
    );
    let package = Package::discover(tree.path()).unwrap();
    let a = &package.libraries[0];
    assert_eq!(a.src_dir, Path::new("libA"));
    // A's root imports a module of B's directory: B.Core is built for A.
    assert_eq!(a.modules, ["B.Core", "Deep.Nested", "Deep.Nested.Leaf"]);
    let b = &package.libraries[1];
    assert_eq!(b.modules, ["B", "B.Core", "B.Sub.Deeper"]);
    assert_eq!(
        package.modules["B.Sub.Deeper"].path,
        Path::new("b/src/B/Sub/Deeper.lean")
    );
    assert_eq!(
        package.modules["Deep.Nested"].local_imports,
        ["B.Core", "Deep.Nested.Leaf"]
    );
}
