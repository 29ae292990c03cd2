//! What can go wrong when a Lean project is read, each with a repair hint.

use std::path::PathBuf;

/// Why a Lake package could not be read. Every variant says what to do
/// about it ([`hint`](LakeError::hint)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LakeError {
    /// Neither `lakefile.toml` nor `lakefile.lean` is in the directory.
    #[error("no lakefile.toml or lakefile.lean in {}", root.display())]
    NoLakefile {
        /// The directory searched.
        root: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// `lakefile.toml` is not valid TOML, or a field has the wrong type.
    #[error("{}: {message}", path.display())]
    Toml {
        /// The lakefile.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `lakefile.lean` uses a form this reader does not understand; it
    /// reads the declarative forms only, and never guesses.
    #[error("{}:{line}: {reason}: `{text}`", path.display())]
    UnsupportedLean {
        /// The lakefile.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The line's text.
        text: String,
        /// What is not understood.
        reason: String,
    },
    /// A glob is not `X`, `X.*` or `X.+` (or `.one`, `.andSubmodules`,
    /// `.submodules` in a Lean lakefile).
    #[error("unknown glob form {glob:?} in {}", path.display())]
    BadGlob {
        /// The lakefile.
        path: PathBuf,
        /// The glob as written.
        glob: String,
    },
    /// A module name (a root, a glob, a file name, an import) is not a
    /// valid Lean name.
    #[error("{name:?} in {} is not a valid Lean module name", path.display())]
    BadModuleName {
        /// The file where it was found.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// A module's header cannot be read (a block comment left open).
    #[error("{}: the header cannot be read: {reason}", path.display())]
    BadHeader {
        /// The module's file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A library root has no source file.
    #[error("library {library} has the root {module}, but {} does not exist", path.display())]
    MissingRoot {
        /// The library.
        library: String,
        /// The root module.
        module: String,
        /// Where its source was looked for.
        path: PathBuf,
    },
    /// A module imports a module of the package that has no source file.
    #[error(
        "{importer} imports {module}, which is in the package's namespace but has no source file"
    )]
    MissingImport {
        /// The importing module.
        importer: String,
        /// The module imported.
        module: String,
    },
    /// Modules of the package import each other in a circle.
    #[error("the imports form a cycle: {}", modules.join(" -> "))]
    Cycle {
        /// The modules of the cycle, the first repeated at the end.
        modules: Vec<String>,
    },
}

impl LakeError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            LakeError::NoLakefile { .. } => {
                "point at the directory of the Lake package (the one holding its lakefile)"
            }
            LakeError::Unreadable { .. } => "check that the file exists and can be read",
            LakeError::Toml { .. } => "fix the lakefile so that `lake` reads it too",
            LakeError::UnsupportedLean { .. } => {
                "write the library's roots, globs and srcDir as literals, or use lakefile.toml"
            }
            LakeError::BadGlob { .. } => {
                "use `X` (the module), `X.*` (it and its submodules) or `X.+` (its submodules)"
            }
            LakeError::BadModuleName { .. } => {
                "module names are dot-separated identifiers, such as `Mathlib.Data.Nat`"
            }
            LakeError::BadHeader { .. } => "fix the header: Lean would not read it either",
            LakeError::MissingRoot { .. } => {
                "create the file, or fix the library's roots or srcDir"
            }
            LakeError::MissingImport { .. } => {
                "create the module's file, or fix the import (a typo, or a file moved)"
            }
            LakeError::Cycle { .. } => "break the cycle: Lean refuses cyclic imports too",
        }
    }
}
