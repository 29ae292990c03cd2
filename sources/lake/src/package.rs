//! A Lake package read from disk: its libraries, every module they build,
//! the import graph, fingerprints, and work items for the planner.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bulkhead::plan::WorkItem;
use sha2::{Digest, Sha256};

use crate::LakeError;
use crate::header::{Header, HeaderError, parse_header};
use crate::lakefile::{self, LakeConfig};
use crate::name::{Glob, module_path};

/// A Lake package, as `lake build` would see its modules.
#[derive(Debug, Clone)]
pub struct Package {
    /// The package's name.
    pub name: String,
    /// The package's directory.
    pub root: PathBuf,
    /// The lakefile read.
    pub lakefile: PathBuf,
    /// The libraries, in lakefile order.
    pub libraries: Vec<Library>,
    /// The executables' root modules, by executable name.
    pub executables: BTreeMap<String, String>,
    /// The default targets, by name.
    pub default_targets: Vec<String>,
    /// Every module of the package that a library or executable builds, by
    /// name.
    pub modules: BTreeMap<String, Module>,
    /// Changes when the lakefile, the manifest, the set of modules or any
    /// module's source does: a digest of the lakefile and
    /// `lake-manifest.json` (if any) and of every module's name and
    /// source digest.
    pub fingerprint: String,
    /// The newest modification time among the modules' sources.
    pub newest_source: Option<SystemTime>,
}

/// A `lean_lib` and the modules it builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// Its name.
    pub name: String,
    /// Its source directory, relative to the package's root.
    pub src_dir: PathBuf,
    /// Its root modules.
    pub roots: Vec<String>,
    /// Its globs.
    pub globs: Vec<Glob>,
    /// The modules it builds, sorted: those its globs select, and the
    /// package's modules they import, transitively.
    pub modules: Vec<String>,
}

/// One module of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Its name.
    pub name: String,
    /// Its source file, relative to the package's root.
    pub path: PathBuf,
    /// Its header.
    pub header: Header,
    /// The SHA-256 of its source, in hex.
    pub digest: String,
    /// The modules of the package it imports, sorted.
    pub local_imports: Vec<String>,
}

/// What a work item of a module carries: the module.
pub type ModuleItem = WorkItem<Vec<String>, Module>;

impl Package {
    /// Reads the package at `root`: its lakefile, then every module its
    /// libraries and executables build, following imports inside the
    /// package.
    pub fn discover(root: impl AsRef<Path>) -> Result<Self, LakeError> {
        let root = root.as_ref().to_path_buf();
        let (lakefile, config) = lakefile::read(&root)?;
        let mut reader = Reader::new(&root, &config);
        let mut libraries = Vec::new();
        for library in &config.libraries {
            let src_dir = library.src_dir.as_deref().unwrap_or(Path::new("."));
            let src_dir = normal(&config.src_dir.join(src_dir));
            let mut selected = BTreeSet::new();
            for glob in &library.globs {
                let found = glob
                    .select(&root.join(&src_dir))
                    .map_err(|(path, name)| LakeError::BadModuleName { path, name })?;
                if found.is_empty() && matches!(glob, Glob::One(_)) {
                    return Err(LakeError::MissingRoot {
                        library: library.name.clone(),
                        module: glob.name().to_owned(),
                        path: module_path(&root.join(&src_dir), glob.name()),
                    });
                }
                selected.extend(found);
            }
            let modules = reader.closure(&selected)?;
            libraries.push(Library {
                name: library.name.clone(),
                src_dir: src_dir.clone(),
                roots: library.roots.clone(),
                globs: library.globs.clone(),
                modules,
            });
        }
        let mut executables = BTreeMap::new();
        for executable in &config.executables {
            let roots = BTreeSet::from([executable.root.clone()]);
            reader.closure(&roots)?;
            executables.insert(executable.name.clone(), executable.root.clone());
        }
        let modules = reader.modules;
        cycles(&modules)?;
        let newest_source = reader.newest;
        let fingerprint = package_fingerprint(&root, &lakefile, &modules)?;
        Ok(Self {
            name: config.name.clone(),
            root,
            lakefile,
            libraries,
            executables,
            default_targets: config.default_targets.clone(),
            modules,
            fingerprint,
            newest_source,
        })
    }

