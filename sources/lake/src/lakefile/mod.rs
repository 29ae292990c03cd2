//! The part of a lakefile that says which modules a package has: its
//! libraries and executables, their roots, globs and source directories.

mod lean;
mod toml;

use std::path::{Path, PathBuf};

use crate::LakeError;
use crate::name::Glob;

/// What a lakefile says about the package's modules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LakeConfig {
    /// The package's name.
    pub name: String,
    /// The package's source directory, relative to its root (default `.`).
    pub src_dir: PathBuf,
    /// The `lean_lib` targets, in order.
    pub libraries: Vec<LibraryConfig>,
    /// The `lean_exe` targets, in order.
    pub executables: Vec<ExecutableConfig>,
    /// The default targets, by name.
    pub default_targets: Vec<String>,
}

/// A `lean_lib`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryConfig {
    /// Its name.
    pub name: String,
    /// Its source directory under the package's (default: the package's).
    pub src_dir: Option<PathBuf>,
    /// Its root modules (default: its name).
    pub roots: Vec<String>,
    /// The modules it builds (default: each root alone).
    pub globs: Vec<Glob>,
}

/// A `lean_exe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutableConfig {
    /// Its name.
    pub name: String,
    /// Its root module (default: its name).
    pub root: String,
    /// Its source directory under the package's.
    pub src_dir: Option<PathBuf>,
}

impl LibraryConfig {
    fn new(name: String) -> Self {
        Self {
            name,
            src_dir: None,
            roots: Vec::new(),
            globs: Vec::new(),
        }
    }

    /// Fills in Lake's defaults: roots `[name]`, globs one per root.
    fn with_defaults(mut self) -> Self {
        if self.roots.is_empty() {
            self.roots.push(self.name.clone());
        }
        if self.globs.is_empty() {
            self.globs = self.roots.iter().cloned().map(Glob::One).collect();
        }
        self
    }
}

/// A lakefile reader: the file's path and text to what it says.
type Reader = fn(&Path, &str) -> Result<LakeConfig, LakeError>;

/// Reads the lakefile of the package at `root`: `lakefile.toml` if there
/// is one, else `lakefile.lean`. Returns the file read and what it says.
pub fn read(root: &Path) -> Result<(PathBuf, LakeConfig), LakeError> {
    let toml_path = root.join("lakefile.toml");
    let lean_path = root.join("lakefile.lean");
    let (path, reader): (PathBuf, Reader) = if toml_path.is_file() {
        (toml_path, toml::parse)
    } else if lean_path.is_file() {
        (lean_path, lean::parse)
    } else {
        return Err(LakeError::NoLakefile {
            root: root.to_path_buf(),
        });
    };
    let text = std::fs::read_to_string(&path).map_err(|source| LakeError::Unreadable {
        path: path.clone(),
        source,
    })?;
    let mut config = reader(&path, &text)?;
    if config.src_dir.as_os_str().is_empty() {
        config.src_dir = PathBuf::from(".");
    }
    config.libraries = config
        .libraries
        .into_iter()
        .map(LibraryConfig::with_defaults)
        .collect();
    for library in &config.libraries {
        for name in library
            .roots
            .iter()
            .map(String::as_str)
            .chain(library.globs.iter().map(Glob::name))
        {
            check_name(&path, name)?;
        }
    }
    for executable in &config.executables {
        check_name(&path, &executable.root)?;
    }
    Ok((path, config))
}

fn check_name(path: &Path, name: &str) -> Result<(), LakeError> {
    if crate::name::is_module_name(name) {
        Ok(())
    } else {
        Err(LakeError::BadModuleName {
            path: path.to_path_buf(),
            name: name.to_owned(),
        })
    }
}
