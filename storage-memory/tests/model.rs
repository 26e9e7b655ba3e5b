//! MemoryStore against the naive reference model, over random operation sequences.

use std::sync::Arc;

use leasehold::JobStore;
use leasehold::testing::model;
use leasehold_memory::MemoryStore;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn memory_store_matches_the_model(ops in model::operations(60)) {
        let factory = || async { Arc::new(MemoryStore::new()) as Arc<dyn JobStore> };
        model::check(&factory, &ops)?;
    }
}
