//! Lean module names, the globs that select them, and their files.

use std::path::{Path, PathBuf};

/// Whether `name` is a valid Lean module name: dot-separated components,
/// each an identifier (a letter or `_`, then letters, digits, `_`, `'`,
/// `!`, `?`) or a non-empty `«escaped»` component.
pub fn is_module_name(name: &str) -> bool {
    !name.is_empty()
        && components(name).is_some_and(|parts| parts.iter().all(|part| is_component(part)))
}

/// The components of `name`, dots inside `«»` kept; `None` if a `«` is
/// not closed.
fn components(name: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (at, c) in name.char_indices() {
        match c {
            '«' if !escaped => escaped = true,
            '»' if escaped => escaped = false,
            '.' if !escaped => {
                parts.push(&name[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    if escaped {
        return None;
    }
    parts.push(&name[start..]);
    Some(parts)
}

fn is_component(part: &str) -> bool {
    if let Some(inner) = part
        .strip_prefix('«')
        .and_then(|rest| rest.strip_suffix('»'))
    {
        return !inner.is_empty() && !inner.contains(['«', '»']);
    }
    let mut chars = part.chars();
    chars
        .next()
        .is_some_and(|first| first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '\'' | '!' | '?'))
}

/// The source file of module `name` under `dir`: its components as
/// directories (without `«»`), the last with `.lean`.
pub fn module_path(dir: &Path, name: &str) -> PathBuf {
    let mut path = dir.to_path_buf();
    for part in components(name).unwrap_or_default() {
        path.push(part.trim_start_matches('«').trim_end_matches('»'));
    }
    path.set_extension("lean");
    path
}

/// The directory of module `name`'s submodules under `dir`.
fn module_dir(dir: &Path, name: &str) -> PathBuf {
    let mut path = dir.to_path_buf();
    for part in components(name).unwrap_or_default() {
        path.push(part.trim_start_matches('«').trim_end_matches('»'));
    }
    path
}

/// A set of module names, as a library's `globs` give it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Glob {
    /// The module itself (`X`).
    One(String),
    /// Its submodules, not itself (`X.+`).
    Submodules(String),
    /// The module and its submodules (`X.*`).
    AndSubmodules(String),
}

impl Glob {
    /// Reads a glob as `lakefile.toml` writes it; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Glob> {
        let glob = if let Some(name) = text.strip_suffix(".*") {
            Glob::AndSubmodules(name.to_owned())
        } else if let Some(name) = text.strip_suffix(".+") {
            Glob::Submodules(name.to_owned())
        } else {
            Glob::One(text.to_owned())
        };
        is_module_name(glob.name()).then_some(glob)
    }

    /// The module name the glob is about.
    pub fn name(&self) -> &str {
        match self {
            Glob::One(name) | Glob::Submodules(name) | Glob::AndSubmodules(name) => name,
        }
    }

    /// The modules the glob selects among the files under `src_dir`,
    /// sorted; files whose names are not module names are reported.
    pub fn select(&self, src_dir: &Path) -> Result<Vec<String>, (PathBuf, String)> {
        let mut modules = Vec::new();
        let name = self.name();
        let itself = matches!(self, Glob::One(_) | Glob::AndSubmodules(_));
        if itself && module_path(src_dir, name).is_file() {
            modules.push(name.to_owned());
        }
        if !matches!(self, Glob::One(_)) {
            submodules(&module_dir(src_dir, name), name, &mut modules)?;
        }
        modules.sort();
        Ok(modules)
    }
}

impl std::fmt::Display for Glob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Glob::One(name) => write!(f, "{name}"),
            Glob::Submodules(name) => write!(f, "{name}.+"),
            Glob::AndSubmodules(name) => write!(f, "{name}.*"),
        }
    }
}

/// Every module under `dir`, named under `prefix`.
fn submodules(dir: &Path, prefix: &str, found: &mut Vec<String>) -> Result<(), (PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut entries: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    for path in entries {
        let Some(stem) = path.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        let name = format!("{prefix}.{}", escape(stem));
        if path.is_dir() {
            submodules(&path, &name, found)?;
        } else if path.extension().is_some_and(|ext| ext == "lean") {
            if !is_module_name(&name) {
                return Err((path, name));
            }
            found.push(name);
        }
    }
    Ok(())
}

/// A file or directory name as a name component: `«»` around it when it
/// is not an identifier (`not-an-identifier.lean` is module
/// `«not-an-identifier»`, imported so).
fn escape(part: &str) -> String {
    if is_component(part) {
        part.to_owned()
    } else {
        format!("«{part}»")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_follow_lean() {
        for good in [
            "Mathlib",
            "Mathlib.Data.Nat",
            "A.«b c».D",
            "_x",
            "Foo'",
            "Nat.succ_le?",
        ] {
            assert!(is_module_name(good), "{good}");
        }
        for bad in ["", ".A", "A.", "A..B", "1A", "A.«", "A.«»", "a-b"] {
            assert!(!is_module_name(bad), "{bad}");
        }
    }

    #[test]
    fn globs_read_as_lake_writes_them() {
        assert_eq!(Glob::parse("A.B"), Some(Glob::One("A.B".into())));
        assert_eq!(Glob::parse("A.*"), Some(Glob::AndSubmodules("A".into())));
        assert_eq!(Glob::parse("A.+"), Some(Glob::Submodules("A".into())));
        assert_eq!(Glob::parse("A.**"), None);
        assert_eq!(Glob::parse("*"), None);
        assert_eq!(Glob::AndSubmodules("A".into()).to_string(), "A.*");
    }

    #[test]
    fn a_module_lives_where_its_name_says() {
        let path = module_path(Path::new("src"), "A.«b c».D");
        assert_eq!(path, Path::new("src/A/b c/D.lean"));
    }
}
