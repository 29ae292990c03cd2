//! `lakefile.toml`.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::{ExecutableConfig, LakeConfig, LibraryConfig};
use crate::LakeError;
use crate::name::Glob;

/// Reads a `lakefile.toml`.
pub(super) fn parse(path: &Path, text: &str) -> Result<LakeConfig, LakeError> {
    let wrong = |message: String| LakeError::Toml {
        path: path.to_path_buf(),
        message,
    };
    let table: Table = text
        .parse()
        .map_err(|err: toml::de::Error| wrong(err.message().to_owned()))?;
    let mut config = LakeConfig {
        name: string(&table, "name", "the package")
            .map_err(&wrong)?
            .unwrap_or_default(),
        src_dir: string(&table, "srcDir", "the package")
            .map_err(&wrong)?
            .map(PathBuf::from)
            .unwrap_or_default(),
        default_targets: strings(&table, "defaultTargets", "the package").map_err(&wrong)?,
        ..LakeConfig::default()
    };
    for (at, entry) in tables(&table, "lean_lib")
        .map_err(&wrong)?
        .iter()
        .enumerate()
    {
        let what = format!("lean_lib number {}", at + 1);
        let name = string(entry, "name", &what)
            .map_err(&wrong)?
            .ok_or_else(|| wrong(format!("{what} has no name")))?;
        let mut library = LibraryConfig::new(name);
        library.src_dir = string(entry, "srcDir", &what)
            .map_err(&wrong)?
            .map(PathBuf::from);
        library.roots = strings(entry, "roots", &what).map_err(&wrong)?;
        for glob in strings(entry, "globs", &what).map_err(&wrong)? {
            library
                .globs
                .push(Glob::parse(&glob).ok_or_else(|| LakeError::BadGlob {
                    path: path.to_path_buf(),
                    glob,
                })?);
        }
        config.libraries.push(library);
    }
    for (at, entry) in tables(&table, "lean_exe")
        .map_err(&wrong)?
        .iter()
        .enumerate()
    {
        let what = format!("lean_exe number {}", at + 1);
        let name = string(entry, "name", &what)
            .map_err(&wrong)?
            .ok_or_else(|| wrong(format!("{what} has no name")))?;
        config.executables.push(ExecutableConfig {
            root: string(entry, "root", &what)
                .map_err(&wrong)?
                .unwrap_or_else(|| name.clone()),
            src_dir: string(entry, "srcDir", &what)
                .map_err(&wrong)?
                .map(PathBuf::from),
            name,
        });
    }
    Ok(config)
}

fn string(table: &Table, key: &str, what: &str) -> Result<Option<String>, String> {
    match table.get(key) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(format!("`{key}` of {what} is not a string")),
    }
}

fn strings(table: &Table, key: &str, what: &str) -> Result<Vec<String>, String> {
    match table.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(values)) => values
            .iter()
            .map(|value| match value {
                Value::String(value) => Ok(value.clone()),
                _ => Err(format!(
                    "`{key}` of {what} holds something other than strings"
                )),
            })
            .collect(),
        Some(_) => Err(format!("`{key}` of {what} is not an array of strings")),
    }
}

fn tables<'t>(table: &'t Table, key: &str) -> Result<Vec<&'t Table>, String> {
    match table.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(values)) => values
            .iter()
            .map(|value| match value {
                Value::Table(entry) => Ok(entry),
                _ => Err(format!("`{key}` holds something other than tables")),
            })
            .collect(),
        Some(_) => Err(format!("`{key}` is not an array of tables (`[[{key}]]`)")),
    }
}
