//! The whole store contract, against an in-memory SQLite database.

use std::sync::Arc;

use leasehold::JobStore;
use leasehold_sqlite::SqliteStore;

leasehold::conformance_suite!(|| async {
    Arc::new(
        SqliteStore::connect("sqlite::memory:")
            .await
            .expect("an in-memory store opens"),
    ) as Arc<dyn JobStore>
});