    /// The modules in an order where each comes after every module of the
    /// package it imports; ties by name.
    pub fn topological_order(&self) -> Vec<&str> {
        let mut order = Vec::with_capacity(self.modules.len());
        let mut done = BTreeSet::new();
        for name in self.modules.keys() {
            self.visit(name, &mut done, &mut order);
        }
        order
    }

    fn visit<'p>(&'p self, name: &'p str, done: &mut BTreeSet<&'p str>, order: &mut Vec<&'p str>) {
        if !done.insert(name) {
            return;
        }
        if let Some(module) = self.modules.get(name) {
            for import in &module.local_imports {
                self.visit(import, done, order);
            }
        }
        order.push(name);
    }

    /// One work item per module: its id the module's name, its session key
    /// the modules it imports (sorted), so that modules with the same
    /// imports share a warm worker; its cost the size of its source. In
    /// name order, or in topological order if `topological`.
    pub fn work_items(&self, topological: bool) -> Vec<ModuleItem> {
        let names: Vec<&str> = if topological {
            self.topological_order()
        } else {
            self.modules.keys().map(String::as_str).collect()
        };
        names
            .into_iter()
            .filter_map(|name| self.modules.get(name))
            .map(|module| {
                let mut key: Vec<String> = module
                    .header
                    .imports
                    .iter()
                    .map(|import| import.module.clone())
                    .collect();
                key.sort();
                key.dedup();
                let size =
                    std::fs::metadata(self.root.join(&module.path)).map_or(1, |meta| meta.len());
                WorkItem::new(module.name.clone(), key, module.clone()).with_cost(size as f64)
            })
            .collect()
    }
}

/// Reads modules as they are needed, following imports.
struct Reader<'c> {
    root: &'c Path,
    /// Where the package's modules may be: every library's and
    /// executable's source directory.
    src_dirs: Vec<PathBuf>,
    /// The first components of the libraries' roots: an import under one
    /// of them is the package's own, and must exist.
    namespaces: BTreeSet<String>,
    modules: BTreeMap<String, Module>,
    newest: Option<SystemTime>,
}

impl<'c> Reader<'c> {
    fn new(root: &'c Path, config: &LakeConfig) -> Self {
        let mut src_dirs: Vec<PathBuf> = config
            .libraries
            .iter()
            .map(|library| library.src_dir.as_deref())
            .chain(
                config
                    .executables
                    .iter()
                    .map(|executable| executable.src_dir.as_deref()),
            )
            .map(|dir| normal(&config.src_dir.join(dir.unwrap_or(Path::new(".")))))
            .collect();
        src_dirs.dedup();
        let namespaces = config
            .libraries
            .iter()
            .flat_map(|library| &library.roots)
            .map(|root| root.split('.').next().unwrap_or(root).to_owned())
            .collect();
        Self {
            root,
            src_dirs,
            namespaces,
            modules: BTreeMap::new(),
            newest: None,
        }
    }

