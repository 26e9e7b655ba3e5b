//! Opening a database: the file is created, migrated and verified; what is not a
//! leasehold database (another application's, a newer leasehold's, not SQLite at all,
//! corrupt) is refused with a clear error, never a panic.

use std::path::{Path, PathBuf};

use leasehold::testing::conformance::t;
use leasehold::{JobFilter, JobStore, NewJob, StoreError};
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions, Synchronous};
use sqlx::{Connection, Row, SqliteConnection};

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn job(kind: &str) -> NewJob {
    NewJob::new(kind, serde_json::json!({"n": 1}), t(0)).expect("a valid job")
}

/// A store on a new `jobs.db` in a temporary directory, which lives as long as the
/// first part; the second is the file's path.
async fn store_on_a_new_file() -> (tempfile::TempDir, PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let store = SqliteStore::connect(&url(&path)).await.unwrap();
    (dir, path, store)
}

async fn settings(store: &SqliteStore) -> (String, i64, i64, i64) {
    let row = sqlx::query(
        "SELECT j.journal_mode, s.synchronous, b.timeout, f.foreign_keys \
         FROM pragma_journal_mode() j, pragma_synchronous() s, \
              pragma_busy_timeout() b, pragma_foreign_keys() f",
    )
    .fetch_one(store.read_pool())
    .await
    .expect("the settings can be read");
    (
        row.get("journal_mode"),
        row.get("synchronous"),
        row.get("timeout"),
        row.get("foreign_keys"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_creates_the_file_and_jobs_survive_a_reopen() {
    let (_dir, path, store) = store_on_a_new_file().await;
    let enqueued = store.enqueue(job("kept"), t(0)).await.unwrap().job;
    store.close().await;

    let reopened = SqliteStore::connect(&url(&path)).await.unwrap();

    assert!(path.exists());
    assert_eq!(
        reopened.get(enqueued.id, t(0)).await.unwrap(),
        Some(enqueued)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_read_back_as_wal_and_normal_by_default_and_full_one_option_away() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");

    let normal = SqliteStore::connect(&url(&path)).await.unwrap();
    let full = SqliteStore::connect_with(
        SqliteStoreOptions::file(&path)
            .synchronous(Synchronous::Full)
            .busy_timeout(std::time::Duration::from_millis(1500)),
    )
    .await
    .unwrap();

    assert_eq!(settings(&normal).await, ("wal".to_owned(), 1, 5000, 1));
    assert_eq!(settings(&full).await, ("wal".to_owned(), 2, 1500, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_databases_are_private_to_their_store() {
    let first = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let second = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let named = SqliteStore::connect("sqlite://leasehold-schema-test?mode=memory&cache=shared")
        .await
        .unwrap();

    first.enqueue(job("a"), t(0)).await.unwrap();
    named.enqueue(job("b"), t(0)).await.unwrap();

    assert_eq!(first.count(&JobFilter::all(), t(0)).await.unwrap(), 1);
    assert_eq!(second.count(&JobFilter::all(), t(0)).await.unwrap(), 0);
    assert_eq!(named.count(&JobFilter::all(), t(0)).await.unwrap(), 1);
    assert_eq!(settings(&first).await.0, "memory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).unwrap();

    let error = SqliteStore::connect(&url(&path)).await.unwrap_err();

    assert!(matches!(error, StoreError::Incompatible(_)), "{error:?}");
    assert!(
        error.to_string().contains("not a SQLite database"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_applications_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let mut other = SqliteConnection::connect(&format!("{}?mode=rwc", url(&path)))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        .execute(&mut other)
        .await
        .unwrap();

    let error = SqliteStore::connect(&url(&path)).await.unwrap_err();

    assert!(matches!(error, StoreError::Incompatible(_)), "{error:?}");
    assert!(
        error.to_string().contains("not a leasehold database"),
        "{error}"
    );
    assert!(error.to_string().contains("users"), "{error}");
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_schema")
        .fetch_all(&mut other)
        .await
        .unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert_eq!(tables, ["users"]);
    assert_eq!(
        journal, "delete",
        "the refused database is not switched to WAL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_migrated_by_a_newer_leasehold_is_refused() {
    let (_dir, path, store) = store_on_a_new_file().await;
    sqlx::query(
        "INSERT INTO _leasehold_migrations \
         (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from the future', 1, x'00', 0)",
    )
    .execute(store.read_pool())
    .await
    .unwrap();
    store.close().await;

    let error = SqliteStore::connect(&url(&path)).await.unwrap_err();

    assert!(matches!(error, StoreError::Incompatible(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("99990101000000") && message.contains("newer"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_database_is_an_error_not_a_panic() {
    let (_dir, path, store) = store_on_a_new_file().await;
    let big = "x".repeat(2000);
    let jobs: Vec<NewJob> = (0..300)
        .map(|_| NewJob::new("k", serde_json::json!({ "pad": big }), t(0)).unwrap())
        .collect();
    store.enqueue_many(jobs, t(0)).await.unwrap();
    store.close().await;
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes.len() > 100_000,
        "the jobs were checkpointed into the file"
    );
    let end = bytes.len() - 4096;
    for byte in &mut bytes[8192..end] {
        *byte = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();

    let outcome = async {
        let store = SqliteStore::connect(&url(&path)).await?;
        store.list(&JobFilter::all(), t(0)).await?;
        store.count(&JobFilter::all(), t(0)).await
    }
    .await;

    let error = outcome.expect_err("a corrupt database is reported");
    eprintln!("corrupt database: {error}");
    assert!(
        matches!(error, StoreError::Incompatible(_) | StoreError::Backend(_)),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_connecting_at_once_to_a_new_file_migrate_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");

    let stores = futures::future::join_all(
        (0..6).map(|_| SqliteStore::connect_with(SqliteStoreOptions::file(&path))),
    )
    .await;

    let stores: Vec<SqliteStore> = stores.into_iter().map(Result::unwrap).collect();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _leasehold_migrations")
        .fetch_one(stores[0].read_pool())
        .await
        .unwrap();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    assert_eq!(
        applied,
        i64::try_from(migrations).unwrap(),
        "each migration applied once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_opens_over_an_existing_pool() {
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(2)
        .connect(&format!("{}?mode=rwc", url(&dir.path().join("jobs.db"))))
        .await
        .unwrap();

    let store = SqliteStore::from_pool(pool).await.unwrap();
    let enqueued = store.enqueue(job("pooled"), t(0)).await.unwrap().job;

    assert_eq!(store.get(enqueued.id, t(0)).await.unwrap(), Some(enqueued));
    assert_eq!(settings(&store).await.0, "wal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_reports_the_settings_sqlite_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());

    let normal = leasehold_sqlite::SqliteStore::connect(&url).await.unwrap();
    let full = leasehold_sqlite::SqliteStore::connect_with(
        leasehold_sqlite::SqliteStoreOptions::new(&url)
            .synchronous(leasehold_sqlite::Synchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(9)),
    )
    .await
    .unwrap();
    let memory = leasehold_sqlite::SqliteStore::connect("sqlite::memory:")
        .await
        .unwrap();

    assert_eq!(normal.settings().journal_mode, "wal");
    assert_eq!(normal.settings().synchronous, "normal");
    assert_eq!(full.settings().synchronous, "full");
    assert_eq!(
        full.settings().busy_timeout,
        std::time::Duration::from_secs(9)
    );
    assert_eq!(memory.settings().journal_mode, "memory");
}
