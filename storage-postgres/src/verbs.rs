//! The [`JobStore`] verbs of [`PostgresStore`]: each is one call (one connection,
//! bounded in time, see `crate::call`) of one or a few statements from `src/sql/`.

use std::collections::HashSet;
use std::sync::Arc;

use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;
use leasehold::{
    Clock, Enqueued, HeartbeatStatus, JobFilter, JobId, JobRecord, JobState, JobStore, Lease,
    NewJob, StoreError, async_trait,
};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::error::store_error;
use crate::row::{
    CANCELLED, counter, get, job_record, micros, schedule_record, state_of, stored_state_filter,
    time_of,
};
use crate::sql::{Statements, query, query_scalar};
use crate::store::PostgresStore;
use crate::transaction::insert_jobs;

/// How many jobs one prune statement deletes at most: small batches keep row locks
/// and the write-ahead log burst short.
const PRUNE_BATCH: usize = 500;

/// `Ok` when a fenced write (`complete`, `fail`, `release`) wrote its row, else why
/// not.
async fn written(
    conn: &mut PgConnection,
    sql: &Statements,
    rows: u64,
    lease: Lease,
) -> Result<(), StoreError> {
    if rows > 0 {
        Ok(())
    } else {
        Err(why_not_written(conn, sql, lease).await)
    }
}

/// Why a fenced write matched no row: the job is unknown, or the lease is not its
/// live one.
async fn why_not_written(conn: &mut PgConnection, sql: &Statements, lease: Lease) -> StoreError {
    match lease_states(conn, sql, &[lease.job_id]).await {
        Ok(states) if states.is_empty() => StoreError::NotFound(lease.job_id),
        Ok(_) => StoreError::LeaseLost(lease),
        Err(error) => error,
    }
}

/// The stored state and lease token of each job of `ids` that exists.
async fn lease_states(
    conn: &mut PgConnection,
    sql: &Statements,
    ids: &[JobId],
) -> Result<Vec<(JobId, String, u32)>, StoreError> {
    let uuids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
    let rows = query(&sql.lease_state)
        .bind(uuids)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|row| {
            Ok((
                JobId::from_uuid(get(row, "id")?),
                get::<String>(row, "state")?,
                counter(get(row, "lease_token")?, "lease_token")?,
            ))
        })
        .collect()
}

/// The schedule named `name` as stored, or `ScheduleNotFound`.
async fn stored_schedule(
    conn: &mut PgConnection,
    sql: &Statements,
    name: &str,
) -> Result<ScheduleRecord, StoreError> {
    let row = query(&sql.get_schedule)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::ScheduleNotFound(name.to_owned()))?;
    schedule_record(&row)
}

/// A `LIMIT` value: PostgreSQL takes a bigint, and any count beyond it means "no
/// limit".
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

/// The filter's parameters for `list.sql` and `count.sql`:
/// queue, kind, stored state, due test.
fn filter_params(filter: &JobFilter) -> (Option<&str>, Option<&str>, Option<&str>, Option<bool>) {
    let (state, due) = match filter.state {
        Some(state) => {
            let (stored, due) = stored_state_filter(state);
            (Some(stored), due)
        }
        None => (None, None),
    };
    (filter.queue.as_deref(), filter.kind.as_deref(), state, due)
}

#[async_trait]
impl JobStore for PostgresStore {
    /// The store's [`ServerClock`](crate::ServerClock), unless the options turned it off.
    fn clock(&self) -> Option<Arc<dyn Clock>> {
        self.inner
            .clock
            .as_ref()
            .map(|clock| Arc::new(clock.clone()) as Arc<dyn Clock>)
    }

    async fn enqueue(&self, job: NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        let id = job.id;
        let (sql, channel) = (&*self.inner.sql, self.inner.channel.as_str());
        // One statement (two when a unique key is held): no transaction needed.
        let mut answers = self
            .calls()
            .run("enqueue", async |conn| {
                insert_jobs(sql, conn, &[job], now, channel).await
            })
            .await?;
        answers
            .pop()
            .ok_or_else(|| StoreError::backend(format!("the enqueue of job {id} answered nothing")))
    }

