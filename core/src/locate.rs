//! Finding the child binary an application ships: [`ChildLocator`].

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// Finds a child binary by name, the way a shipped application and its
/// tests both need to: in order,
///
/// 1. an explicit path ([`path`](ChildLocator::path)), if given;
/// 2. an environment variable the application names
///    ([`env_override`](ChildLocator::env_override)), if it is set: a path
///    that is not an executable file is an error, never a reason to look
///    elsewhere;
/// 3. next to the current executable, and one directory up (cargo puts
///    tests in `target/<profile>/deps/` and examples in
///    `target/<profile>/examples/`, the binaries in `target/<profile>/`);
/// 4. cargo's target directories, for development: `$CARGO_TARGET_DIR`
///    and every `target` directory above the current executable, each in
///    `debug/` and `release/`.
///
/// The name gets the platform's executable suffix (`.exe` on Windows).
/// When nothing is found, the error lists every place tried.
///
/// ```no_run
/// let child = bulkhead::ChildLocator::new("my-app-child")
///     .env_override("MY_APP_CHILD")
///     .locate()?;
/// let builder = bulkhead::Worker::builder(child);
/// # let _ = builder;
/// # Ok::<_, bulkhead::LocateError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChildLocator {
    name: String,
    path: Option<PathBuf>,
    env_override: Option<String>,
    cargo: bool,
}

/// Why a child binary was not found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocateError {
    /// The explicit path given is not an executable file.
    #[error("the child binary {} {}", path.display(), why)]
    BadPath {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        why: NotUsable,
    },
    /// The override variable is set, but not to an executable file.
    #[error("{variable} is set to {}, which {}; unset it to search the usual places", path.display(), why)]
    BadOverride {
        /// The variable.
        variable: String,
        /// Its value.
        path: PathBuf,
        /// What is wrong with it.
        why: NotUsable,
    },
    /// No place held the binary.
    #[error("no child binary {name:?} found; tried: {}", Tried(tried))]
    NotFound {
        /// The file name looked for.
        name: String,
        /// Every path tried, in order.
        tried: Vec<PathBuf>,
    },
}

/// What is wrong with a path that should be a child binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotUsable {
    /// Nothing is there.
    Missing,
    /// It is a directory, or not a regular file.
    NotAFile,
    /// It may not be executed (Unix permissions).
    NotExecutable,
}

impl fmt::Display for NotUsable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotUsable::Missing => "does not exist",
            NotUsable::NotAFile => "is not a file",
            NotUsable::NotExecutable => "is not executable",
        })
    }
}

/// The paths tried, joined for a message.
struct Tried<'a>(&'a [PathBuf]);

impl fmt::Display for Tried<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listed: Vec<String> = self
            .0
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        f.write_str(&listed.join(", "))
    }
}

impl ChildLocator {
    /// A locator for the binary named `name` (without `.exe`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path: None,
            env_override: None,
            cargo: true,
        }
    }

    /// Uses `path` and nothing else.
    pub fn path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Takes the path from the variable `variable` when it is set.
    pub fn env_override(mut self, variable: impl Into<String>) -> Self {
        self.env_override = Some(variable.into());
        self
    }

    /// Whether to look in cargo's target directories (on by default; a
    /// shipped application may turn it off).
    pub fn cargo_target_dirs(mut self, look: bool) -> Self {
        self.cargo = look;
        self
    }

    /// The child binary's path.
    pub fn locate(&self) -> Result<PathBuf, LocateError> {
        let variable = self
            .env_override
            .as_ref()
            .map(|name| (name.clone(), std::env::var_os(name)));
        let current = std::env::current_exe().ok();
        let target = std::env::var_os("CARGO_TARGET_DIR");
        self.locate_with(variable, current.as_deref(), target)
    }

    /// [`locate`](Self::locate) with the environment given.
    fn locate_with(
        &self,
        variable: Option<(String, Option<OsString>)>,
        current_exe: Option<&Path>,
        cargo_target_dir: Option<OsString>,
    ) -> Result<PathBuf, LocateError> {
        if let Some(path) = &self.path {
            return usable(path)
                .map(|()| path.clone())
                .map_err(|why| LocateError::BadPath {
                    path: path.clone(),
                    why,
                });
        }
        if let Some((variable, Some(value))) = variable
            && !value.is_empty()
        {
            let path = PathBuf::from(value);
            return usable(&path)
                .map(|()| path.clone())
                .map_err(|why| LocateError::BadOverride {
                    variable,
                    path,
                    why,
                });
        }
        let file = format!("{}{}", self.name, std::env::consts::EXE_SUFFIX);
        let mut tried: Vec<PathBuf> = Vec::new();
        let mut places: Vec<PathBuf> = Vec::new();
        if let Some(dir) = current_exe.and_then(Path::parent) {
            places.push(dir.to_path_buf());
            if let Some(up) = dir.parent() {
                places.push(up.to_path_buf());
            }
        }
        if self.cargo {
            let mut targets: Vec<PathBuf> =
                cargo_target_dir.into_iter().map(PathBuf::from).collect();
            targets.extend(
                current_exe
                    .into_iter()
                    .flat_map(Path::ancestors)
                    .filter(|dir| dir.file_name().is_some_and(|name| name == "target"))
                    .map(Path::to_path_buf),
            );
            for target in targets {
                places.push(target.join("debug"));
                places.push(target.join("release"));
            }
        }
        for dir in places {
            let path = dir.join(&file);
            if tried.contains(&path) {
                continue;
            }
            if usable(&path).is_ok() {
                return Ok(path);
            }
            tried.push(path);
        }
        Err(LocateError::NotFound { name: file, tried })
    }
}

