//! The worker's behaviour, on every store: each scenario is a function over an
//! `Arc<dyn JobStore>`, and `worker_scenarios!` runs it on every backend (memory, a
//! SQLite file, PostgreSQL).
//!
//! - [`outcomes`]: what a handler's result does to its job (retries, failures, snoozes).
//! - [`leases`]: heartbeats, lost and expired leases, cancelling a running job.
//! - [`run_loop`]: `run`, its polling and waking, and shutdown.
//! - [`claim_ahead`]: the buffer of jobs claimed beyond the free slots.
//! - [`store_calls`]: what the worker asks of its store, and a store that fails.
//! - [`config`]: what the builder refuses.
//! - [`kit`]: handler data, follow-up jobs, layers, and a job type's declared defaults.
//! - [`world`]: the jobs, handlers and test world the scenarios share.
//!
//! Time is a `ManualClock` at fixed dates; the worker is stepped with `run_once` and
//! `heartbeat`, never by sleeping against a store. The only real-time waits are guard
//! timeouts that fail a hung test, and a 20 ms handler timeout.

use std::sync::Arc;

use leasehold::JobStore;

/// Runs each scenario named on every backend: one module per backend (`memory`,
/// `sqlite_file`, `postgres`) with one test per scenario, which takes the store and a
/// guard that lives as long as the test (a temporary directory, a schema to drop).
macro_rules! worker_scenarios {
    (@on $backend:ident, $factory:path; $($case:ident),*) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some((store, _guard)) = $factory().await else {
                        return; // the backend is not available here (it said why)
                    };
                    super::$case(store).await;
                }
            )*
        }
    };
    ($($case:ident),* $(,)?) => {
        worker_scenarios!(@on memory, crate::memory; $($case),*);
        worker_scenarios!(@on sqlite_file, crate::sqlite_support::open_file; $($case),*);
        worker_scenarios!(@on postgres, crate::postgres_support::open; $($case),*);
    };
}

mod claim_ahead;
mod config;
mod kit;
mod leases;
mod outcomes;
mod run_loop;
mod store_calls;
mod world;

/// A `MemoryStore`.
async fn memory() -> Option<(Arc<dyn JobStore>, ())> {
    let store: Arc<dyn JobStore> = Arc::new(leasehold_memory::MemoryStore::new());
    Some((store, ()))
}

// A database file, as in production (no paused tokio time with sqlx).
#[path = "../support/sqlite.rs"]
mod sqlite_support;

// A fresh schema of the server LEASEHOLD_TEST_POSTGRES_URL names (skipped without it).
#[path = "../support/postgres.rs"]
mod postgres_support;
