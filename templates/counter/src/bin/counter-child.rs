//! The child binary: its `main` is one call into the child runtime.

use bulkhead_child::{Capability, HandlerError};
use bulkhead_template_counter::{Count, Counted, Crash, NAME, Number};

fn main() -> std::process::ExitCode {
    let capability = Capability::new(NAME, env!("CARGO_PKG_VERSION"))
        .stream(|request: Count, cx| {
            for value in 0..request.n {
                cx.emit(&Number { value })?;
            }
            Ok::<_, HandlerError>(Counted { emitted: request.n })
        })
        .unary(|_: Crash, _cx| -> Result<(), HandlerError> { std::process::abort() });
    bulkhead_child::run(capability)
}
