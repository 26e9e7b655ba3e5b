//! [`PostgresStore`]: the store contract on a PostgreSQL schema, through sqlx.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;
use leasehold::{
    Enqueued, HeartbeatStatus, JobFilter, JobId, JobRecord, JobState, JobStore, Lease, NewJob,
    StoreError, async_trait,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::completer::Completer;
use crate::error::store_error;
use crate::options::{DEFAULT_SCHEMA, PostgresStoreOptions, enqueued_channel, quoted_schema};
use crate::row::{
    CANCELLED, counter, get, job_record, micros, schedule_record, state_of, stored_state_filter,
    time_of,
};
use crate::schema::prepare;
use crate::sql::{Statements, query, query_scalar};
use crate::transaction::insert_jobs;

/// How many jobs one prune statement deletes at most: small batches keep row locks
/// and the write-ahead log burst short.
const PRUNE_BATCH: usize = 500;

/// A [`JobStore`] on a schema of a PostgreSQL database; clones share the pool.
///
/// Any number of stores, in any number of processes on any number of machines, may
/// work one schema: claims lock the rows they take with `FOR UPDATE SKIP LOCKED`, so
/// they never wait for each other and never take the same job; every write under a
/// lease checks the lease's token. No statement reads the database's clock.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    schema: String,
    sql: Arc<Statements>,
    /// Writes concurrent completions together; `None` outside a Tokio runtime, where
    /// each completion is a statement of its own.
    completer: Option<Completer>,
    channel: String,
    wakeups: watch::Sender<u64>,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// The runtime the store was opened in, for the listener task when
    /// `subscribe_enqueued` is called outside any runtime.
    runtime: Option<tokio::runtime::Handle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let listener = self
            .listener
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(task) = listener.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.inner.schema)
            .field("pool", &self.inner.pool)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` and migrates schema `leasehold`, with the
    /// default [`PostgresStoreOptions`].
    ///
    /// # Errors
    ///
    /// As [`PostgresStore::connect_with`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(PostgresStoreOptions::new(url)).await
    }

    /// Connects to the database `options` names and creates (when missing) and
    /// migrates the store's schema in it.
    ///
    /// Must be called inside a Tokio runtime, which later runs the enqueue listener
    /// task (see [`PostgresStore::subscribe_enqueued`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Incompatible`] for a schema that holds someone else's tables or
    /// was migrated by a newer leasehold-postgres; [`StoreError::Busy`] when the
    /// server refuses more connections or a pool timeout passes;
    /// [`StoreError::Backend`] for anything else (a bad URL or schema name, an
    /// unreachable server, missing privileges).
    pub async fn connect_with(options: PostgresStoreOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(options.url()).map_err(|e| {
            StoreError::backend(format!(
                "invalid PostgreSQL URL {:?}: {e}",
                redact(options.url())
            ))
        })?;
        quoted_schema(options.schema_name())?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections_value())
            .acquire_timeout(options.acquire_timeout_value())
            .connect_with(connect)
            .await
            .map_err(store_error)?;
        Self::from_pool_in_schema(pool, options.schema_name()).await
    }

    /// A store over an existing pool, in schema `leasehold` (created and migrated).
    ///
    /// # Errors
    ///
    /// As [`PostgresStore::connect_with`].
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        Self::from_pool_in_schema(pool, DEFAULT_SCHEMA).await
    }

    /// A store over an existing pool, in `schema` (created and migrated; named as
    /// [`PostgresStoreOptions::schema`] requires). Statements name the schema, so the
    /// pool's own `search_path` does not matter.
    ///
    /// # Errors
    ///
    /// As [`PostgresStore::connect_with`].
    pub async fn from_pool_in_schema(pool: PgPool, schema: &str) -> Result<Self, StoreError> {
        let sql = Arc::new(Statements::for_schema(&quoted_schema(schema)?));
        let mut conn = pool.acquire().await.map_err(store_error)?;
        prepare(&mut conn, &sql, schema).await?;
        drop(conn);
        let (wakeups, _) = watch::channel(0);
        let runtime = tokio::runtime::Handle::try_current().ok();
        let completer = runtime
            .as_ref()
            .map(|_| Completer::spawn(pool.clone(), Arc::clone(&sql)));
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                schema: schema.to_owned(),
                sql,
                completer,
                channel: enqueued_channel(schema),
                wakeups,
                listener: Mutex::new(None),
                runtime,
            }),
        })
    }

    /// The pool the store works through (for inspection, tests and the caller's own
    /// transactions).
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The schema the store's tables live in.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// Closes the store's pool, for this handle and every clone, once the calls in
    /// flight finish; later calls fail, and the enqueue listener stops.
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    /// A counter that changes whenever a job is enqueued into this store's schema by
    /// any store handle, in any process: hand it to
    /// `WorkerBuilder::enqueue_signal` so a worker wakes at once instead of at its next
    /// poll.
    ///
    /// The first call starts a listener task (on the current Tokio runtime, else the
    /// one the store was opened in) that holds one connection of its own (outside the
    /// pool, made with the pool's connect options) and `LISTEN`s on the schema's channel; it
    /// stops when the store (every clone) is dropped or closed. Bursts are debounced:
    /// a receiver sees any number of enqueues since it last looked as one change. The
    /// counter also changes once the listener is connected and after every reconnect,
    /// since notifications sent while it was away are lost; polling remains the
    /// fallback for those.
    pub fn subscribe_enqueued(&self) -> watch::Receiver<u64> {
        let receiver = self.inner.wakeups.subscribe();
        let mut listener = self
            .inner
            .listener
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if listener.as_ref().is_none_or(JoinHandle::is_finished) {
            let runtime = tokio::runtime::Handle::try_current()
                .ok()
                .or_else(|| self.inner.runtime.clone());
            match runtime {
                Some(runtime) => {
                    *listener = Some(runtime.spawn(crate::notify::listen(
                        self.inner.pool.clone(),
                        self.inner.channel.clone(),
                        self.inner.wakeups.clone(),
                    )));
                }
                None => tracing::warn!(
                    "leasehold-postgres: no Tokio runtime to listen for enqueues in; \
                     workers fall back to polling"
                ),
            }
        }
        receiver
    }

    /// The notification channel enqueues into this schema signal on.
    pub fn enqueue_channel(&self) -> &str {
        &self.inner.channel
    }

    pub(crate) fn statements(&self) -> &Statements {
        &self.inner.sql
    }

    fn pool_ref(&self) -> &PgPool {
        &self.inner.pool
    }

    async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, StoreError> {
        self.pool_ref().acquire().await.map_err(store_error)
    }

    /// Runs a fenced write (`complete`, `fail`, `release`): `Ok` when it wrote its row.
    async fn fenced_write(
        &self,
        written: Result<sqlx::postgres::PgQueryResult, sqlx::Error>,
        lease: Lease,
    ) -> Result<(), StoreError> {
        if written.map_err(store_error)?.rows_affected() > 0 {
            Ok(())
        } else {
            Err(self.lease_lost_or_not_found(lease).await)
        }
    }

    /// Why a fenced write matched no row: the job is unknown, or the lease is not its
    /// live one.
    async fn lease_lost_or_not_found(&self, lease: Lease) -> StoreError {
        match self.lease_states(&[lease.job_id]).await {
            Ok(states) if states.is_empty() => StoreError::NotFound(lease.job_id),
            Ok(_) => StoreError::LeaseLost(lease),
            Err(error) => error,
        }
    }

    /// The stored state and lease token of each job of `ids` that exists.
    async fn lease_states(&self, ids: &[JobId]) -> Result<Vec<(JobId, String, u32)>, StoreError> {
        let uuids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        let rows = query(&self.inner.sql.lease_state)
            .bind(uuids)
            .fetch_all(self.pool_ref())
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
        &self,
        conn: &mut PgConnection,
        name: &str,
    ) -> Result<ScheduleRecord, StoreError> {
        let row = query(&self.inner.sql.get_schedule)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| StoreError::ScheduleNotFound(name.to_owned()))?;
        schedule_record(&row)
    }
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
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
    async fn enqueue(&self, job: NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        let id = job.id;
        // One statement (two when a unique key is held): no transaction needed.
        let mut conn = self.acquire().await?;
        let mut answers =
            insert_jobs(&self.inner.sql, &mut conn, &[job], now, &self.inner.channel).await?;
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
        let mut tx = self.pool_ref().begin().await.map_err(store_error)?;
        let answers =
            insert_jobs(&self.inner.sql, &mut tx, &jobs, now, &self.inner.channel).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(answers)
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
        let rows = statement
            .bind(micros(now))
            .bind(sql_limit(limit))
            .bind(micros(lease_until))
            .bind(worker)
            .fetch_all(self.pool_ref())
            .await
            .map_err(store_error)?;
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
        let ids: Vec<Uuid> = leases.iter().map(|l| *l.job_id.as_uuid()).collect();
        let tokens: Vec<i64> = leases.iter().map(|l| i64::from(l.token)).collect();
        let rows = query(&self.inner.sql.heartbeat)
            .bind(ids)
            .bind(tokens)
            .bind(micros(lease_until))
            .fetch_all(self.pool_ref())
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
        // A lease not extended is gone for good (tokens only grow, a cancelled job
        // stays cancelled), so reading why afterwards, outside a transaction, is exact.
        let cancelled: HashSet<(JobId, u32)> = if missed.is_empty() {
            HashSet::new()
        } else {
            self.lease_states(&missed)
                .await?
                .into_iter()
                .filter(|(_, state, _)| state == CANCELLED)
                .map(|(id, _, token)| (id, token))
                .collect()
        };
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
        let Some(completer) = &self.inner.completer else {
            let written = query(&self.inner.sql.complete)
                .bind(lease.job_id.as_uuid())
                .bind(i64::from(lease.token))
                .bind(micros(now))
                .execute(self.pool_ref())
                .await;
            return self.fenced_write(written, lease).await;
        };
        if completer.complete(lease, now).await? {
            Ok(())
        } else {
            Err(self.lease_lost_or_not_found(lease).await)
        }
    }

    async fn retry(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<JobState, StoreError> {
        let row = query(&self.inner.sql.retry)
            .bind(lease.job_id.as_uuid())
            .bind(i64::from(lease.token))
            .bind(micros(run_at))
            .bind(error)
            .bind(micros(now))
            .fetch_optional(self.pool_ref())
            .await
            .map_err(store_error)?;
        let Some(row) = row else {
            return Err(self.lease_lost_or_not_found(lease).await);
        };
        let stored: String = get(&row, "state")?;
        let run_at: i64 = get(&row, "run_at")?;
        state_of(&stored, run_at, micros(now))
    }

    async fn fail(&self, lease: Lease, error: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let written = query(&self.inner.sql.fail)
            .bind(lease.job_id.as_uuid())
            .bind(i64::from(lease.token))
            .bind(error)
            .bind(micros(now))
            .execute(self.pool_ref())
            .await;
        self.fenced_write(written, lease).await
    }

    async fn release(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let written = query(&self.inner.sql.release)
            .bind(lease.job_id.as_uuid())
            .bind(i64::from(lease.token))
            .bind(micros(run_at))
            .execute(self.pool_ref())
            .await;
        self.fenced_write(written, lease).await
    }

    async fn cancel(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        let cancelled = query(&self.inner.sql.cancel)
            .bind(id.as_uuid())
            .bind(micros(now))
            .fetch_optional(self.pool_ref())
            .await
            .map_err(store_error)?;
        let row = match cancelled {
            Some(row) => row,
            // Already terminal (a terminal job never changes again) or unknown.
            None => query(&self.inner.sql.get)
                .bind(id.as_uuid())
                .fetch_optional(self.pool_ref())
                .await
                .map_err(store_error)?
                .ok_or(StoreError::NotFound(id))?,
        };
        job_record(&row, now)
    }

    async fn get(&self, id: JobId, now: OffsetDateTime) -> Result<Option<JobRecord>, StoreError> {
        let row = query(&self.inner.sql.get)
            .bind(id.as_uuid())
            .fetch_optional(self.pool_ref())
            .await
            .map_err(store_error)?;
        row.map(|row| job_record(&row, now)).transpose()
    }

    async fn list(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let (queue, kind, state, due) = filter_params(filter);
        let rows = query(&self.inner.sql.list)
            .bind(queue)
            .bind(kind)
            .bind(state)
            .bind(due)
            .bind(micros(now))
            .bind(filter.limit.map(sql_limit))
            .fetch_all(self.pool_ref())
            .await
            .map_err(store_error)?;
        rows.iter().map(|row| job_record(row, now)).collect()
    }

    async fn count(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        let (queue, kind, state, due) = filter_params(filter);
        let count: i64 = query_scalar(&self.inner.sql.count)
            .bind(queue)
            .bind(kind)
            .bind(state)
            .bind(due)
            .bind(micros(now))
            .fetch_one(self.pool_ref())
            .await
            .map_err(store_error)?;
        u64::try_from(count).map_err(|_| StoreError::backend(format!("negative count {count}")))
    }

    async fn next_due(&self, queues: &[String]) -> Result<Option<OffsetDateTime>, StoreError> {
        if queues.is_empty() {
            return Ok(None);
        }
        let due: Option<i64> = query_scalar(&self.inner.sql.next_due)
            .bind(queues.to_vec())
            .fetch_one(self.pool_ref())
            .await
            .map_err(store_error)?;
        due.map(|t| time_of(t, "next due time")).transpose()
    }

    async fn prune(&self, before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut deleted = 0u64;
        let mut remaining = limit;
        while remaining > 0 {
            let batch = remaining.min(PRUNE_BATCH);
            let pruned = query(&self.inner.sql.prune)
                .bind(micros(before))
                .bind(sql_limit(batch))
                .execute(self.pool_ref())
                .await
                .map_err(store_error)?
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
        let row = query(&self.inner.sql.upsert_schedule)
            .bind(schedule.name.as_str())
            .bind(to_json(&schedule.spec)?)
            .bind(schedule.kind.as_str())
            .bind(schedule.payload.to_string())
            .bind(schedule.queue.as_str())
            .bind(schedule.priority)
            .bind(i64::from(schedule.max_attempts))
            .bind(to_json(&schedule.missed)?)
            .bind(next_fire_at.map(micros))
            .bind(micros(now))
            .fetch_one(self.pool_ref())
            .await
            .map_err(store_error)?;
        schedule_record(&row)
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        let row = query(&self.inner.sql.get_schedule)
            .bind(name)
            .fetch_optional(self.pool_ref())
            .await
            .map_err(store_error)?;
        row.as_ref().map(schedule_record).transpose()
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        let rows = query(&self.inner.sql.list_schedules)
            .fetch_all(self.pool_ref())
            .await
            .map_err(store_error)?;
        rows.iter().map(schedule_record).collect()
    }

    async fn due_schedules(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let rows = query(&self.inner.sql.due_schedules)
            .bind(micros(now))
            .bind(sql_limit(limit))
            .fetch_all(self.pool_ref())
            .await
            .map_err(store_error)?;
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
        let mut tx = self.pool_ref().begin().await.map_err(store_error)?;
        // Compare-and-set first: a racing scheduler waits on the schedule's row lock
        // until this transaction ends, then finds the slot moved.
        let advanced = query(&self.inner.sql.advance_schedule)
            .bind(name)
            .bind(micros(slot))
            .bind(next.map(micros))
            .bind(micros(now))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?
            .rows_affected();
        if advanced == 0 {
            self.stored_schedule(&mut tx, name).await?;
            return Err(StoreError::Conflict(format!(
                "schedule {name:?} is no longer due at {slot}"
            )));
        }
        let answers =
            insert_jobs(&self.inner.sql, &mut tx, &jobs, now, &self.inner.channel).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(answers)
    }

    async fn pause_schedule(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let mut conn = self.acquire().await?;
        query(&self.inner.sql.pause_schedule)
            .bind(name)
            .bind(micros(now))
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
        self.stored_schedule(&mut conn, name).await
    }

    async fn resume_schedule(
        &self,
        name: &str,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let mut conn = self.acquire().await?;
        query(&self.inner.sql.resume_schedule)
            .bind(name)
            .bind(next_fire_at.map(micros))
            .bind(micros(now))
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
        self.stored_schedule(&mut conn, name).await
    }

    async fn remove_schedule(&self, name: &str) -> Result<bool, StoreError> {
        let removed = query(&self.inner.sql.remove_schedule)
            .bind(name)
            .execute(self.pool_ref())
            .await
            .map_err(store_error)?
            .rows_affected();
        Ok(removed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/app"),
            "postgres://app:***@db:5432/app"
        );
        assert_eq!(redact("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(redact("postgres:///app"), "postgres:///app");
    }
}
