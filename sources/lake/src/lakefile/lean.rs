//! `lakefile.lean`, its declarative forms only:
//!
//! ```text
//! import Lake
//! open Lake DSL
//! package «name» where
//!   srcDir := "src"
//! require mathlib from git "…"
//! @[default_target]
//! lean_lib Foo where
//!   roots := #[`Foo, `Bar]
//!   globs := #[.andSubmodules `Foo, `Bar]
//!   srcDir := "lib"
//! lean_exe main where
//!   root := `Main
//! ```
//!
//! Blocks in braces (`lean_lib Foo { roots := #[`Foo] }`) are read too.
//! Commands that add no modules (`require`, `script`, `target`,
//! `extern_lib`, `input_file`, `input_dir`, `open`, `import`, `set_option`)
//! are skipped with their indented lines; anything else at the top level,
//! and a value of `roots`, `globs`, `srcDir` or `root` that is not a
//! literal, is an error naming the line. Other fields are not about
//! modules and are skipped.

use std::path::{Path, PathBuf};

use super::{ExecutableConfig, LakeConfig, LibraryConfig};
use crate::LakeError;
use crate::name::Glob;

/// Commands that add no modules.
const SKIPPED: [&str; 9] = [
    "import",
    "open",
    "require",
    "script",
    "target",
    "extern_lib",
    "input_file",
    "input_dir",
    "set_option",
];

/// Reads a `lakefile.lean`.
pub(super) fn parse(path: &Path, text: &str) -> Result<LakeConfig, LakeError> {
    let text = blank_comments(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut config = LakeConfig::default();
    let mut default_target = false;
    let mut at = 0;
    while at < lines.len() {
        let line = lines[at];
        // A statement and its continuation: the lines indented under it.
        let mut end = at + 1;
        while end < lines.len()
            && (lines[end].trim().is_empty() || lines[end].starts_with([' ', '\t', '}']))
        {
            end += 1;
        }
        let statement = Statement {
            path,
            first: at + 1,
            lines: &lines[at..end],
        };
        at = end;
        let mut words = line.split_whitespace();
        let Some(mut keyword) = words.next() else {
            continue;
        };
        if keyword == "@[default_target]" {
            default_target = true;
            match words.next() {
                Some(next) => keyword = next,
                None => continue,
            }
        }
        let target = match keyword {
            "package" => {
                config.name = statement.name(keyword)?;
                if let Some(src_dir) = statement.field("srcDir")? {
                    config.src_dir = PathBuf::from(statement.string(&src_dir)?);
                }
                None
            }
            "lean_lib" => {
                let mut library = LibraryConfig::new(statement.name(keyword)?);
                if let Some(roots) = statement.field("roots")? {
                    library.roots = statement.names(&roots)?;
                }
                if let Some(globs) = statement.field("globs")? {
                    library.globs = statement.globs(&globs)?;
                }
                if let Some(src_dir) = statement.field("srcDir")? {
                    library.src_dir = Some(PathBuf::from(statement.string(&src_dir)?));
                }
                let name = library.name.clone();
                config.libraries.push(library);
                Some(name)
            }
            "lean_exe" => {
                let name = statement.name(keyword)?;
                let root = match statement.field("root")? {
                    Some(root) => statement.one_name(&root)?,
                    None => name.clone(),
                };
                let src_dir = match statement.field("srcDir")? {
                    Some(src_dir) => Some(PathBuf::from(statement.string(&src_dir)?)),
                    None => None,
                };
                config.executables.push(ExecutableConfig {
                    name: name.clone(),
                    root,
                    src_dir,
                });
                Some(name)
            }
            keyword if SKIPPED.contains(&keyword) => None,
            _ => return Err(statement.unsupported(0, "a command this reader does not understand")),
        };
        if let Some(name) = target.filter(|_| default_target) {
            config.default_targets.push(name);
        }
        default_target = false;
    }
    Ok(config)
}

/// One top-level command with its indented lines.
struct Statement<'a> {
    path: &'a Path,
    /// Its first line's number, from 1.
    first: usize,
    lines: &'a [&'a str],
}

