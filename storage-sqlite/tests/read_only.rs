//! A database the store cannot write (a read-only file, a read-only connection) or
//! cannot open: the errors are `Permanent`, never transient, and say what to do.
//!
//! These tests run as root, for whom file modes do not stop writes (`chmod 0444` on
//! the file changes nothing), so the read-only file is made the way SQLite sees one:
//! a connection opened read-only (`?mode=ro`, `SqliteConnectOptions::read_only`, which
//! is what SQLite falls back to for a file it may not write) or with
//! `PRAGMA query_only`. SQLite answers a write on each with `SQLITE_READONLY`, as it
//! does for a read-only file. A missing directory or a path that is a directory
//! stands in for a directory without permission: SQLite answers all of them with
//! `SQLITE_CANTOPEN`.
//!
//! Where file modes do apply (not root), the last test also checks a `chmod 0444`
//! file (it opens, for reads, and refuses writes) and a `chmod 0555` directory (the
//! store refuses to open, since SQLite cannot create the `-wal` file): both
//! `SQLITE_READONLY`, so `Permanent`.

use std::str::FromStr;

use leasehold::testing::claim_default;
use leasehold::testing::conformance::t;
use leasehold::{JobFilter, JobStore, NewJob, StoreError};
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

fn job(kind: &str) -> NewJob {
    NewJob::new(kind, serde_json::json!({}), t(0)).expect("a valid job")
}

fn url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A leasehold database file holding one job, closed.
async fn database_with_a_job(path: &std::path::Path) -> NewJob {
    let store = SqliteStore::connect_with(SqliteStoreOptions::file(path))
        .await
        .unwrap();
    let job = job("stored");
    store.enqueue(job.clone(), t(0)).await.unwrap();
    store.close().await;
    job
}

/// A pool of one connection, opened with `options`.
async fn one_connection(options: SqliteConnectOptions) -> SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

/// Sets `pragma` (`PRAGMA name = value`) on the connection of a [`one_connection`]
/// pool.
async fn set_pragma(pool: &SqlitePool, pragma: &'static str) {
    sqlx::query(pragma).execute(pool).await.unwrap();
}

fn assert_read_only(error: &StoreError) {
    let StoreError::Permanent { message, .. } = error else {
        panic!("a read-only database is Permanent, not {error:?}");
    };
    assert!(!error.is_transient());
    assert!(message.contains("read-only"), "{message}");
    assert!(message.contains("make both writable"), "{message}");
    assert!(message.contains("-wal and -shm"), "{message}");
    let source = std::error::Error::source(error).expect("the sqlx error is kept");
    assert!(source.to_string().contains("(code: 8)"), "{source}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_opened_read_only_reads_and_refuses_writes_as_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let stored = database_with_a_job(&path).await;

    let store = SqliteStore::connect(&format!("{}?mode=ro", url(&path)))
        .await
        .expect("a database that needs no migration opens read-only");
    let read = store.get(stored.id, t(0)).await;
    let enqueue = store.enqueue(job("new"), t(0)).await;
    let claim = claim_default(&store, 10, t(0), t(60)).await;

    assert!(read.unwrap().is_some(), "reads work");
    assert_read_only(&enqueue.unwrap_err());
    assert_read_only(&claim.unwrap_err());
    assert_eq!(store.count(&JobFilter::all(), t(0)).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_pool_refuses_writes_as_permanent_and_the_same_store_writes_once_it_may() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    database_with_a_job(&path).await;
    let pool = one_connection(SqliteConnectOptions::from_str(&url(&path)).unwrap()).await;
    let store = SqliteStore::from_pool(pool.clone()).await.unwrap();
    set_pragma(&pool, "PRAGMA query_only = ON").await;

    let refused = store.enqueue(job("refused"), t(0)).await;
    set_pragma(&pool, "PRAGMA query_only = OFF").await;
    let accepted = store.enqueue(job("accepted"), t(0)).await;

    assert_read_only(&refused.unwrap_err());
    assert!(accepted.is_ok(), "{accepted:?}");
    assert_eq!(store.count(&JobFilter::all(), t(0)).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_that_needs_migrating_is_refused_at_connect_as_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let options = SqliteConnectOptions::from_str(&url(&path))
        .unwrap()
        .create_if_missing(true);
    // An empty SQLite database in WAL mode: leasehold would have to create its tables.
    let pool = one_connection(options.clone()).await;
    set_pragma(&pool, "PRAGMA journal_mode = WAL").await;
    pool.close().await;
    let read_only = one_connection(options.read_only(true)).await;

    let error = SqliteStore::from_pool(read_only).await.unwrap_err();

    assert_read_only(&error);
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_cannot_be_opened_is_permanent_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing_dir = dir.path().join("missing").join("jobs.db");
    let new_read_only = dir.path().join("new.db");

    let errors = [
        SqliteStore::connect_with(SqliteStoreOptions::file(&missing_dir)).await,
        SqliteStore::connect_with(SqliteStoreOptions::file(dir.path())).await,
        SqliteStore::connect(&format!("{}?mode=ro", url(&new_read_only))).await,
    ]
    .map(|outcome| outcome.expect_err("the database cannot be opened"));

    for (error, path) in
        errors
            .iter()
            .zip([missing_dir.as_path(), dir.path(), new_read_only.as_path()])
    {
        let StoreError::Permanent { message, .. } = error else {
            panic!("a file that cannot be opened is Permanent, not {error:?}");
        };
        assert!(!error.is_transient());
        assert!(
            message.starts_with(&format!("database {}: cannot open", path.display())),
            "{message}"
        );
        assert!(message.contains("its directory exists"), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_database_stays_incompatible_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    std::fs::write(&path, "not a database\n".repeat(600)).unwrap();

    let error = SqliteStore::connect_with(SqliteStoreOptions::file(&path))
        .await
        .unwrap_err();

    let StoreError::Incompatible(message) = &error else {
        panic!("not a database is Incompatible, not {error:?}");
    };
    assert!(!error.is_transient());
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("restore it from a backup"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_file_modes_apply_a_read_only_file_or_directory_is_permanent() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    database_with_a_job(&path).await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    if std::fs::OpenOptions::new().write(true).open(&path).is_ok() {
        eprintln!("skipped: this process may write read-only files (root): see the module docs");
        return;
    }

    // The file opens (read-only, as SQLite falls back to) and refuses the write; the
    // directory fails the connect already.
    let file = async {
        let store = SqliteStore::connect_with(SqliteStoreOptions::file(&path)).await?;
        store.enqueue(job("new"), t(0)).await
    }
    .await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let directory = async {
        let store = SqliteStore::connect_with(SqliteStoreOptions::file(&path)).await?;
        store.enqueue(job("new"), t(0)).await
    }
    .await;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    assert_read_only(&file.unwrap_err());
    assert_read_only(&directory.unwrap_err());
}
