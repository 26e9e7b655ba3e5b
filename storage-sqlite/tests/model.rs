//! SqliteStore (in memory, so each case is cheap) against the naive reference model,
//! over random operation sequences.

use std::sync::Arc;

use leasehold::JobStore;
use leasehold::testing::model;
use leasehold_sqlite::SqliteStore;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn sqlite_store_matches_the_model(ops in model::operations(60)) {
        let factory = || async {
            Arc::new(SqliteStore::connect("sqlite::memory:").await.expect("the store opens"))
                as Arc<dyn JobStore>
        };
        model::check(&factory, &ops)?;
    }
}