    async fn enqueue_many(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, channel) = (&*self.inner.sql, self.inner.channel.as_str());
        self.calls()
            .run("enqueue_many", async |conn| {
                let mut tx = conn.begin().await.map_err(store_error)?;
                let answers = insert_jobs(sql, &mut tx, &jobs, now, channel).await?;
                tx.commit().await.map_err(store_error)?;
                Ok(answers)
            })
            .await
    }

    async fn claim(
        &self,
        queues: &[String],
        limit: usize,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let mut distinct: Vec<String> = Vec::with_capacity(queues.len());
        for queue in queues {
            if !distinct.contains(queue) {
                distinct.push(queue.clone());
            }
        }
        let statement = match distinct.as_slice() {
            [] => return Ok(Vec::new()),
            [queue] => query(&self.inner.sql.claim_queue).bind(queue.clone()),
            // Distinct: a queue named twice would lock and count its rows twice.
            _ => query(&self.inner.sql.claim_queues).bind(distinct),
        };
        let statement = statement
            .bind(micros(now))
            .bind(sql_limit(limit))
            .bind(micros(lease_until))
            .bind(worker);
        let rows = self
            .calls()
            .run("claim", async |conn| {
                statement.fetch_all(&mut *conn).await.map_err(store_error)
            })
            .await?;
        let mut jobs = rows
            .iter()
            .map(|row| job_record(row, now))
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING comes in no particular order.
        jobs.sort_by_key(|job| (job.priority, job.run_at, job.id));
        Ok(jobs)
    }

    async fn heartbeat(
        &self,
        leases: &[Lease],
        lease_until: OffsetDateTime,
    ) -> Result<Vec<HeartbeatStatus>, StoreError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let sql = &*self.inner.sql;
        let ids: Vec<Uuid> = leases.iter().map(|l| *l.job_id.as_uuid()).collect();
        let tokens: Vec<i64> = leases.iter().map(|l| i64::from(l.token)).collect();
        let (extended, cancelled) = self
            .calls()
            .run("heartbeat", async |conn| {
                let rows = query(&sql.heartbeat)
                    .bind(ids)
                    .bind(tokens)
                    .bind(micros(lease_until))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(store_error)?;
                let mut extended = HashSet::with_capacity(rows.len());
                for row in &rows {
                    let id = JobId::from_uuid(get(row, "id")?);
                    extended.insert((id, counter(get(row, "lease_token")?, "lease_token")?));
                }
                let missed: Vec<JobId> = leases
                    .iter()
                    .filter(|l| !extended.contains(&(l.job_id, l.token)))
                    .map(|l| l.job_id)
                    .collect();
                // A lease not extended is gone for good (tokens only grow, a cancelled
                // job stays cancelled), so reading why afterwards, outside a
                // transaction, is exact.
                let cancelled: HashSet<(JobId, u32)> = if missed.is_empty() {
                    HashSet::new()
                } else {
                    lease_states(conn, sql, &missed)
                        .await?
                        .into_iter()
                        .filter(|(_, state, _)| state == CANCELLED)
                        .map(|(id, _, token)| (id, token))
                        .collect()
                };
                Ok((extended, cancelled))
            })
            .await?;
        Ok(leases
            .iter()
            .map(|lease| {
                let key = (lease.job_id, lease.token);
                if extended.contains(&key) {
                    HeartbeatStatus::Extended
                } else if cancelled.contains(&key) {
                    HeartbeatStatus::Cancelled
                } else {
                    HeartbeatStatus::Lost
                }
            })
            .collect())
    }

    async fn complete(&self, lease: Lease, now: OffsetDateTime) -> Result<(), StoreError> {
        let sql = &*self.inner.sql;
        let Some(completer) = &self.inner.completer else {
            return self
                .calls()
                .run("complete", async |conn| {
                    let rows = query(&sql.complete)
                        .bind(lease.job_id.as_uuid())
                        .bind(i64::from(lease.token))
                        .bind(micros(now))
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?
                        .rows_affected();
                    written(conn, sql, rows, lease).await
                })
                .await;
        };
        if completer.complete(lease, now).await? {
            return Ok(());
        }
        self.calls()
            .run("complete", async |conn| {
                Err(why_not_written(conn, sql, lease).await)
            })
            .await
    }

    async fn retry(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<JobState, StoreError> {
        let sql = &*self.inner.sql;
        self.calls()
            .run("retry", async |conn| {
                let row = query(&sql.retry)
                    .bind(lease.job_id.as_uuid())
                    .bind(i64::from(lease.token))
                    .bind(micros(run_at))
                    .bind(error)
                    .bind(micros(now))
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)?;
                let Some(row) = row else {
                    return Err(why_not_written(conn, sql, lease).await);
                };
                let stored: String = get(&row, "state")?;
                let run_at: i64 = get(&row, "run_at")?;
                state_of(&stored, run_at, micros(now))
            })
            .await
    }

    async fn fail(&self, lease: Lease, error: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let sql = &*self.inner.sql;
        self.calls()
            .run("fail", async |conn| {
                let rows = query(&sql.fail)
                    .bind(lease.job_id.as_uuid())
                    .bind(i64::from(lease.token))
                    .bind(error)
                    .bind(micros(now))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                written(conn, sql, rows, lease).await
            })
            .await
    }

    async fn release(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sql = &*self.inner.sql;
        self.calls()
            .run("release", async |conn| {
                let rows = query(&sql.release)
                    .bind(lease.job_id.as_uuid())
                    .bind(i64::from(lease.token))
                    .bind(micros(run_at))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                written(conn, sql, rows, lease).await
            })
            .await
    }

    async fn cancel(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        let sql = &*self.inner.sql;
        let row = self
            .calls()
            .run("cancel", async |conn| {
                let cancelled = query(&sql.cancel)
                    .bind(id.as_uuid())
                    .bind(micros(now))
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)?;
                match cancelled {
                    Some(row) => Ok(row),
                    // Already terminal (a terminal job never changes again) or unknown.
                    None => query(&sql.get)
                        .bind(id.as_uuid())
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(store_error)?
                        .ok_or(StoreError::NotFound(id)),
                }
            })
            .await?;
        job_record(&row, now)
    }

    async fn get(&self, id: JobId, now: OffsetDateTime) -> Result<Option<JobRecord>, StoreError> {
        let sql = &*self.inner.sql;
        let row = self
            .calls()
            .run("get", async |conn| {
                query(&sql.get)
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)
            })
            .await?;
        row.map(|row| job_record(&row, now)).transpose()
    }

    async fn list(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let (queue, kind, state, due) = filter_params(filter);
        let statement = query(&self.inner.sql.list)
            .bind(queue)
            .bind(kind)
            .bind(state)
            .bind(due)
            .bind(micros(now))
            .bind(filter.limit.map(sql_limit));
        let rows = self
            .calls()
            .run("list", async |conn| {
                statement.fetch_all(&mut *conn).await.map_err(store_error)
            })
            .await?;
        rows.iter().map(|row| job_record(row, now)).collect()
    }

    async fn count(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        let (queue, kind, state, due) = filter_params(filter);
        let statement = query_scalar(&self.inner.sql.count)
            .bind(queue)
            .bind(kind)
            .bind(state)
            .bind(due)
            .bind(micros(now));
        let count: i64 = self
            .calls()
            .run("count", async |conn| {
                statement.fetch_one(&mut *conn).await.map_err(store_error)
            })
            .await?;
        u64::try_from(count).map_err(|_| StoreError::backend(format!("negative count {count}")))
    }

    async fn next_due(&self, queues: &[String]) -> Result<Option<OffsetDateTime>, StoreError> {
        if queues.is_empty() {
            return Ok(None);
        }
        let statement = query_scalar(&self.inner.sql.next_due).bind(queues.to_vec());
        let due: Option<i64> = self
            .calls()
            .run("next_due", async |conn| {
                statement.fetch_one(&mut *conn).await.map_err(store_error)
            })
            .await?;
        due.map(|t| time_of(t, "next due time")).transpose()
    }

    async fn prune(&self, before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let sql = &*self.inner.sql;
        let mut deleted = 0u64;
        let mut remaining = limit;
        while remaining > 0 {
            let batch = remaining.min(PRUNE_BATCH);
            // A call per batch: each is bounded on its own, however many there are.
            let pruned = self
                .calls()
                .run("prune", async |conn| {
                    query(&sql.prune)
                        .bind(micros(before))
                        .bind(sql_limit(batch))
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)
                })
                .await?
                .rows_affected();
            deleted += pruned;
            if pruned < u64::try_from(batch).unwrap_or(u64::MAX) {
                break;
            }
            remaining -= batch;
        }
        Ok(deleted)
    }

    async fn upsert_schedule(
        &self,
        schedule: NewSchedule,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let statement = query(&self.inner.sql.upsert_schedule)
            .bind(schedule.name.clone())
            .bind(to_json(&schedule.spec)?)
            .bind(schedule.kind.clone())
            .bind(schedule.payload.to_string())
            .bind(schedule.queue.clone())
            .bind(schedule.priority)
            .bind(i64::from(schedule.max_attempts))
            .bind(to_json(&schedule.missed)?)
            .bind(next_fire_at.map(micros))
            .bind(micros(now));
        let row = self
            .calls()
            .run("upsert_schedule", async |conn| {
                statement.fetch_one(&mut *conn).await.map_err(store_error)
            })
            .await?;
        schedule_record(&row)
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        let sql = &*self.inner.sql;
        let row = self
            .calls()
            .run("get_schedule", async |conn| {
                query(&sql.get_schedule)
                    .bind(name)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)
            })
            .await?;
        row.as_ref().map(schedule_record).transpose()
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        let sql = &*self.inner.sql;
        let rows = self
            .calls()
            .run("list_schedules", async |conn| {
                query(&sql.list_schedules)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(store_error)
            })
            .await?;
        rows.iter().map(schedule_record).collect()
    }

    async fn due_schedules(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let sql = &*self.inner.sql;
        let rows = self
            .calls()
            .run("due_schedules", async |conn| {
                query(&sql.due_schedules)
                    .bind(micros(now))
                    .bind(sql_limit(limit))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(store_error)
            })
            .await?;
        rows.iter().map(schedule_record).collect()
    }

    async fn fire_schedule(
        &self,
        name: &str,
        slot: OffsetDateTime,
        next: Option<OffsetDateTime>,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let (sql, channel) = (&*self.inner.sql, self.inner.channel.as_str());
        self.calls()
            .run("fire_schedule", async |conn| {
                let mut tx = conn.begin().await.map_err(store_error)?;
                // Compare-and-set first: a racing scheduler waits on the schedule's row
                // lock until this transaction ends, then finds the slot moved.
                let advanced = query(&sql.advance_schedule)
                    .bind(name)
                    .bind(micros(slot))
                    .bind(next.map(micros))
                    .bind(micros(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if advanced == 0 {
                    stored_schedule(&mut tx, sql, name).await?;
                    return Err(StoreError::Conflict(format!(
                        "schedule {name:?} is no longer due at {slot}"
                    )));
                }
                let answers = insert_jobs(sql, &mut tx, &jobs, now, channel).await?;
                tx.commit().await.map_err(store_error)?;
                Ok(answers)
            })
            .await
    }

    async fn pause_schedule(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let sql = &*self.inner.sql;
        self.calls()
            .run("pause_schedule", async |conn| {
                query(&sql.pause_schedule)
                    .bind(name)
                    .bind(micros(now))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                stored_schedule(conn, sql, name).await
            })
            .await
    }

    async fn resume_schedule(
        &self,
        name: &str,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let sql = &*self.inner.sql;
        self.calls()
            .run("resume_schedule", async |conn| {
                query(&sql.resume_schedule)
                    .bind(name)
                    .bind(next_fire_at.map(micros))
                    .bind(micros(now))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                stored_schedule(conn, sql, name).await
            })
            .await
    }

    async fn remove_schedule(&self, name: &str) -> Result<bool, StoreError> {
        let sql = &*self.inner.sql;
        let removed = self
            .calls()
            .run("remove_schedule", async |conn| {
                query(&sql.remove_schedule)
                    .bind(name)
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)
            })
            .await?
            .rows_affected();
        Ok(removed > 0)
    }
}
