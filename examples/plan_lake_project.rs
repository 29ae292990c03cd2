//! A Lean project's modules, planned and "checked" in a pool of children.
//!
//! ```text
//! cargo run --release --example plan_lake_project [-- PATH]
//! ```
//!
//! Reads the Lake package at `PATH` (by default the small one in
//! `examples/lake-demo`) without a Lean toolchain: its libraries, every
//! module they build, the import graph. Plans the modules as work items
//! keyed by their imports (modules with the same imports share a warm
//! worker), and runs the plan through a pool of fixture children whose
//! `check_module` command reads each module's file and streams a row per
//! declaration-like line. A real prover child would elaborate the module
//! there; the plan and the pool would be the same.
//!
//! Like the other examples, this executable is its own child.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use bulkhead::plan::{Planner, WorkItem};
use bulkhead::pool::Pool;
use bulkhead::{Row, Worker};
use bulkhead_fixture::{CheckModule, Declaration};
use bulkhead_lake::Package;

type BoxError = Box<dyn Error + Send + Sync>;

/// Workers (children) in the pool.
const WORKERS: usize = 2;

fn main() -> Result<(), BoxError> {
    bulkhead_child::run_if_child(bulkhead_fixture::capability);
    let path = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("lake-demo"),
        PathBuf::from,
    );
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(path))
}

async fn run(path: PathBuf) -> Result<(), BoxError> {
    let package = match Package::discover(&path) {
        Ok(package) => package,
        Err(err) => {
            eprintln!("cannot read the package: {err}\nhint: {}", err.hint());
            std::process::exit(1);
        }
    };
    println!(
        "package {} ({}): {} modules, fingerprint {}",
        package.name,
        package.lakefile.display(),
        package.modules.len(),
        package.fingerprint
    );
    for library in &package.libraries {
        let globs: Vec<String> = library.globs.iter().map(ToString::to_string).collect();
        println!(
            "  library {:<16} {:>4} modules  globs {}  srcDir {}",
            library.name,
            library.modules.len(),
            globs.join(", "),
            if library.src_dir.as_os_str().is_empty() {
                std::path::Path::new(".").display()
            } else {
                library.src_dir.display()
            }
        );
    }
    for (name, root) in &package.executables {
        println!("  executable {name} (root {root})");
    }
    let edges: usize = package
        .modules
        .values()
        .map(|module| module.local_imports.len())
        .sum();
    let imported: std::collections::BTreeSet<&str> = package
        .modules
        .values()
        .flat_map(|module| module.local_imports.iter().map(String::as_str))
        .collect();
    let tops = package
        .modules
        .keys()
        .filter(|name| !imported.contains(name.as_str()))
        .count();
    println!(
        "  import graph: {edges} imports inside the package, {tops} modules nothing imports, longest chain {}",
        longest_chain(&package)
    );

    // The fixture child's sessions are keyed by strings: the imports, joined.
    let items = package.work_items(false).into_iter().map(|item| {
        let cost = item.cost.unwrap_or(1.0);
        WorkItem::new(item.id, item.key.join(" "), item.data).with_cost(cost)
    });
    let plan = Planner::new(WORKERS).plan(items)?;
    println!(
        "plan: {} batches for {} modules on {WORKERS} workers",
        plan.batches().len(),
        plan.items()
    );
    for batch in plan.batches().iter().take(5) {
        println!(
            "  {:<48} {:>3} modules  imports {}",
            batch.fingerprint(),
            batch.items().len(),
            if batch.key().is_empty() {
                "(none)"
            } else {
                batch.key()
            }
        );
    }
    if plan.batches().len() > 5 {
        println!("  ... and {} more", plan.batches().len() - 5);
    }

    let pool: Pool<String> = Pool::builder(
        Worker::builder(std::env::current_exe()?)
            .transport(bulkhead_stdio::StdioTransport)
            .request_timeout(Duration::from_secs(30)),
    )
    .max_workers(WORKERS)
    .keep_idle_workers()
    .build()?;
    let root = package.root.clone();
    let report = pool
        .run_plan_with(
            plan,
            |batch| batch.progress_bar(),
            move |lease, item| {
                let path = root.join(&item.data.path).to_string_lossy().into_owned();
                Box::pin(async move {
                    let mut rows: Vec<Row<Declaration>> = Vec::new();
                    let summary = lease.stream(&CheckModule { path }, &mut rows).await?;
                    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
                    for row in rows {
                        *kinds.entry(row.value.kind).or_default() += 1;
                    }
                    Ok((summary.value.lines, kinds))
                })
            },
        )
        .await;

    println!(
        "{:<28} {:>6} {:>6}  declarations",
        "module", "lines", "decls"
    );
    let mut failed = 0;
    for batch in &report.batches {
        let items = match &batch.items {
            Ok(items) => items,
            Err(err) => {
                println!("  batch {} did not run: {err}", batch.fingerprint);
                failed += 1;
                continue;
            }
        };
        for (id, outcome) in items {
            match outcome {
                Ok((lines, kinds)) => {
                    let declarations: u64 = kinds.values().sum();
                    let listed: Vec<String> = kinds
                        .iter()
                        .map(|(kind, n)| format!("{kind} {n}"))
                        .collect();
                    println!(
                        "{id:<28} {lines:>6} {declarations:>6}  {}",
                        listed.join(", ")
                    );
                }
                Err(err) => {
                    println!("{id:<28} failed: {err}");
                    failed += 1;
                }
            }
        }
    }
    println!("checked: {}", report.totals);
    for report in pool.shutdown().await {
        println!("shutdown: {report}");
    }
    if failed > 0 {
        return Err(format!("{failed} modules or batches failed").into());
    }
    Ok(())
}

/// The most modules on one chain of imports inside the package.
fn longest_chain(package: &Package) -> usize {
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    for name in package.topological_order() {
        let below = package.modules[name]
            .local_imports
            .iter()
            .map(|import| depth.get(import.as_str()).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        depth.insert(name, below + 1);
    }
    depth.values().copied().max().unwrap_or(0)
}
