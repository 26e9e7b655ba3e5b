//! [`PostgresStore`]: what a store holds, and the [`JobStore`] contract on it. Each verb
//! is one call (one connection, bounded in time, see `crate::call`) of one or a few
//! statements from `src/sql/`; opening a store is `crate::connect`'s.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;
use leasehold::{
    ClaimRequest, Clock, ERROR_HISTORY_LIMIT, Enqueued, Firing, HeartbeatStatus, JobFilter, JobId,
    JobRecord, JobState, JobStore, JobUpdate, Lease, Limit, LimitScope, NewJob, QueueStats,
    StoreError, async_trait,
};
use leasehold_sql::enqueue::single;
use leasehold_sql::filter::{count_params, page_params, sql_limit};
use leasehold_sql::lease::{LeaseState, lease, not_extended, not_written, written};
use leasehold_sql::prune;
use leasehold_sql::row::{Columns, job_record, job_state, micros, schedule_record, time_of};
use leasehold_sql::schedule::{advance_params, not_advanced, stored, upsert_params};
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use uuid::Uuid;

use crate::call::Calls;
use crate::clock::ServerClock;
use crate::completer::Completer;
use crate::enqueue::{end_transaction, insert_jobs};
use crate::error::store_error;
use crate::notify::Listener;
use crate::row::{Row, Statement, bind};
use crate::sql::{Statements, query};

mod by_hand;
mod claim;
mod limits;

use by_hand::{Bulk, DELETE_JOB, RETRY_JOB, UPDATE_JOB, count_of, queue_stats_of};

/// A [`JobStore`](leasehold::JobStore) on a schema of a PostgreSQL database; clones
/// share the pool.
///
/// Any number of stores, in any number of processes on any number of machines, may
/// work one schema: claims lock the rows they take with `FOR UPDATE SKIP LOCKED`, so
/// they never wait for each other and never take the same job; every write under a
/// lease checks the lease's token. A claim that a stored limit bears on also locks the
/// limit's row, so claims of one limit take turns and never overshoot it together. No
/// statement about jobs reads the database's clock; the store offers a [`ServerClock`]
/// that follows it instead (see [`JobStore::clock`](leasehold::JobStore::clock)), so
/// workers on several machines judge leases on one clock.
///
/// Every call is bounded: waiting for a connection by the acquire timeout, the call's
/// answer by the statement timeout plus a grace (see
/// [`PostgresStoreOptions::statement_timeout`](crate::PostgresStoreOptions::statement_timeout)).
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

