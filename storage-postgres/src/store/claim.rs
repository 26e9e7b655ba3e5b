//! The claim: the plain statement, and the claim within the stored limits when one
//! bears on it (see `limits`).

use leasehold::time::OffsetDateTime;
use leasehold::{ClaimRequest, JobRecord, StoreError};
use leasehold_sql::filter::sql_limit;
use leasehold_sql::row::{job_record, micros};

use super::limits::{LimitedClaim, claim_limited, is_job, limits_apply};
use super::{PostgresStore, error_history_limit};
use crate::error::store_error;
use crate::row::Row;
use crate::sql::query;

impl PostgresStore {
    /// [`JobStore::claim`](leasehold::JobStore::claim): leases up to the request's
    /// `limit` jobs of its queues at `now`.
    pub(super) async fn claim_jobs(
        &self,
        request: ClaimRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let ClaimRequest {
            queues,
            limit,
            worker,
            lease_until,
            limited,
            ..
        } = request;
        let mut distinct: Vec<String> = Vec::with_capacity(queues.len());
        for queue in queues {
            if !distinct.contains(queue) {
                distinct.push(queue.clone());
            }
        }
        let sql = &*self.inner.sql;
        let statement = match distinct.as_slice() {
            [] => return Ok(Vec::new()),
            [queue] => query(&sql.claim_queue).bind(queue.clone()),
            // Distinct: a queue named twice would lock and count its rows twice.
            _ => query(&sql.claim_queues).bind(distinct.clone()),
        };
        let statement = statement
            .bind(micros(now))
            .bind(sql_limit(limit))
            .bind(micros(lease_until))
            .bind(worker)
            .bind(error_history_limit());
        let rows = self
            .calls()
            .run("claim", async |conn| {
                let rows = statement.fetch_all(&mut *conn).await.map_err(store_error)?;
                if !limits_apply(&rows)? {
                    return Ok(rows);
                }
                // A limit bears on the claim, which leased nothing: claim again within
                // the limits, under their locks (see `limits`).
                let claim = LimitedClaim {
                    queues: &distinct,
                    limit,
                    limited,
                    worker,
                    lease_until,
                    now,
                    idle_timeout: self.calls().timeout(),
                };
                claim_limited(conn, sql, claim).await
            })
            .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in &rows {
            if is_job(row)? {
                jobs.push(job_record(&Row(row), now)?);
            }
        }
        // RETURNING comes in no particular order.
        jobs.sort_by_key(|job| (job.priority, job.run_at, job.id));
        Ok(jobs)
    }
}