/// Whether `path` is an executable file.
fn usable(path: &Path) -> Result<(), NotUsable> {
    let meta = std::fs::metadata(path).map_err(|_| NotUsable::Missing)?;
    if !meta.is_file() {
        return Err(NotUsable::NotAFile);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(NotUsable::NotExecutable);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own with files made executable.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("bulkhead-locate-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap_or_default();
            Self(dir)
        }

        /// Makes an executable file at `relative` (suffix added).
        fn binary(&self, relative: &str) -> PathBuf {
            let path = self
                .0
                .join(format!("{relative}{}", std::env::consts::EXE_SUFFIX));
            std::fs::create_dir_all(path.parent().unwrap_or(&self.0)).unwrap_or_default();
            std::fs::write(&path, b"").unwrap_or_default();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
            }
            path
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_sibling_of_the_executable_or_of_its_directory_is_found() {
        let dir = Dir::new("sibling");
        let child = dir.binary("target/debug/child");
        let test = dir.0.join("target/debug/deps/tests-1234");
        let found = ChildLocator::new("child").locate_with(None, Some(&test), None);
        assert_eq!(found, Ok(child.clone()));
        let example = dir.0.join("target/debug/examples/demo");
        let found = ChildLocator::new("child").locate_with(None, Some(&example), None);
        assert_eq!(found, Ok(child));
    }

    #[test]
    fn cargo_target_directories_are_searched_for_development() {
        let dir = Dir::new("cargo");
        let child = dir.binary("target/release/child");
        // The current executable is deeper, in another profile's tree.
        let current = dir.0.join("target/debug/build/x/out/tool");
        let found = ChildLocator::new("child").locate_with(None, Some(&current), None);
        assert_eq!(found, Ok(child.clone()));
        let found = ChildLocator::new("child")
            .cargo_target_dirs(false)
            .locate_with(None, Some(&current), None);
        assert!(
            matches!(found, Err(LocateError::NotFound { .. })),
            "{found:?}"
        );
        let elsewhere = Dir::new("cargo-env");
        let found = ChildLocator::new("child").locate_with(
            None,
            Some(&elsewhere.0.join("bin/app")),
            Some(dir.0.join("target").into_os_string()),
        );
        assert_eq!(found, Ok(child));
    }

    #[test]
    fn an_override_wins_and_a_wrong_one_is_an_error() {
        let dir = Dir::new("override");
        let chosen = dir.binary("elsewhere/child-v2");
        let sibling = dir.binary("bin/child");
        let current = dir.0.join("bin/app");
        let set = |value: &Path| Some(("APP_CHILD".to_owned(), Some(value.as_os_str().to_owned())));
        let found = ChildLocator::new("child")
            .env_override("APP_CHILD")
            .locate_with(set(&chosen), Some(&current), None);
        assert_eq!(found, Ok(chosen));
        let missing = dir.0.join("nowhere/child");
        let err = ChildLocator::new("child")
            .locate_with(set(&missing), Some(&current), None)
            .unwrap_err();
        assert_eq!(
            err,
            LocateError::BadOverride {
                variable: "APP_CHILD".into(),
                path: missing.clone(),
                why: NotUsable::Missing
            }
        );
        assert!(
            err.to_string().contains("does not exist; unset it"),
            "{err}"
        );
        // Unset or empty: the usual places.
        let unset = Some(("APP_CHILD".to_owned(), None));
        let found = ChildLocator::new("child").locate_with(unset, Some(&current), None);
        assert_eq!(found, Ok(sibling.clone()));
        let empty = Some(("APP_CHILD".to_owned(), Some(OsString::new())));
        let found = ChildLocator::new("child").locate_with(empty, Some(&current), None);
        assert_eq!(found, Ok(sibling));
    }

    #[test]
    fn an_explicit_path_is_used_or_refused_and_nothing_found_says_where() {
        let dir = Dir::new("explicit");
        let found = ChildLocator::new("x")
            .path(&dir.0)
            .locate_with(None, None, None);
        assert!(
            matches!(
                found,
                Err(LocateError::BadPath {
                    why: NotUsable::NotAFile,
                    ..
                })
            ),
            "{found:?}"
        );
        #[cfg(unix)]
        {
            let plain = dir.0.join("plain");
            std::fs::write(&plain, b"").unwrap_or_default();
            let found = ChildLocator::new("x")
                .path(&plain)
                .locate_with(None, None, None);
            assert!(
                matches!(
                    found,
                    Err(LocateError::BadPath {
                        why: NotUsable::NotExecutable,
                        ..
                    })
                ),
                "{found:?}"
            );
        }
        let current = dir.0.join("target/debug/deps/t");
        let err = ChildLocator::new("ghost")
            .locate_with(None, Some(&current), None)
            .unwrap_err();
        let LocateError::NotFound { tried, .. } = &err else {
            panic!("{err:?}");
        };
        let file = format!("ghost{}", std::env::consts::EXE_SUFFIX);
        assert_eq!(
            tried,
            &[
                dir.0.join("target/debug/deps").join(&file),
                dir.0.join("target/debug").join(&file),
                dir.0.join("target/release").join(&file),
            ]
        );
        assert!(
            err.to_string()
                .starts_with(&format!("no child binary \"{file}\" found; tried: "))
        );
    }
}
