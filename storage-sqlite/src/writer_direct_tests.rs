//! The writer's own connection (`crate::direct`): which groups it commits, what
//! happens when it cannot, and that it never holds the runtime's thread while SQLite
//! waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use leasehold::StoreError;
use leasehold::testing::conformance::t;
use sqlx::Connection;

use super::tests::{claim, enqueue, file_pool, job, request, runtime, stored_jobs};
use super::*;
use crate::transition::enqueue::Enqueue;

/// A writer that keeps its connection, with its own connection to the same migrated
/// file; its pool of one connection; the directory.
async fn direct_writer() -> (tempfile::TempDir, SqlitePool, Writer) {
    let dir = tempfile::tempdir().unwrap();
    let pool = file_pool(&dir).await;
    let direct = Direct::open(&dir.path().join("writer.db")).expect("a writable file");
    let writer = Writer::spawn(pool.clone(), false, true, 16, Some(direct));
    (dir, pool, writer)
}

#[test]
fn plain_enqueues_commit_on_the_writers_own_connection() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        // The pool's one connection, which the writer takes, can write nothing.
        sqlx::query("PRAGMA query_only = 1")
            .execute(&pool)
            .await
            .unwrap();
        let direct = Direct::open(&dir.path().join("writer.db"));
        let writer = Writer::spawn(pool.clone(), false, true, 16, direct);

        let one = writer.call(enqueue(1)).await;
        // More jobs than one insert statement holds.
        let many = writer.call(enqueue(600)).await;
        let claim = writer.call(claim(1)).await;

        assert!(one.is_ok() && many.is_ok(), "{one:?} {many:?}");
        assert!(claim.is_err(), "a claim goes through the pool's connection");
        pool.close().await;
        let reopened = file_pool(&dir).await;
        assert_eq!(stored_jobs(&reopened).await, 601);
    });
}

#[test]
fn a_group_its_own_connection_cannot_commit_runs_again_through_sqlx() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        let mut direct = Direct::open(&dir.path().join("writer.db"));
        let target = Target {
            pool: pool.clone(),
            in_memory: false,
            hold: false,
        };
        let stored = job();
        let (first, answer) = request(Enqueue {
            jobs: vec![stored.clone()],
            now: t(0),
        });
        commit_group(&target, &mut None, &mut direct, vec![first]).await;
        answer.await.unwrap().unwrap();

        // The same id again, in one group with a new job: the insert fails there.
        let (again, again_answer) = request(Enqueue {
            jobs: vec![stored],
            now: t(0),
        });
        let (fresh, fresh_answer) = request(enqueue(1));
        commit_group(&target, &mut None, &mut direct, vec![again, fresh]).await;

        assert!(
            matches!(again_answer.await.unwrap(), Err(StoreError::Conflict(_))),
            "the id already stored is refused, as the ordinary way says"
        );
        assert!(
            fresh_answer.await.unwrap().is_ok(),
            "the other job is stored"
        );
        assert_eq!(stored_jobs(&pool).await, 2);
    });
}

#[test]
fn a_write_lock_held_by_another_connection_never_stalls_the_runtime() {
    runtime().block_on(async {
        let (dir, _pool, writer) = direct_writer().await;
        let url = format!("sqlite://{}", dir.path().join("writer.db").display());
        let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = tokio::spawn({
            let ticks = Arc::clone(&ticks);
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            }
        });

        let enqueued = tokio::spawn({
            let writer = writer.clone();
            async move { writer.call(enqueue(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let waiting = !enqueued.is_finished();
        let ticked = ticks.load(Ordering::Relaxed);
        sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
        let answer = enqueued.await.unwrap();
        ticker.abort();

        // This runtime has one thread: had the writer waited for the lock on it, the
        // ticker could not have run meanwhile.
        assert!(waiting, "the enqueue waits for the lock");
        assert!(ticked >= 20, "the runtime ran on meanwhile: {ticked} ticks");
        assert!(answer.is_ok(), "the enqueue commits once the lock is free");
    });
}

#[test]
fn the_writer_checkpoints_what_its_own_connection_wrote() {
    runtime().block_on(async {
        let (dir, _pool, writer) = direct_writer().await;

        for _ in 0..200 {
            writer.call(enqueue(256)).await.unwrap();
        }
        let log = std::fs::metadata(dir.path().join("writer.db-wal"))
            .unwrap()
            .len();

        // Unchecked, these 51,200 jobs fill a log of about 18 MB.
        assert!(log < 8 << 20, "the log stays small: {log} bytes");
    });
}
