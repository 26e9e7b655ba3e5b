//! `on_every_store!`: each scenario of a test file (an `async fn(Arc<dyn JobStore>)`)
//! as a test on the memory store, on a SQLite database file (as in production: no
//! paused tokio time with sqlx) and on a fresh schema of the PostgreSQL server
//! `LEASEHOLD_TEST_POSTGRES_URL` names (skipped, loudly, without it). The test file
//! declares `sqlite_support` and `postgres_support` (`support/sqlite.rs`,
//! `support/postgres.rs`) and imports `Arc` and `JobStore`.

macro_rules! on_every_store {
    ($($case:ident),* $(,)?) => {
        on_every_store!(@store memory, async {
            let store: Arc<dyn JobStore> = Arc::new(leasehold_memory::MemoryStore::new());
            Some((store, ()))
        }; $($case),*);
        on_every_store!(@store sqlite_file, sqlite_support::open_file(); $($case),*);
        on_every_store!(@store postgres, postgres_support::open(); $($case),*);
    };
    // A module `$store` with one test per scenario, each on a store `$open` gives.
    (@store $store:ident, $open:expr; $($case:ident),*) => {
        mod $store {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some((store, _guard)) = $open.await else {
                        return;
                    };
                    super::$case(store).await;
                }
            )*
        }
    };
}
