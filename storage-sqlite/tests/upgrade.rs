//! Upgrading a database: jobs written before a migration read back after it, with the
//! new columns at their defaults; the starts a rate counted one row each before
//! migration 0010 count one start each after it; the jobs table rebuilt by migration
//! 0011 keeps every job, its unique keys and its constraint on states; the key indexes
//! remade by migration 0012 hold the keyed jobs stored before it; a job with dependents
//! stored before migration 0013 settles them when it ends.

use std::path::Path;

use leasehold::testing::conformance::t;
use leasehold::{ClaimRequest, JobFilter, JobState, JobStore, Limit, LimitScope, NewJob};
use leasehold_sql::row::micros;
use leasehold_sqlite::SqliteStore;
use sqlx::migrate::Migrator;
use sqlx::{Connection, SqliteConnection};
use tempfile::TempDir;

/// A database file migrated by the shipped migrations before `first_left_out` only (as
/// an earlier build left it): its directory (removed when dropped), its URL, and a
/// connection to it.
async fn migrated_before(first_left_out: &str) -> (TempDir, String, SqliteConnection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let old = dir.path().join("migrations");
    std::fs::create_dir(&old).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(shipped).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < first_left_out {
            std::fs::copy(&path, old.join(name)).unwrap();
        }
    }
    let url = format!("sqlite://{}", path.display());
    let mut conn = SqliteConnection::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    let mut migrator = Migrator::new(old.as_path()).await.unwrap();
    migrator.dangerous_set_table_name("_leasehold_migrations");
    migrator.run_direct(None, &mut conn, false).await.unwrap();
    (dir, url, conn)
}

