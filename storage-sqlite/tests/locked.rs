//! A database locked by another writer past the busy timeout: the store answers a
//! typed `Busy` error, changes nothing, reads go on (WAL), and the same call succeeds
//! once the lock is gone.

use std::time::Duration;

use leasehold::testing::claim_default;
use leasehold::testing::conformance::t;
use leasehold::{JobFilter, JobStore, NewJob, StoreError};
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions};
use sqlx::{Connection, SqliteConnection};

fn job(kind: &str) -> NewJob {
    NewJob::new(kind, serde_json::json!({}), t(0)).expect("a valid job")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_locked_past_the_busy_timeout_is_busy_and_succeeds_when_retried() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let store = SqliteStore::connect_with(
        SqliteStoreOptions::file(&path).busy_timeout(Duration::from_millis(200)),
    )
    .await
    .unwrap();
    let first = store.enqueue(job("first"), t(0)).await.unwrap().job;
    let mut other = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mut holder = other.begin_with("BEGIN IMMEDIATE").await.unwrap();
    sqlx::query("UPDATE jobs SET priority = 7 WHERE id = ?1")
        .bind(first.id.as_uuid().as_bytes().to_vec())
        .execute(&mut *holder)
        .await
        .unwrap();
    let second = job("second");

    let enqueue = store.enqueue(second.clone(), t(0)).await;
    let claim = claim_default(&store, 10, t(0), t(60)).await;
    let read = store.get(first.id, t(0)).await;

    let error = enqueue.expect_err("the write lock is held past the busy timeout");
    assert!(matches!(error, StoreError::Busy(_)), "{error:?}");
    assert!(error.is_transient());
    let source = std::error::Error::source(&error).expect("the sqlx error is kept");
    assert!(source.to_string().contains("locked"), "{source}");
    assert!(matches!(claim, Err(StoreError::Busy(_))), "{claim:?}");
    assert_eq!(
        read.unwrap().map(|j| j.priority),
        Some(0),
        "reads go on beside the writer"
    );

    holder.rollback().await.unwrap();
    let retried = store.enqueue(second, t(0)).await.unwrap();
    let claimed = claim_default(&store, 10, t(0), t(60)).await.unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut other)
        .await
        .unwrap();

    assert!(!retried.duplicate);
    assert_eq!(claimed.len(), 2);
    assert_eq!(store.count(&JobFilter::all(), t(0)).await.unwrap(), 2);
    assert_eq!(integrity, "ok");
}
