//! Several OS processes on one schema, each with its own `PostgresStore` (its own
//! pool): the scenarios of `leasehold::testing::process_suite`, over PostgreSQL's run
//! log.

mod support;

use std::sync::Arc;

use leasehold::testing::process_suite::{ProcessBackend, RunLog};
use leasehold::testing::processes::RunEvent;
use leasehold::{JobId, JobStore, async_trait};
use leasehold_postgres::PostgresStore;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};
use support::{FreshSchema, options, test_schema};
use uuid::Uuid;

leasehold::process_suite!(PgSchema);

/// A fresh schema of the test server, dropped with the value. Its location is the
/// schema's name: children read the server's URL from the environment they inherit.
struct PgSchema {
    _schema: FreshSchema,
    store: PostgresStore,
}

struct PgRunLog {
    conn: PgConnection,
    schema: String,
}

fn server_url() -> String {
    std::env::var(support::URL_VAR).expect("the server URL is inherited")
}

#[async_trait]
impl ProcessBackend for PgSchema {
    const PROCESSES: usize = 4;
    const JOBS: usize = 4000;

    type Log = PgRunLog;

    async fn create() -> Option<Self> {
        let fresh = test_schema()?;
        let store = fresh.open().await;
        let create_log = format!(
            "CREATE TABLE \"{}\".runs (seq BIGSERIAL PRIMARY KEY, job_id UUID NOT NULL, \
             process TEXT NOT NULL, event TEXT NOT NULL, at BIGINT NOT NULL)",
            fresh.schema
        );
        let created = sqlx::query(AssertSqlSafe(create_log))
            .execute(store.pool())
            .await;
        created.expect("the run log is created");
        Some(Self {
            _schema: fresh,
            store,
        })
    }

    fn location(&self) -> String {
        self.store.schema().to_owned()
    }

    async fn open(schema: &str) -> Arc<dyn JobStore> {
        let store = PostgresStore::connect_with(options(&server_url(), schema)).await;
        Arc::new(store.expect("the store opens"))
    }

    async fn open_log(schema: &str) -> PgRunLog {
        PgRunLog {
            conn: PgConnection::connect(&server_url())
                .await
                .expect("the run log opens"),
            schema: schema.to_owned(),
        }
    }

    async fn read_log(&self) -> Vec<RunEvent<JobId>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT job_id, process, event, at FROM \"{}\".runs ORDER BY seq",
            self.store.schema()
        )))
        .fetch_all(self.store.pool())
        .await
        .expect("the run log reads")
        .iter()
        .map(|row| RunEvent {
            job: JobId::from_uuid(row.get("job_id")),
            process: row.get("process"),
            event: row.get("event"),
            at: row.get("at"),
        })
        .collect()
    }
}

#[async_trait]
impl RunLog for PgRunLog {
    async fn append(&mut self, jobs: &[JobId], process: &str, event: &str, at: i64) {
        let ids: Vec<Uuid> = jobs.iter().map(|job| *job.as_uuid()).collect();
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO \"{}\".runs (job_id, process, event, at) \
             SELECT id, $2, $3, $4 FROM UNNEST($1::uuid[]) AS ids (id)",
            self.schema
        )))
        .bind(ids)
        .bind(process)
        .bind(event)
        .bind(at)
        .execute(&mut self.conn)
        .await
        .expect("the runs are logged");
    }
}