impl Statement<'_> {
    fn unsupported(&self, offset: usize, reason: &str) -> LakeError {
        LakeError::UnsupportedLean {
            path: self.path.to_path_buf(),
            line: self.first + offset,
            text: self.lines.get(offset).unwrap_or(&"").trim().to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// The target's name, as written after `keyword` on the first line.
    fn name(&self, keyword: &str) -> Result<String, LakeError> {
        let first = self.lines.first().copied().unwrap_or_default();
        let rest = first
            .split_once(keyword)
            .map_or("", |(_, rest)| rest)
            .trim_start()
            .trim_start_matches('`');
        let name = match rest.strip_prefix('«') {
            Some(escaped) => escaped.split_once('»').map_or("", |(name, _)| name),
            None => rest
                .split(|c: char| c.is_whitespace() || c == '{')
                .next()
                .unwrap_or_default(),
        };
        if name.is_empty() || name == "where" {
            return Err(self.unsupported(0, "a target without a literal name"));
        }
        Ok(name.to_owned())
    }

    /// The text of field `key := …` (up to the next field: a newline,
    /// comma or closing brace outside brackets), with the offset of its
    /// line.
    fn field(&self, key: &str) -> Result<Option<(usize, String)>, LakeError> {
        let text = self.lines.join("\n");
        let first = self.lines.first().copied().unwrap_or_default();
        // The fields follow `where` or `{` on the first line.
        let body = match first.find(" where") {
            Some(at) => at + " where".len(),
            None => first.find('{').map_or(first.len(), |at| at + 1),
        };
        let mut depth = 0i32;
        let mut starts_field = true;
        for (at, c) in text.char_indices().skip_while(|(at, _)| *at < body) {
            if starts_field && depth == 0 && !c.is_whitespace() {
                starts_field = false;
                let rest = &text[at..];
                if let Some(value) = rest
                    .strip_prefix(key)
                    .and_then(|after| after.trim_start().strip_prefix(":="))
                {
                    let offset = text[..at].matches('\n').count();
                    return self.value(offset, value).map(Some);
                }
            }
            match c {
                '[' | '(' | '{' => depth += 1,
                ']' | ')' | '}' => depth -= 1,
                '\n' | ',' if depth == 0 => starts_field = true,
                _ => {}
            }
        }
        Ok(None)
    }

    /// A field's value: `text` up to the end of the field.
    fn value(&self, offset: usize, text: &str) -> Result<(usize, String), LakeError> {
        let mut depth = 0i32;
        for (at, c) in text.char_indices() {
            match c {
                '[' | '(' | '{' => depth += 1,
                ']' | ')' | '}' if depth > 0 => depth -= 1,
                '}' | '\n' | ',' if depth == 0 => {
                    return Ok((offset, text[..at].trim().to_owned()));
                }
                _ => {}
            }
        }
        if depth > 0 {
            return Err(self.unsupported(offset, "an array that is not closed"));
        }
        Ok((offset, text.trim().to_owned()))
    }

    fn string(&self, (offset, text): &(usize, String)) -> Result<String, LakeError> {
        text.trim_end_matches(',')
            .trim()
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .map(str::to_owned)
            .ok_or_else(|| self.unsupported(*offset, "a value that is not a string literal"))
    }

    fn one_name(&self, (offset, text): &(usize, String)) -> Result<String, LakeError> {
        name_literal(text.trim_end_matches(',').trim())
            .ok_or_else(|| self.unsupported(*offset, "a value that is not a name literal (`Name)"))
    }

    fn names(&self, (offset, text): &(usize, String)) -> Result<Vec<String>, LakeError> {
        array(text)
            .and_then(|items| items.iter().map(|item| name_literal(item)).collect())
            .ok_or_else(|| {
                self.unsupported(*offset, "a value that is not an array of name literals")
            })
    }

    fn globs(&self, (offset, text): &(usize, String)) -> Result<Vec<Glob>, LakeError> {
        let glob = |item: &str| -> Option<Glob> {
            let item = item.trim();
            let (form, name) = match item.split_once(char::is_whitespace) {
                Some((form, name)) => (form.trim_start_matches("Glob"), name.trim()),
                None => ("", item),
            };
            let name = name_literal(name)?;
            match form {
                "" => Some(Glob::One(name)),
                ".one" => Some(Glob::One(name)),
                ".submodules" => Some(Glob::Submodules(name)),
                ".andSubmodules" => Some(Glob::AndSubmodules(name)),
                _ => None,
            }
        };
        let items = array(text)
            .ok_or_else(|| self.unsupported(*offset, "a value that is not an array of globs"))?;
        items
            .iter()
            .map(|item| {
                glob(item).ok_or_else(|| LakeError::BadGlob {
                    path: self.path.to_path_buf(),
                    glob: item.trim().to_owned(),
                })
            })
            .collect()
    }
}

/// The items of `#[a, b]` (or `[a, b]`).
fn array(text: &str) -> Option<Vec<String>> {
    let inner = text
        .trim()
        .trim_end_matches(',')
        .trim()
        .trim_start_matches('#')
        .strip_prefix('[')?
        .strip_suffix(']')?;
    Some(
        inner
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// The name of a literal `` `A.B `` (or `` `«a b» ``).
fn name_literal(text: &str) -> Option<String> {
    let name = text.trim().strip_prefix('`')?;
    (!name.is_empty() && !name.contains(char::is_whitespace) || name.starts_with('«'))
        .then(|| name.to_owned())
}

/// `text` with its comments blanked (newlines kept, so line numbers stay).
fn blank_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut depth = 0usize;
    let mut in_string = false;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        if depth > 0 {
            match (c, next) {
                ('/', Some('-')) => {
                    depth += 1;
                    chars.next();
                    out.push_str("  ");
                }
                ('-', Some('/')) => {
                    depth -= 1;
                    chars.next();
                    out.push_str("  ");
                }
                ('\n', _) => out.push('\n'),
                _ => out.push(' '),
            }
            continue;
        }
        match (c, next) {
            ('"', _) => {
                in_string = !in_string;
                out.push(c);
            }
            ('/', Some('-')) if !in_string => {
                depth = 1;
                chars.next();
                out.push_str("  ");
            }
            ('-', Some('-')) if !in_string => {
                for rest in chars.by_ref() {
                    if rest == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<LakeConfig, LakeError> {
        parse(Path::new("lakefile.lean"), text)
    }

    #[test]
    fn the_declarative_forms_are_read() {
        let config = read(
            "import Lake\nopen Lake DSL\n\n/- a\nlean_lib Fake -/\npackage «my pkg» where\n  srcDir := \"src\" -- here\n  version := v!\"0.1\"\n\nrequire mathlib from git\n  \"https://example.invalid/mathlib\"\n\n@[default_target]\nlean_lib Foo where\n  roots := #[`Foo, `Bar]\n  globs := #[.andSubmodules `Foo,\n    .submodules `Bar, `Baz, Glob.one `Qux]\n  srcDir := \"lib\"\n\nlean_lib «Other» {\n  roots := #[`Other]\n}\n\n@[default_target]\nlean_exe main where\n  root := `Main\n\nscript hello args do\n  IO.println \"hi\"\n  return 0\n",
        )
        .unwrap();
        assert_eq!(config.name, "my pkg");
        assert_eq!(config.src_dir, Path::new("src"));
        assert_eq!(config.libraries.len(), 2);
        let foo = &config.libraries[0];
        assert_eq!(foo.roots, ["Foo", "Bar"]);
        assert_eq!(
            foo.globs,
            [
                Glob::AndSubmodules("Foo".into()),
                Glob::Submodules("Bar".into()),
                Glob::One("Baz".into()),
                Glob::One("Qux".into())
            ]
        );
        assert_eq!(foo.src_dir.as_deref(), Some(Path::new("lib")));
        assert_eq!(config.libraries[1].roots, ["Other"]);
        assert_eq!(config.executables[0].root, "Main");
        assert_eq!(config.default_targets, ["Foo", "main"]);
    }

    #[test]
    fn code_is_refused_with_its_line() {
        let err = read("import Lake\nopen Lake DSL\ndef roots := #[`A]\n").unwrap_err();
        assert!(
            matches!(&err, LakeError::UnsupportedLean { line: 3, text, .. } if text == "def roots := #[`A]"),
            "{err:?}"
        );
        let err = read("lean_lib Foo where\n  roots := computeRoots\n").unwrap_err();
        assert!(
            matches!(err, LakeError::UnsupportedLean { line: 2, .. }),
            "{err:?}"
        );
        let err = read("lean_lib Foo where\n  globs := #[.everything `Foo]\n").unwrap_err();
        assert!(matches!(err, LakeError::BadGlob { .. }), "{err:?}");
    }
}