    /// `start` and every module of the package they import, transitively;
    /// sorted.
    fn closure(&mut self, start: &BTreeSet<String>) -> Result<Vec<String>, LakeError> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut queue: Vec<String> = start.iter().cloned().collect();
        while let Some(name) = queue.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let Some(module) = self.read(&name)? else {
                continue;
            };
            queue.extend(module.local_imports.iter().cloned());
        }
        Ok(seen.into_iter().collect())
    }

    /// Module `name`, read once; `None` if it is not the package's.
    fn read(&mut self, name: &str) -> Result<Option<&Module>, LakeError> {
        if self.modules.contains_key(name) {
            return Ok(self.modules.get(name));
        }
        let found = self
            .src_dirs
            .iter()
            .map(|dir| module_path(dir, name))
            .find(|path| self.root.join(path).is_file());
        let Some(path) = found else {
            return Ok(None);
        };
        let full = self.root.join(&path);
        let bytes = std::fs::read(&full).map_err(|source| LakeError::Unreadable {
            path: full.clone(),
            source,
        })?;
        if let Ok(modified) = std::fs::metadata(&full).and_then(|meta| meta.modified()) {
            self.newest = self.newest.max(Some(modified));
        }
        let text = String::from_utf8_lossy(&bytes);
        let header = parse_header(&text).map_err(|err| match err {
            HeaderError::BadImport(import) => LakeError::BadModuleName {
                path: full.clone(),
                name: import,
            },
            HeaderError::OpenComment => LakeError::BadHeader {
                path: full.clone(),
                reason: "a block comment is not closed".to_owned(),
            },
        })?;
        let mut local_imports = BTreeSet::new();
        for import in &header.imports {
            let exists = self
                .src_dirs
                .iter()
                .any(|dir| self.root.join(module_path(dir, &import.module)).is_file());
            let namespace = import.module.split('.').next().unwrap_or_default();
            if exists {
                local_imports.insert(import.module.clone());
            } else if self.namespaces.contains(namespace) {
                return Err(LakeError::MissingImport {
                    importer: name.to_owned(),
                    module: import.module.clone(),
                });
            }
        }
        let module = Module {
            name: name.to_owned(),
            path: normal(&path),
            header,
            digest: hex(&Sha256::digest(&bytes)),
            local_imports: local_imports.into_iter().collect(),
        };
        Ok(Some(self.modules.entry(name.to_owned()).or_insert(module)))
    }
}

/// The first cycle among the modules' imports, if any.
fn cycles(modules: &BTreeMap<String, Module>) -> Result<(), LakeError> {
    // 0: not seen, 1: on the path, 2: done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    let mut path: Vec<&str> = Vec::new();
    fn walk<'m>(
        name: &'m str,
        modules: &'m BTreeMap<String, Module>,
        state: &mut BTreeMap<&'m str, u8>,
        path: &mut Vec<&'m str>,
    ) -> Result<(), LakeError> {
        match state.get(name) {
            Some(2) => return Ok(()),
            Some(1) => {
                let from = path.iter().position(|on| *on == name).unwrap_or(0);
                let mut cycle: Vec<String> =
                    path[from..].iter().map(|on| (*on).to_owned()).collect();
                cycle.push(name.to_owned());
                return Err(LakeError::Cycle { modules: cycle });
            }
            _ => {}
        }
        state.insert(name, 1);
        path.push(name);
        for import in modules
            .get(name)
            .map(|module| &module.local_imports)
            .into_iter()
            .flatten()
        {
            walk(import, modules, state, path)?;
        }
        path.pop();
        state.insert(name, 2);
        Ok(())
    }
    for name in modules.keys() {
        walk(name, modules, &mut state, &mut path)?;
    }
    Ok(())
}

fn package_fingerprint(
    root: &Path,
    lakefile: &Path,
    modules: &BTreeMap<String, Module>,
) -> Result<String, LakeError> {
    let mut digest = Sha256::new();
    for file in [lakefile.to_path_buf(), root.join("lake-manifest.json")] {
        match std::fs::read(&file) {
            Ok(bytes) => digest.update(&bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => digest.update(b"-"),
            Err(source) => return Err(LakeError::Unreadable { path: file, source }),
        }
        digest.update(b"\n");
    }
    for module in modules.values() {
        digest.update(module.name.as_bytes());
        digest.update(b" ");
        digest.update(module.digest.as_bytes());
        digest.update(b"\n");
    }
    Ok(format!(
        "{}-modules-{}",
        modules.len(),
        &hex(&digest.finalize())[..16]
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `path` without `.` components.
fn normal(path: &Path) -> PathBuf {
    path.components()
        .filter(|part| !matches!(part, std::path::Component::CurDir))
        .collect()
}
