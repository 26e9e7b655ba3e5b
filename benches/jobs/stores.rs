//! The stores every scenario runs against, and the jobs they are filled with.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use leasehold::{Clock, JobStore, NewJob, SystemClock};
use leasehold_memory::MemoryStore;
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions, Synchronous};
use tempfile::TempDir;

/// The stores every scenario runs against.
pub(crate) fn store_names() -> Vec<&'static str> {
    vec!["memory", "sqlite"]
}

/// A store opened for one scenario; a SQLite one lives in its own temporary directory,
/// deleted when this is dropped.
pub(crate) struct BenchStore {
    pub(crate) store: Arc<dyn JobStore>,
    sqlite: Option<(SqliteStore, PathBuf)>,
    // Declared last: dropped after the store's handles.
    _dir: Option<TempDir>,
}

impl BenchStore {
    /// The database file of a SQLite store.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.sqlite.as_ref().map(|(_, path)| path.as_path())
    }

    /// Closes a SQLite store's connections (checkpointing its log), so the next
    /// scenario does not share the disk with this one's background work.
    pub(crate) async fn close(self) {
        if let Some((sqlite, _)) = &self.sqlite {
            sqlite.close().await;
        }
    }
}

/// A fresh, empty store of kind `name`: SQLite on a new database file, in WAL mode
/// with `synchronous=NORMAL` (the store's defaults, which it verifies on connect).
pub(crate) async fn open(name: &str) -> BenchStore {
    match name {
        "memory" => BenchStore {
            store: Arc::new(MemoryStore::new()),
            sqlite: None,
            _dir: None,
        },
        "sqlite" => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let path = dir.path().join("jobs.db");
            let sqlite = open_sqlite_file(&path).await;
            BenchStore {
                store: Arc::new(sqlite.clone()),
                sqlite: Some((sqlite, path)),
                _dir: Some(dir),
            }
        }
        other => panic!("unknown store {other}"),
    }
}

/// A SQLite store on the database file at `path` (created when missing).
pub(crate) async fn open_sqlite_file(path: &Path) -> SqliteStore {
    let options = SqliteStoreOptions::file(path)
        .synchronous(Synchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    SqliteStore::connect_with(options)
        .await
        .expect("a SQLite store on a temporary file")
}

pub(crate) fn queues() -> Vec<String> {
    vec!["default".to_owned()]
}

/// A small no-op job of kind `noop` (payload `{"i": i}`), due now.
pub(crate) fn job(i: usize) -> NewJob {
    NewJob::new("noop", serde_json::json!({ "i": i }), SystemClock.now()).expect("valid")
}

/// Enqueues `n` no-op jobs in batches of 1,000 (one `enqueue_many` each).
pub(crate) async fn fill(store: &Arc<dyn JobStore>, n: usize) {
    let mut i = 0;
    while i < n {
        let end = (i + 1_000).min(n);
        let jobs = (i..end).map(job).collect();
        store
            .enqueue_many(jobs, SystemClock.now())
            .await
            .expect("fill");
        i = end;
    }
}

/// `jobs` per second over `elapsed`.
pub(crate) fn rate(jobs: usize, elapsed: Duration) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)] // job counts are far below 2^52
    Some(jobs as f64 / elapsed.as_secs_f64())
}