/// The store of this build on the database at `url`, once the earlier build's
/// connection `conn` has closed: opening it runs the migrations left out.
async fn upgraded(conn: SqliteConnection, url: &str) -> SqliteStore {
    conn.close().await.unwrap();
    SqliteStore::connect(url).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_written_before_the_job_data_migration_read_back_after_it() {
    // The schema before job data.
    let (_dir, url, mut conn) = migrated_before("0004").await;
    sqlx::query(
        "INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt, \
         max_attempts, lease_token, unique_key, last_error, created_at, finished_at) \
         VALUES (x'0190f0e0a0b07000800000000000002a', 'old', 'default', '{}', 0, \
                 'failed', 0, 1, 1, 1, 'key', 'boom', 0, 5000000)",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let store = upgraded(conn, &url).await;
    let jobs = store.list(&JobFilter::all(), t(10)).await.unwrap();

    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!((job.kind.as_str(), job.state), ("old", JobState::Failed));
    assert_eq!(job.last_error.as_deref(), Some("boom"));
    assert!(job.errors.is_empty() && job.tags.is_empty() && job.metadata.is_empty());
    assert_eq!((job.output.as_ref(), job.attempted_at), (None, None));
    let retried = store.retry_job(job.id, t(10)).await.unwrap();
    assert_eq!(
        (retried.state, retried.max_attempts),
        (JobState::Available, 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_counted_a_row_each_before_migration_0010_count_one_each_after_it() {
    let (_dir, url, mut conn) = migrated_before("0010").await;
    // A rate of 3 starts per 10 s on key "rated", full: three starts at t(1), a row
    // each, as the trigger of 0007 wrote them.
    sqlx::query(
        "INSERT INTO limits (scope, name, rate_starts, rate_per, updated_at) \
         VALUES ('key', 'rated', 3, 10000000, ?1)",
    )
    .bind(micros(t(0)))
    .execute(&mut conn)
    .await
    .unwrap();
    for _ in 0..3 {
        sqlx::query("INSERT INTO limit_starts (scope, name, at) VALUES ('key', 'rated', ?1)")
            .bind(micros(t(1)))
            .execute(&mut conn)
            .await
            .unwrap();
    }

    let store = upgraded(conn, &url).await;
    let jobs = (0..5)
        .map(|_| {
            NewJob::new("rated", serde_json::json!({}), t(0))
                .and_then(|job| job.limit_key("rated"))
                .unwrap()
        })
        .collect();
    store.enqueue_many(jobs, t(0)).await.unwrap();
    let queues = ["default".to_owned()];
    let claim = async |now| {
        let request = ClaimRequest::new("w", &queues, 10, t(now + 60));
        store.claim(request, t(now)).await.unwrap().len()
    };

    assert_eq!(claim(2).await, 0, "the three old starts fill the window");
    let limits = store.limits().await.unwrap();
    assert_eq!(limits.len(), 1);
    assert_eq!(limits[0].0, LimitScope::Key("rated".to_owned()));
    assert_eq!(claim(11).await, 3, "and leave it ten seconds on");
    let kept: Vec<(i64, i64)> =
        sqlx::query_as("SELECT at, starts FROM limit_starts ORDER BY at, rowid")
            .fetch_all(store.read_pool())
            .await
            .unwrap();
    assert_eq!(
        kept,
        [(micros(t(11)), 3)],
        "the old rows trimmed, the new counted once"
    );
}

/// A stored job as the rebuild of migration 0011 must keep it: id, state, unique key,
/// finish time.
type StoredJob = (Vec<u8>, String, Option<String>, Option<i64>);

/// Every job in `db`, by id.
async fn stored_jobs(db: impl sqlx::SqliteExecutor<'_>) -> Vec<StoredJob> {
    sqlx::query_as("SELECT id, state, unique_key, finished_at FROM jobs ORDER BY id")
        .fetch_all(db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_their_unique_keys_survive_the_rebuild_of_migration_0011() {
    let (_dir, url, mut conn) = migrated_before("0011").await;
    // A held unique key (available), a finished holder of another (completed at 5 s),
    // and a failed job, as an earlier build stored them.
    sqlx::query(
        "INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt, \
         max_attempts, lease_token, unique_key, last_error, created_at, finished_at) VALUES \
         (x'0190f0e0a0b07000800000000000002a', 'held', 'default', '{}', 0, 'available', \
          0, 0, 3, 0, 'held-key', NULL, 0, NULL), \
         (x'0190f0e0a0b07000800000000000002b', 'done', 'default', '{}', 0, 'completed', \
          0, 1, 3, 1, 'done-key', NULL, 0, ?1), \
         (x'0190f0e0a0b07000800000000000002c', 'old', 'default', '{}', 0, 'failed', \
          0, 3, 3, 3, NULL, 'boom', 0, ?1)",
    )
    .bind(micros(t(5)))
    .execute(&mut conn)
    .await
    .unwrap();
    let before = stored_jobs(&mut conn).await;

    let store = upgraded(conn, &url).await;
    let after = stored_jobs(store.read_pool()).await;
    assert_eq!(after, before, "every job is copied as it was");

    let held = store
        .enqueue(
            NewJob::new("held", serde_json::json!({}), t(10))
                .unwrap()
                .unique_key("held-key"),
            t(10),
        )
        .await
        .unwrap();
    assert!(held.duplicate, "the available job still holds its key");
    let period = NewJob::new("done", serde_json::json!({}), t(10))
        .unwrap()
        .unique_key("done-key")
        .unique_for(std::time::Duration::from_secs(60), &[JobState::Completed])
        .unwrap();
    let done = store.enqueue(period, t(10)).await.unwrap();
    assert!(
        done.duplicate,
        "the job that completed 5 s ago blocks its key for its period"
    );

    let bad = sqlx::query("UPDATE jobs SET state = 'lost' WHERE kind = 'old'")
        .execute(store.read_pool())
        .await;
    assert!(
        bad.is_err(),
        "a state outside the list is still refused: {bad:?}"
    );

    assert_eq!(
        store.prune(t(6), 10).await.unwrap(),
        2,
        "both finished jobs prune"
    );
    let left = store.list(&JobFilter::all(), t(10)).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].kind, "held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_jobs_stored_before_migration_0012_are_claimed_and_awaited_after_it() {
    let (_dir, url, mut conn) = migrated_before("0012").await;
    // Key "k": two available jobs (due at 0) and a scheduled one (due at 100 s), as an
    // earlier build stored them.
    sqlx::query(
        "INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt, \
         max_attempts, lease_token, created_at, limit_key) VALUES \
         (x'0190f0e0a0b07000800000000000002a', 'a', 'default', '{}', 0, 'available', \
          0, 0, 3, 0, 0, 'k'), \
         (x'0190f0e0a0b07000800000000000002b', 'b', 'default', '{}', 0, 'available', \
          0, 0, 3, 0, 0, 'k'), \
         (x'0190f0e0a0b07000800000000000002c', 'c', 'default', '{}', 0, 'scheduled', \
          ?1, 0, 3, 0, 0, 'k')",
    )
    .bind(micros(t(100)))
    .execute(&mut conn)
    .await
    .unwrap();

    let store = upgraded(conn, &url).await;
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'jobs_%by_key' \
         ORDER BY name",
    )
    .fetch_all(store.read_pool())
    .await
    .unwrap();
    assert_eq!(
        indexes,
        [
            "jobs_leased_by_key",
            "jobs_ready_by_key",
            "jobs_scheduled_by_key"
        ]
    );
    let rate = Limit::rate(1, std::time::Duration::from_secs(60)).unwrap();
    store
        .set_limit(&LimitScope::Key("k".to_owned()), rate, t(0))
        .await
        .unwrap();
    let queues = ["default".to_owned()];
    let request = ClaimRequest::new("w", &queues, 10, t(65));
    let claimed = store.claim(request, t(5)).await.unwrap();
    assert_eq!(claimed.len(), 1, "the rate lets one start through");
    assert_eq!(claimed[0].kind, "a");
    store.complete(claimed[0].lease(), t(6)).await.unwrap();

    // The key is full until its start at 5 s leaves the window: "b" is due then (from
    // the available jobs' index), before "c" (from the scheduled jobs').
    assert_eq!(store.next_due(&queues).await.unwrap(), Some(t(65)));
    let request = ClaimRequest::new("w", &queues, 10, t(125));
    let claimed = store.claim(request, t(65)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, "b");
    store.complete(claimed[0].lease(), t(66)).await.unwrap();
    assert_eq!(
        store.next_due(&queues).await.unwrap(),
        Some(t(125)),
        "then \"c\", due at 100 s, waits for the start at 65 s to leave the window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_with_dependents_stored_before_migration_0013_settles_them_when_it_ends() {
    let (_dir, url, mut conn) = migrated_before("0013").await;
    // "a", due later, and "b", which waits for it and is cancelled if it fails or is
    // cancelled, as an earlier build stored them.
    sqlx::query(
        "INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt, \
         max_attempts, lease_token, created_at, has_dependents) VALUES \
         (x'0190f0e0a0b07000800000000000002a', 'a', 'default', '{}', 0, 'scheduled', \
          ?1, 0, 3, 0, 0, 1)",
    )
    .bind(micros(t(100)))
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt, \
         max_attempts, lease_token, created_at, depends_on, on_dependency_failure, \
         waiting_for) VALUES \
         (x'0190f0e0a0b07000800000000000002b', 'b', 'default', '{}', 0, 'waiting', \
          0, 0, 3, 0, 0, '[\"0190f0e0-a0b0-7000-8000-00000000002a\"]', 'cancel', 1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO job_dependencies (dependency, dependent) VALUES \
         (x'0190f0e0a0b07000800000000000002a', x'0190f0e0a0b07000800000000000002b')",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let store = upgraded(conn, &url).await;
    let jobs = store.list(&JobFilter::all(), t(1)).await.unwrap();
    let id = |kind: &str| jobs.iter().find(|job| job.kind == kind).unwrap().id;
    store.cancel(id("a"), t(2)).await.unwrap();

    let b = store.get(id("b"), t(2)).await.unwrap().unwrap();
    assert_eq!(
        (b.state, b.finished_at),
        (JobState::Cancelled, Some(t(2))),
        "the trigger migration 0013 made again queues the dependents of an end"
    );
}
