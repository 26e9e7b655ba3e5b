//! SqliteStore (in memory, so each case is cheap) against the naive reference model,
//! over random operation sequences.

use std::sync::Arc;

use leasehold::JobStore;
use leasehold::testing::model;
use leasehold_sql::testing::proptest_cases;
use leasehold_sqlite::SqliteStore;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(128)))]

    #[test]
    fn sqlite_store_matches_the_model(ops in model::operations(60)) {
        let factory = || async {
            Arc::new(SqliteStore::connect("sqlite::memory:").await.expect("the store opens"))
                as Arc<dyn JobStore>
        };
        model::check(&factory, &ops)?;
    }
}
