//! PostgresStore against the naive reference model, over random operation sequences;
//! each sequence on a fresh schema.

mod support;

use leasehold::testing::model;
use leasehold_sql::testing::proptest_cases;
use proptest::prelude::*;

/// `PROPTEST_CASES`, or 64 (each case migrates a schema of its own); one when no
/// server is set, which then only says it skipped.
fn cases() -> u32 {
    match std::env::var(support::URL_VAR) {
        Ok(_) => proptest_cases(64),
        Err(_) => 1,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn postgres_store_matches_the_model(ops in model::operations(60)) {
        let Some(factory) = support::PgFactory::from_env() else {
            return Ok(());
        };
        model::check(&factory, &ops)?;
    }
}
