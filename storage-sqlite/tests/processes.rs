//! Several OS processes on one database file, each with its own `SqliteStore`: the
//! scenarios of `leasehold::testing::process_suite`, over SQLite's run log.

use std::sync::Arc;

use leasehold::testing::process_suite::{ProcessBackend, RunLog};
use leasehold::testing::processes::RunEvent;
use leasehold::{JobId, JobStore, async_trait};
use leasehold_sqlite::SqliteStore;
use sqlx::{Connection, Row, SqliteConnection};
use uuid::Uuid;

leasehold::process_suite!(SqliteFile);

/// A database file in a temporary directory, removed with it.
struct SqliteFile {
    _dir: tempfile::TempDir,
    url: String,
    store: SqliteStore,
}

struct SqliteRunLog(SqliteConnection);

#[async_trait]
impl ProcessBackend for SqliteFile {
    type Log = SqliteRunLog;

    async fn create() -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
        let store = SqliteStore::connect(&url).await.expect("the store opens");
        sqlx::query(
            "CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id BLOB NOT NULL, \
             process TEXT NOT NULL, event TEXT NOT NULL, at INTEGER NOT NULL)",
        )
        .execute(store.read_pool())
        .await
        .expect("the run log is created");
        Some(Self {
            _dir: dir,
            url,
            store,
        })
    }

    fn location(&self) -> String {
        self.url.clone()
    }

    async fn open(url: &str) -> Arc<dyn JobStore> {
        Arc::new(SqliteStore::connect(url).await.expect("the store opens"))
    }

    async fn open_log(url: &str) -> SqliteRunLog {
        SqliteRunLog(
            SqliteConnection::connect(url)
                .await
                .expect("the run log opens"),
        )
    }

    async fn read_log(&self) -> Vec<RunEvent<JobId>> {
        sqlx::query("SELECT job_id, process, event, at FROM runs ORDER BY seq")
            .fetch_all(self.store.read_pool())
            .await
            .expect("the run log reads")
            .iter()
            .map(|row| RunEvent {
                job: JobId::from_uuid(
                    Uuid::from_slice(row.get("job_id")).expect("a logged id is a UUID"),
                ),
                process: row.get("process"),
                event: row.get("event"),
                at: row.get("at"),
            })
            .collect()
    }
}

#[async_trait]
impl RunLog for SqliteRunLog {
    async fn append(&mut self, jobs: &[JobId], process: &str, event: &str, at: i64) {
        let mut tx = self
            .0
            .begin_with("BEGIN IMMEDIATE")
            .await
            .expect("the run log is writable");
        for job in jobs {
            sqlx::query("INSERT INTO runs (job_id, process, event, at) VALUES (?1, ?2, ?3, ?4)")
                .bind(job.as_uuid().as_bytes().as_slice())
                .bind(process)
                .bind(event)
                .bind(at)
                .execute(&mut *tx)
                .await
                .expect("a run is logged");
        }
        tx.commit().await.expect("the run log commits");
    }
}
