//! [`Claim`]: leasing due jobs, after promoting the jobs that came due and failing
//! (or retrying) the jobs whose lease expired.

use leasehold::time::OffsetDateTime;
use leasehold::{JobRecord, StoreError};
use leasehold_sql::filter::sql_limit;
use leasehold_sql::row::{job_record, micros};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::store_error;
use crate::row::Row;
use crate::sql;
use crate::transition::Transition;
use crate::transition::statement::rows_changed;

/// `claim`: leases up to `limit` due jobs of `queues` to `worker` until
/// `lease_until`.
#[derive(Debug)]
pub(crate) struct Claim {
    pub(crate) queues: Vec<String>,
    pub(crate) limit: usize,
    pub(crate) worker: String,
    pub(crate) now: OffsetDateTime,
    pub(crate) lease_until: OffsetDateTime,
}

impl Transition for Claim {
    /// The claimed jobs, by priority, then run time, then id.
    type Answer = Vec<JobRecord>;

    fn weight(&self) -> usize {
        self.limit
    }

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Vec<JobRecord>, StoreError> {
        let queues_json = serde_json::to_string(&self.queues).map_err(StoreError::backend)?;
        for statement in [sql::PROMOTE_DUE, sql::FAIL_EXPIRED_LEASES] {
            let statement = sqlx::query(statement)
                .bind(queues_json.as_str())
                .bind(micros(self.now));
            rows_changed(conn, statement).await?;
        }
        if self.limit == 0 {
            return Ok(Vec::new());
        }
        let (statement, queue_param) = match self.queues.as_slice() {
            [queue] => (sql::CLAIM_QUEUE, queue.as_str()),
            _ => (sql::CLAIM_QUEUES, queues_json.as_str()),
        };
        let rows: Vec<SqliteRow> = sqlx::query(statement)
            .bind(queue_param)
            .bind(micros(self.now))
            .bind(sql_limit(self.limit))
            .bind(micros(self.lease_until))
            .bind(self.worker.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
        let mut jobs = rows
            .iter()
            .map(|row| job_record(&Row(row), self.now))
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING comes in no particular order.
        jobs.sort_by_key(|job| (job.priority, job.run_at, job.id));
        Ok(jobs)
    }
}
