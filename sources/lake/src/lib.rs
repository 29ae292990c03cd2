//! Lean projects as work for bulkhead's planner, read without a Lean
//! toolchain.
//!
//! [`Package::discover`] reads a Lake package's lakefile
//! (`lakefile.toml`, or the declarative forms of `lakefile.lean`), selects
//! the modules its libraries and executables build (roots, globs `X`,
//! `X.*`, `X.+`, source directories), follows their imports inside the
//! package, parses every module's header, checks the import graph (no
//! missing module of the package, no cycle), and fingerprints the package
//! and each module. [`Package::work_items`] turns the modules into
//! [`WorkItem`](bulkhead::plan::WorkItem)s keyed by their imports, so that
//! modules with the same imports share a warm worker. Every error is a
//! typed [`LakeError`] with a repair hint.
//!
//! ```no_run
//! let package = bulkhead_lake::Package::discover("path/to/project")?;
//! let plan = bulkhead::plan::Planner::new(4).plan(package.work_items(false))?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

mod error;
mod header;
mod lakefile;
mod name;
mod package;

pub use error::LakeError;
pub use header::{Header, HeaderError, Import, parse_header};
pub use lakefile::{ExecutableConfig, LakeConfig, LibraryConfig};
pub use name::{Glob, is_module_name, module_path};
pub use package::{Library, Module, ModuleItem, Package};