/// What the clones of one store share.
struct Inner {
    calls: Calls,
    schema: String,
    sql: Arc<Statements>,
    /// Writes concurrent completions together; `None` outside a Tokio runtime, where
    /// each completion is a statement of its own.
    completer: Option<Completer>,
    listener: Listener,
    /// The clock the store offers, `None` when the options turned it off.
    clock: Option<ServerClock>,
    /// The sets of queues (distinct, in the order claimed) whose last claim found a
    /// limit bearing on it: their next claim goes to the limited claim at once (see
    /// `store::claim`).
    limited_claims: Mutex<HashSet<Vec<String>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(clock) = &self.clock {
            clock.state().stop_sampling();
        }
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.inner.schema)
            .field("pool", self.inner.calls.pool())
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// A store on `schema` of the open `calls`' pool, with the statements for that
    /// schema and the tasks already started (see `crate::connect`).
    pub(crate) fn new(
        calls: Calls,
        schema: &str,
        sql: Arc<Statements>,
        completer: Option<Completer>,
        listener: Listener,
        clock: Option<ServerClock>,
    ) -> Self {
        let inner = Inner {
            calls,
            schema: schema.to_owned(),
            sql,
            completer,
            listener,
            clock,
            limited_claims: Mutex::default(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The pool the store works through (for inspection, tests and the caller's own
    /// transactions).
    pub fn pool(&self) -> &PgPool {
        self.inner.calls.pool()
    }

    /// The schema the store's tables live in.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// The clock that follows the server's, which
    /// [`JobStore::clock`](leasehold::JobStore::clock) offers; `None`
    /// when [`PostgresStoreOptions::server_clock`](crate::PostgresStoreOptions::server_clock)
    /// turned it off.
    pub fn server_clock(&self) -> Option<&ServerClock> {
        self.inner.clock.as_ref()
    }

    /// Closes the store's pool, for this handle and every clone, once the calls in
    /// flight finish; later calls fail, and the enqueue listener and the server clock's
    /// sampling stop.
    pub async fn close(&self) {
        self.pool().close().await;
    }

    pub(crate) fn statements(&self) -> &Statements {
        &self.inner.sql
    }

    pub(crate) fn calls(&self) -> &Calls {
        &self.inner.calls
    }

    pub(crate) fn listener(&self) -> &Listener {
        &self.inner.listener
    }
}

/// Why a fenced write matched no row: the job is unknown, or the lease is not its
/// live one.
async fn why_not_written(conn: &mut PgConnection, sql: &Statements, lease: Lease) -> StoreError {
    match lease_states(conn, sql, &[lease.job_id]).await {
        Ok(states) => not_written(lease, states.first()),
        Err(error) => error,
    }
}

/// The stored state and lease token of each job of `ids` that exists.
async fn lease_states(
    conn: &mut PgConnection,
    sql: &Statements,
    ids: &[JobId],
) -> Result<Vec<LeaseState>, StoreError> {
    let uuids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
    let rows = query(&sql.lease_state)
        .bind(uuids)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    rows.iter().map(|row| LeaseState::read(&Row(row))).collect()
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
        .map_err(store_error)?;
    stored(name, row.as_ref().map(Row))
}

/// `statement`, a write fenced by `lease`, with the job id bound as `$1` and the token
/// as `$2`.
fn fenced(statement: &Arc<str>, lease: Lease) -> Statement<'static> {
    query(statement)
        .bind(*lease.job_id.as_uuid())
        .bind(i64::from(lease.token))
}

/// How many failed attempts a job's error history keeps, as the statements that
/// append to it take it.
fn error_history_limit() -> i64 {
    sql_limit(ERROR_HISTORY_LIMIT)
}

/// Calls of one statement run alone, each named `name` in errors (see [`Calls::run`]).
impl PostgresStore {
    /// The statement's rows.
    async fn fetch_all(
        &self,
        name: &str,
        statement: Statement<'_>,
    ) -> Result<Vec<PgRow>, StoreError> {
        self.calls()
            .run(name, async |conn| {
                statement.fetch_all(&mut *conn).await.map_err(store_error)
            })
            .await
    }

    /// The statement's one row.
    async fn fetch_one(&self, name: &str, statement: Statement<'_>) -> Result<PgRow, StoreError> {
        self.calls()
            .run(name, async |conn| {
                statement.fetch_one(&mut *conn).await.map_err(store_error)
            })
            .await
    }

    /// The first column of the statement's one row.
    async fn fetch_scalar<T>(&self, name: &str, statement: Statement<'_>) -> Result<T, StoreError>
    where
        T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        let row = self.fetch_one(name, statement).await?;
        sqlx::Row::try_get(&row, 0).map_err(store_error)
    }

    /// The statement's row, if any.
    async fn fetch_optional(
        &self,
        name: &str,
        statement: Statement<'_>,
    ) -> Result<Option<PgRow>, StoreError> {
        self.calls()
            .run(name, async |conn| {
                statement
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)
            })
            .await
    }

    /// How many rows the statement changed.
    async fn execute(&self, name: &str, statement: Statement<'_>) -> Result<u64, StoreError> {
        let done = self
            .calls()
            .run(name, async |conn| {
                statement.execute(&mut *conn).await.map_err(store_error)
            })
            .await?;
        Ok(done.rows_affected())
    }

    /// Runs `statement`, a write fenced by `lease` (see [`fenced`]): `LeaseLost` or
    /// `NotFound` when it matched no row.
    async fn write_fenced(
        &self,
        name: &str,
        lease: Lease,
        statement: Statement<'_>,
    ) -> Result<(), StoreError> {
        let sql = &*self.inner.sql;
        self.calls()
            .run(name, async |conn| {
                let rows = statement.execute(&mut *conn).await.map_err(store_error)?;
                written(rows.rows_affected(), || why_not_written(conn, sql, lease)).await
            })
            .await
    }

    /// Runs `statement`, a change to schedule `schedule`: the schedule as stored after
    /// it, or `ScheduleNotFound`.
    async fn change_schedule(
        &self,
        name: &str,
        schedule: &str,
        statement: Statement<'_>,
    ) -> Result<ScheduleRecord, StoreError> {
        let sql = &*self.inner.sql;
        self.calls()
            .run(name, async |conn| {
                statement.execute(&mut *conn).await.map_err(store_error)?;
                stored_schedule(conn, sql, schedule).await
            })
            .await
    }
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
        if !job.depends_on.is_empty() {
            // Its dependencies are read and marked in the same transaction.
            return single(self.enqueue_many(vec![job], now).await?, id);
        }
        let (sql, channel) = (&*self.inner.sql, self.inner.listener.channel());
        // One statement (two when a unique key is held): no transaction needed.
        let answers = self
            .calls()
            .run("enqueue", async |conn| {
                insert_jobs(sql, conn, &[job], now, channel).await
            })
            .await?;
        single(answers, id)
    }

    async fn enqueue_many(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, channel) = (&*self.inner.sql, self.inner.listener.channel());
        self.calls()
            .run("enqueue_many", async |conn| {
                let mut tx = conn.begin().await.map_err(store_error)?;
                let answers = insert_jobs(sql, &mut tx, &jobs, now, channel).await;
                end_transaction(tx, answers).await
            })
            .await
    }

    async fn enqueue_with_dependencies(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.enqueue_many(jobs, now).await
    }

    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.claim_jobs(request, now).await
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
        let (extended, states) = self
            .calls()
            .run("heartbeat", async |conn| {
                let rows = query(&sql.heartbeat)
                    .bind(ids)
                    .bind(tokens)
                    .bind(micros(lease_until))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(store_error)?;
                let extended = rows
                    .iter()
                    .map(|row| lease(&Row(row)))
                    .collect::<Result<HashSet<Lease>, _>>()?;
                let missed: Vec<JobId> = leases
                    .iter()
                    .filter(|l| !extended.contains(l))
                    .map(|l| l.job_id)
                    .collect();
                // A lease not extended is gone for good (tokens only grow, a cancelled
                // job stays cancelled), so reading why afterwards, outside a
                // transaction, is exact.
                let states: HashMap<JobId, LeaseState> = if missed.is_empty() {
                    HashMap::new()
                } else {
                    lease_states(conn, sql, &missed)
                        .await?
                        .into_iter()
                        .map(|state| (state.job_id, state))
                        .collect()
                };
                Ok((extended, states))
            })
            .await?;
        Ok(leases
            .iter()
            .map(|l| {
                if extended.contains(l) {
                    HeartbeatStatus::Extended
                } else {
                    not_extended(*l, states.get(&l.job_id))
                }
            })
            .collect())
    }

    async fn complete(&self, lease: Lease, now: OffsetDateTime) -> Result<(), StoreError> {
        let sql = &*self.inner.sql;
        let Some(completer) = &self.inner.completer else {
            let statement = fenced(&sql.complete, lease).bind(micros(now));
            return self.write_fenced("complete", lease, statement).await;
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
                let row = fenced(&sql.retry, lease)
                    .bind(micros(run_at))
                    .bind(error)
                    .bind(micros(now))
                    .bind(error_history_limit())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)?;
                match row {
                    Some(row) => job_state(&Row(&row), now),
                    None => Err(why_not_written(conn, sql, lease).await),
                }
            })
            .await
    }

    async fn fail(&self, lease: Lease, error: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let statement = fenced(&self.inner.sql.fail, lease)
            .bind(error)
            .bind(micros(now))
            .bind(error_history_limit());
        self.write_fenced("fail", lease, statement).await
    }

    async fn release(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let statement = fenced(&self.inner.sql.release, lease).bind(micros(run_at));
        self.write_fenced("release", lease, statement).await
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
        job_record(&Row(&row), now)
    }

    async fn dependents(&self, id: JobId) -> Result<Vec<JobId>, StoreError> {
        let statement = query(&self.inner.sql.dependents).bind(id.as_uuid());
        let rows = self.fetch_all("dependents", statement).await?;
        rows.iter().map(|row| Row(row).job_id()).collect()
    }

    async fn get(&self, id: JobId, now: OffsetDateTime) -> Result<Option<JobRecord>, StoreError> {
        let statement = query(&self.inner.sql.get).bind(id.as_uuid());
        let row = self.fetch_optional("get", statement).await?;
        row.map(|row| job_record(&Row(&row), now)).transpose()
    }

    async fn list(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let sql = &self.inner.sql;
        let list = if filter.newest_first {
            &sql.list_newest
        } else {
            &sql.list
        };
        let statement = bind(query(list), page_params(filter, now));
        let rows = self.fetch_all("list", statement).await?;
        rows.iter().map(|row| job_record(&Row(row), now)).collect()
    }

    async fn count(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        let statement = bind(query(&self.inner.sql.count), count_params(filter, now));
        let count: i64 = self.fetch_scalar("count", statement).await?;
        count_of(count, "count")
    }

    async fn next_due(&self, queues: &[String]) -> Result<Option<OffsetDateTime>, StoreError> {
        if queues.is_empty() {
            return Ok(None);
        }
        let statement = query(&self.inner.sql.next_due).bind(queues.to_vec());
        let due: Option<i64> = self.fetch_scalar("next_due", statement).await?;
        due.map(|t| time_of(t, "next due time")).transpose()
    }

    async fn prune(&self, before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let sql = &*self.inner.sql;
        // A call per batch: each is bounded on its own, however many there are.
        prune::in_batches(limit, |batch| async move {
            let statement = query(&sql.prune)
                .bind(micros(before))
                .bind(sql_limit(batch));
            self.execute("prune", statement).await
        })
        .await
    }

    async fn upsert_schedule(
        &self,
        schedule: NewSchedule,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let params = upsert_params(&schedule, next_fire_at, now)?;
        let statement = bind(query(&self.inner.sql.upsert_schedule), params);
        let row = self.fetch_one("upsert_schedule", statement).await?;
        schedule_record(&Row(&row))
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        let statement = query(&self.inner.sql.get_schedule).bind(name);
        let row = self.fetch_optional("get_schedule", statement).await?;
        row.map(|row| schedule_record(&Row(&row))).transpose()
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        let statement = query(&self.inner.sql.list_schedules);
        let rows = self.fetch_all("list_schedules", statement).await?;
        rows.iter().map(|row| schedule_record(&Row(row))).collect()
    }

    async fn due_schedules(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let statement = query(&self.inner.sql.due_schedules)
            .bind(micros(now))
            .bind(sql_limit(limit));
        let rows = self.fetch_all("due_schedules", statement).await?;
        rows.iter().map(|row| schedule_record(&Row(row))).collect()
    }

    async fn fire_schedule(
        &self,
        firing: Firing<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let Firing {
            name,
            slot,
            next,
            jobs,
            ..
        } = firing;
        let (sql, channel) = (&*self.inner.sql, self.inner.listener.channel());
        self.calls()
            .run("fire_schedule", async |conn| {
                let mut tx = conn.begin().await.map_err(store_error)?;
                let fired = async {
                    // Compare-and-set first: a racing scheduler waits on the schedule's
                    // row lock until this transaction ends, then finds the slot moved.
                    let params = advance_params(name, slot, next, now);
                    let advanced = bind(query(&sql.advance_schedule), params)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?
                        .rows_affected();
                    if advanced == 0 {
                        stored_schedule(&mut tx, sql, name).await?;
                        return Err(not_advanced(name, slot));
                    }
                    insert_jobs(sql, &mut tx, &jobs, now, channel).await
                }
                .await;
                end_transaction(tx, fired).await
            })
            .await
    }

    async fn pause_schedule(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let statement = query(&self.inner.sql.pause_schedule)
            .bind(name)
            .bind(micros(now));
        self.change_schedule("pause_schedule", name, statement)
            .await
    }

    async fn resume_schedule(
        &self,
        name: &str,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let statement = query(&self.inner.sql.resume_schedule)
            .bind(name)
            .bind(next_fire_at.map(micros))
            .bind(micros(now));
        self.change_schedule("resume_schedule", name, statement)
            .await
    }

    async fn remove_schedule(&self, name: &str) -> Result<bool, StoreError> {
        let statement = query(&self.inner.sql.remove_schedule).bind(name);
        Ok(self.execute("remove_schedule", statement).await? > 0)
    }

    async fn pause_queue(&self, queue: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        self.set_paused("pause_queue", queue, true, now).await
    }

    async fn resume_queue(&self, queue: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        self.set_paused("resume_queue", queue, false, now).await
    }

    async fn queue_stats(&self, now: OffsetDateTime) -> Result<Vec<QueueStats>, StoreError> {
        let statement = query(&self.inner.sql.queue_stats).bind(micros(now));
        let rows = self.fetch_all("queue_stats", statement).await?;
        rows.iter().map(queue_stats_of).collect()
    }

    async fn complete_with_output(
        &self,
        lease: Lease,
        output: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let statement = fenced(&self.inner.sql.complete_with_output, lease)
            .bind(micros(now))
            .bind(output.to_string());
        self.write_fenced("complete_with_output", lease, statement)
            .await
    }

    async fn retry_job(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        let change = query(&self.inner.sql.retry_job)
            .bind(id.as_uuid())
            .bind(micros(now));
        let (_, after) = self.by_hand(&RETRY_JOB, id, now, change).await?;
        job_record(&Row(&after), now)
    }

    async fn delete_job(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        let change = query(&self.inner.sql.delete_job).bind(id.as_uuid());
        let (before, _) = self.by_hand(&DELETE_JOB, id, now, change).await?;
        Ok(before)
    }

    async fn update_job(
        &self,
        id: JobId,
        update: &JobUpdate,
        now: OffsetDateTime,
    ) -> Result<JobRecord, StoreError> {
        let change = query(&self.inner.sql.update_job)
            .bind(id.as_uuid())
            .bind(update.run_at.map(micros))
            .bind(update.priority)
            .bind(update.queue.clone());
        let (_, after) = self.by_hand(&UPDATE_JOB, id, now, change).await?;
        job_record(&Row(&after), now)
    }

    async fn retry_jobs(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.by_filter(Bulk::Retry, filter, now).await
    }

    async fn update_jobs(
        &self,
        filter: &JobFilter,
        update: &JobUpdate,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.by_filter(Bulk::Update(update), filter, now).await
    }

    async fn cancel_jobs(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.by_filter(Bulk::Cancel, filter, now).await
    }

    async fn delete_jobs(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.by_filter(Bulk::Delete, filter, now).await
    }

    async fn take_lock(
        &self,
        name: &str,
        holder: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let statement = query(&self.inner.sql.take_lock)
            .bind(name)
            .bind(holder)
            .bind(micros(until))
            .bind(micros(now));
        let taken = self.fetch_optional("take_lock", statement).await?;
        Ok(taken.is_some())
    }

    async fn set_limit(
        &self,
        scope: &LimitScope,
        limit: Limit,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.store_limit(scope, limit, now).await
    }

    async fn remove_limit(
        &self,
        scope: &LimitScope,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.delete_limit(scope).await
    }

    async fn limits(&self) -> Result<Vec<(LimitScope, Limit)>, StoreError> {
        self.stored_limits().await
    }
}
