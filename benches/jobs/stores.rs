//! The stores every scenario runs against, and the jobs they are filled with.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use leasehold::{Clock, JobStore, NewJob, SystemClock};
use leasehold_memory::MemoryStore;
use leasehold_postgres::{PostgresStore, PostgresStoreOptions};
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions, Synchronous};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tempfile::TempDir;

use crate::report::Report;

/// The variable naming the PostgreSQL server to benchmark on (the tests' server).
pub(crate) const POSTGRES_URL_ENV: &str = "LEASEHOLD_TEST_POSTGRES_URL";

/// The PostgreSQL server's URL, when one is set.
pub(crate) fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|url| !url.is_empty())
}

/// The stores every scenario runs against: PostgreSQL too when a server is set.
pub(crate) fn store_names() -> Vec<&'static str> {
    let mut names = vec!["memory", "sqlite"];
    if postgres_url().is_some() {
        names.push("postgres");
    } else {
        eprintln!("postgres benchmarks SKIPPED: {POSTGRES_URL_ENV} is not set");
    }
    names
}

/// A schema of its own for one scenario.
pub(crate) fn fresh_schema() -> String {
    let suffix: String = (0..12).map(|_| fastrand::lowercase()).collect();
    format!("lh_bench_{suffix}")
}

/// A PostgreSQL store on `schema` (created and migrated), with the default options.
pub(crate) async fn open_postgres(url: &str, schema: &str) -> PostgresStore {
    PostgresStore::connect_with(PostgresStoreOptions::new(url).schema(schema))
        .await
        .expect("a PostgreSQL store on a fresh schema")
}

/// Drops `schema` and everything in it.
pub(crate) async fn drop_schema(url: &str, schema: &str) {
    let mut conn = PgConnection::connect(url).await.expect("a connection");
    sqlx::query(AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
    )))
    .execute(&mut conn)
    .await
    .expect("the bench schema is dropped");
}

/// A store opened for one scenario; a SQLite one lives in its own temporary directory,
/// deleted when this is dropped.
pub(crate) struct BenchStore {
    pub(crate) store: Arc<dyn JobStore>,
    sqlite: Option<(SqliteStore, PathBuf)>,
    /// A PostgreSQL store, the server's URL and the store's schema.
    postgres: Option<(PostgresStore, String, String)>,
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
        if let Some((postgres, url, schema)) = &self.postgres {
            postgres.close().await;
            drop_schema(url, schema).await;
        }
    }

    /// The PostgreSQL store, if this is one.
    pub(crate) fn postgres(&self) -> Option<&PostgresStore> {
        self.postgres.as_ref().map(|(store, _, _)| store)
    }
}

/// A fresh, empty store of kind `name`: SQLite on a new database file, in WAL mode
/// with `synchronous=NORMAL` (the store's defaults, which it verifies on connect);
/// PostgreSQL on a new schema of the server `LEASEHOLD_TEST_POSTGRES_URL` names, with
/// the default options (a pool of 10), dropped by `close`.
pub(crate) async fn open(name: &str) -> BenchStore {
    match name {
        "memory" => BenchStore {
            store: Arc::new(MemoryStore::new()),
            sqlite: None,
            postgres: None,
            _dir: None,
        },
        "sqlite" => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let path = dir.path().join("jobs.db");
            let sqlite = open_sqlite_file(&path).await;
            BenchStore {
                store: Arc::new(sqlite.clone()),
                sqlite: Some((sqlite, path)),
                postgres: None,
                _dir: Some(dir),
            }
        }
        "postgres" => {
            let url = postgres_url().expect("postgres runs only with a server set");
            let schema = fresh_schema();
            let postgres = open_postgres(&url, &schema).await;
            BenchStore {
                store: Arc::new(postgres.clone()),
                sqlite: None,
                postgres: Some((postgres, url, schema)),
                _dir: None,
            }
        }
        other => panic!("unknown store {other}"),
    }
}

/// A fresh store of kind `name` (see [`open`]) for a scenario the run asks for, `None`
/// when it does not: `filter` is the scenario's name, or the part of it shared by the
/// scenarios that run together (see [`Report::wants`]).
pub(crate) async fn open_if_wanted(
    report: &Report,
    filter: &str,
    name: &str,
) -> Option<BenchStore> {
    if report.wants(filter) {
        Some(open(name).await)
    } else {
        None
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
