//! [`Claim`]: leasing due jobs, after promoting the jobs that came due and failing
//! (or retrying) the jobs whose lease expired.

use leasehold::time::OffsetDateTime;
use leasehold::{JobRecord, StoreError};
use leasehold_sql::filter::sql_limit;
use leasehold_sql::row::{job_record, micros};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::store_error;
use crate::row::{Row, Statement};
use crate::sql;
use crate::transition::Transition;
use crate::transition::statement::rows_changed;

/// `claim`: leases up to `limit` due jobs of `queues` to `worker` until
/// `lease_until`, at most `limited` of them governed by a stored limit.
#[derive(Debug)]
pub(crate) struct Claim {
    pub(crate) queues: Vec<String>,
    pub(crate) limit: usize,
    pub(crate) limited: usize,
    pub(crate) worker: String,
    pub(crate) now: OffsetDateTime,
    pub(crate) lease_until: OffsetDateTime,
}

impl Claim {
    /// The whole claim, promotions and expiries included, as `BEGIN IMMEDIATE`, its
    /// statements and `COMMIT` in one call (see [`crate::bulk::WholeGroup`]); `None`
    /// for a claim of no job, which leases nothing.
    pub(crate) fn in_one_call(&self) -> Result<Option<Statement<'_>>, StoreError> {
        if self.limit == 0 {
            return Ok(None);
        }
        let queues_json = serde_json::to_string(&self.queues).map_err(StoreError::backend)?;
        let statement = match self.queues.as_slice() {
            // The queue's name is ?7 (see `sql::CLAIM_QUEUE_IN_ONE_CALL`).
            [queue] => self
                .lease(sqlx::query(sql::CLAIM_QUEUE_IN_ONE_CALL).bind(queues_json))
                .bind(queue.as_str()),
            _ => self.lease(sqlx::query(sql::CLAIM_QUEUES_IN_ONE_CALL).bind(queues_json)),
        };
        Ok(Some(statement))
    }

    /// `statement`, bound with the queue parameter (?1), with the rest of the claim's
    /// parameters: ?2 now, ?3 limit, ?4 lease_until, ?5 worker, ?6 limited.
    fn lease<'q>(&'q self, statement: Statement<'q>) -> Statement<'q> {
        statement
            .bind(micros(self.now))
            .bind(sql_limit(self.limit))
            .bind(micros(self.lease_until))
            .bind(self.worker.as_str())
            .bind(sql_limit(self.limited))
    }

    /// The claimed jobs of the claim's `rows`, in answer order.
    pub(crate) fn jobs(&self, rows: &[SqliteRow]) -> Result<Vec<JobRecord>, StoreError> {
        let mut jobs = rows
            .iter()
            .map(|row| job_record(&Row(row), self.now))
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING comes in no particular order.
        jobs.sort_by_key(|job| (job.priority, job.run_at, job.id));
        Ok(jobs)
    }
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
        let rows: Vec<SqliteRow> = self
            .lease(sqlx::query(statement).bind(queue_param))
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
        self.jobs(&rows)
    }
}
