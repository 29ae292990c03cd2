//! What the ELPI tests share: the child binary, a pool of one worker, a
//! query run to its solutions, a watchdog.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bulkhead::pool::{CallError, Pool};
use bulkhead::{Row, Worker, WorkerBuilder};
use bulkhead_elpi::corpus;
use bulkhead_elpi::{ElpiProgram, Solution, Solve, library};

pub const CHILD: &str = env!("CARGO_BIN_EXE_bulkhead-elpi-child");
pub const WATCHDOG: Duration = Duration::from_secs(120);
pub const MIB: u64 = 1024 * 1024;

/// Whether the library is here; fails under CI when it is not.
pub fn library_here() -> bool {
    match library::locate(None) {
        Ok(_) => true,
        Err(err) if std::env::var_os("CI").is_some() => panic!("{err}"),
        Err(err) => {
            eprintln!("not run: {err}");
            false
        }
    }
}

pub fn run(test: impl Future<Output = ()>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        tokio::time::timeout(WATCHDOG, test)
            .await
            .expect("watchdog: the test took too long");
    });
}

pub fn child() -> WorkerBuilder {
    Worker::builder(CHILD).request_timeout(Duration::from_secs(20))
}

pub fn pool(worker: WorkerBuilder) -> Pool<ElpiProgram> {
    Pool::builder(worker)
        .max_workers(1)
        .keep_idle_workers()
        .build()
        .unwrap()
}

pub async fn solve(
    pool: &Pool<ElpiProgram>,
    program: &corpus::Program,
    query: &str,
    fuel: Option<u64>,
) -> Result<Vec<Solution>, CallError> {
    let mut rows: Vec<Row<Solution>> = Vec::new();
    let request = Solve {
        query: query.to_owned(),
        limit: None,
        fuel,
    };
    pool.stream(program.key(), &request, &mut rows).await?;
    Ok(rows.into_iter().map(|row| row.value).collect())
}
