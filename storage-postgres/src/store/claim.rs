//! The claim: the plain statement, and the claim within the stored limits when one
//! bears on it (see `limits`).
//!
//! A claim that finds a limit bearing on it costs the plain statement (which leases
//! nothing then) and the limited claim's transaction. So the store remembers the queue
//! sets whose last claim was limited and sends their next claim to the limited claim at
//! once, which also ends the expired leases on their last attempt, as the plain one
//! does; when that claim finds no limit bearing on it, the set is forgotten. Only a
//! guess at what is stored: a limited claim without limits claims as the plain one
//! does, and a plain claim still finds a limit stored since.

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
        let limited_last = self.limited_claims().contains(&distinct);
        let rows = self
            .calls()
            .run("claim", async |conn| {
                if !limited_last {
                    let rows = statement.fetch_all(&mut *conn).await.map_err(store_error)?;
                    if !limits_apply(&rows)? {
                        return Ok(rows);
                    }
                }
                // A limit bears on the claim (the plain one leased nothing), or bore on
                // the last: claim within the limits, under their locks (see `limits`).
                let claim = LimitedClaim {
                    queues: &distinct,
                    limit,
                    limited,
                    worker,
                    lease_until,
                    now,
                    idle_timeout: self.calls().timeout(),
                };
                let (rows, limits_bore) = claim_limited(conn, sql, claim).await?;
                if limits_bore != limited_last {
                    let mut limited_claims = self.limited_claims();
                    if limits_bore {
                        limited_claims.insert(distinct.clone());
                    } else {
                        limited_claims.remove(&distinct);
                    }
                }
                Ok(rows)
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

    /// The queue sets whose last claim was limited.
    fn limited_claims(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<Vec<String>>> {
        self.inner
            .limited_claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
