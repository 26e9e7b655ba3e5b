//! A `SqliteStore` on a database file in a temporary directory, as in production.
//!
//! No `tokio::time::pause` with it: sqlx runs each connection on its own thread, which
//! a paused runtime would not wait for.

use std::sync::Arc;

use leasehold::JobStore;

/// A store on a new database file; the directory lives as long as the guard. Always
/// `Some`: the shape of the other backends' openers, which may skip.
pub(crate) async fn open_file() -> Option<(Arc<dyn JobStore>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("a temporary directory can be made");
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let store: Arc<dyn JobStore> = Arc::new(
        leasehold_sqlite::SqliteStore::connect(&url)
            .await
            .expect("the store opens"),
    );
    Some((store, dir))
}
