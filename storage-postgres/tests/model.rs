//! PostgresStore against the naive reference model, over random operation sequences;
//! each sequence on a fresh schema.

mod support;

use leasehold::testing::model;
use proptest::prelude::*;

/// `PROPTEST_CASES`, or 64 (each case migrates a schema of its own); one when no
/// server is set, which then only says it skipped.
fn cases() -> u32 {
    if std::env::var(support::URL_VAR).is_err() {
        return 1;
    }
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64)
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
