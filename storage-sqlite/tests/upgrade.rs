//! Upgrading a database: jobs written before a migration read back after it, with the
//! new columns at their defaults.

use std::path::Path;

use leasehold::testing::conformance::t;
use leasehold::{JobFilter, JobState, JobStore};
use leasehold_sqlite::SqliteStore;
use sqlx::migrate::Migrator;
use sqlx::{Connection, SqliteConnection};

/// The migrations up to `0003` (the schema before job data), in a directory of their
/// own.
fn migrations_before_job_data(dir: &Path) {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(shipped).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0004" {
            std::fs::copy(&path, dir.join(name)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_written_before_the_job_data_migration_read_back_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("migrations");
    std::fs::create_dir(&old).unwrap();
    migrations_before_job_data(&old);
    let path = dir.path().join("jobs.db");
    let url = format!("sqlite://{}", path.display());
    let mut conn = SqliteConnection::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    let mut migrator = Migrator::new(old.as_path()).await.unwrap();
    migrator.dangerous_set_table_name("_leasehold_migrations");
    migrator.run_direct(None, &mut conn, false).await.unwrap();
    sqlx::query(
        "INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt, \
         max_attempts, lease_token, unique_key, last_error, created_at, finished_at) \
         VALUES (x'0190f0e0a0b07000800000000000002a', 'old', 'default', '{}', 0, \
                 'failed', 0, 1, 1, 1, 'key', 'boom', 0, 5000000)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = SqliteStore::connect(&url).await.unwrap();
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
