//! The whole store contract, against a SQLite database file (several independent
//! stores on one file for the concurrency cases).

use std::sync::{Arc, Mutex};

use leasehold::testing::conformance::StoreFactory;
use leasehold::{JobStore, async_trait};
use leasehold_sqlite::SqliteStore;
use tempfile::TempDir;

/// Opens stores on database files in temporary directories that live as long as the
/// factory (one test).
#[derive(Default)]
struct FileFactory {
    dirs: Mutex<Vec<TempDir>>,
}

impl FileFactory {
    fn new_url(&self) -> String {
        let dir = tempfile::tempdir().expect("a temporary directory can be made");
        let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
        self.dirs.lock().expect("not poisoned").push(dir);
        url
    }
}

#[async_trait]
impl StoreFactory for FileFactory {
    async fn open(&self) -> Arc<dyn JobStore> {
        let url = self.new_url();
        Arc::new(SqliteStore::connect(&url).await.expect("the store opens"))
    }

    async fn open_shared(&self, handles: usize) -> Vec<Arc<dyn JobStore>> {
        let url = self.new_url();
        let mut stores: Vec<Arc<dyn JobStore>> = Vec::with_capacity(handles);
        for _ in 0..handles {
            stores.push(Arc::new(
                SqliteStore::connect(&url).await.expect("the store opens"),
            ));
        }
        stores
    }
}

leasehold::conformance_suite!(FileFactory::default());
