//! [`SqliteStore`]: the store contract on a SQLite database, through sqlx.

use std::fmt;

use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;
use leasehold::{
    ClaimRequest, Enqueued, Firing, HeartbeatStatus, JobFilter, JobId, JobRecord, JobState,
    JobStore, JobUpdate, Lease, Limit, LimitScope, NewJob, QueueStats, StoreError, async_trait,
};
use leasehold_sql::enqueue::single;
use leasehold_sql::filter::{count_params, page_params, sql_limit};
use leasehold_sql::prune;
use leasehold_sql::row::{Columns, job_record, micros, schedule_record, time_of};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Sqlite, SqlitePool};

use crate::error::store_error;
use crate::filter::{self, Read};
use crate::row::{Row, Statement, bind, id_blob};
use crate::schema::EffectiveSettings;
use crate::sql;
use crate::transition::by_hand::{Bulk, ByFilter, DeleteJob, RetryJob, UpdateJob};
use crate::transition::cancel::Cancel;
use crate::transition::claim::{Claim, LimitsSeen};
use crate::transition::enqueue::Enqueue;
use crate::transition::lease_writes::{
    Complete, CompleteWithOutput, Fail, Heartbeat, Release, Retry,
};
use crate::transition::limits::{RemoveLimit, SetLimit};
use crate::transition::locks::TakeLock;
use crate::transition::prune::Prune;
use crate::transition::queues::SetQueuePaused;
use crate::transition::schedules::{
    FireSchedule, PauseSchedule, RemoveSchedule, ResumeSchedule, UpsertSchedule,
};
use crate::writer::Writer;
use leasehold_sql::limit::{limit_of, scoped_limit};

/// A [`JobStore`] on a SQLite database file (or in memory); clones share the
/// connections.
///
/// Writes go through one writer task per store (group commit inside `BEGIN IMMEDIATE`
/// transactions); reads go through a pool of connections. Any number of stores, in
/// any number of processes, may share one database file.
///
/// No failed write wedges the store. A cause an operator must fix (a full disk or size
/// limit, a read-only file or directory, no permission) is
/// [`StoreError::Permanent`], whose message says what to do; an I/O error that may
/// pass is [`StoreError::Backend`]. Either way the failed call changed nothing, and the
/// same handle (and a worker on it) writes again as soon as the cause is gone: no
/// restart, no reconnect.
#[derive(Clone)]
pub struct SqliteStore {
    /// Serves reads; for an in-memory database, the writer's own pool.
    pub(crate) reader: SqlitePool,
    /// The writer's one connection (for `close`).
    pub(crate) writer_pool: SqlitePool,
    pub(crate) writer: Writer,
    /// What SQLite read back at connect.
    pub(crate) settings: EffectiveSettings,
    /// Whether its last claim found a rate stored.
    pub(crate) limits_seen: LimitsSeen,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// The settings its connections run with, as SQLite read them back at connect:
    /// the journal mode (`wal` for a file), the synchronous mode (`normal` by
    /// default) and the busy timeout. Over a pool of the application's
    /// ([`SqliteStore::from_pool`]) they are that pool's.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), leasehold::StoreError> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    /// let store = leasehold_sqlite::SqliteStore::connect(&url).await?;
    /// assert_eq!(store.settings().journal_mode, "wal");
    /// assert_eq!(store.settings().synchronous, "normal");
    /// # Ok(())
    /// # }
    /// ```
    pub fn settings(&self) -> &EffectiveSettings {
        &self.settings
    }

    /// Closes the store's connections, for this handle and every clone, once the
    /// calls in flight finish; later calls fail. The last connection to close
    /// checkpoints the write-ahead log into the database file.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer_pool.close().await;
    }

    /// The pool that serves reads (for inspection and tests).
    pub fn read_pool(&self) -> &SqlitePool {
        &self.reader
    }
}

/// Writes shared by several verbs, through the writer.
impl SqliteStore {
    async fn set_paused(
        &self,
        queue: &str,
        paused: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let queue = queue.to_owned();
        self.writer
            .call(SetQueuePaused { queue, paused, now })
            .await
    }

    /// `retry_jobs`, `update_jobs`, `cancel_jobs` or `delete_jobs` (`verb`) on the jobs `filter`
    /// selects as of `now`.
    async fn by_filter(
        &self,
        verb: Bulk,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let filter = filter.clone();
        self.writer.call(ByFilter { verb, filter, now }).await
    }
}

/// Reads: one statement each, on the reader pool.
impl SqliteStore {
    /// The statement's rows.
    async fn fetch_all(&self, statement: Statement<'_>) -> Result<Vec<SqliteRow>, StoreError> {
        statement.fetch_all(&self.reader).await.map_err(store_error)
    }

    /// The statement's row, if any.
    async fn fetch_optional(
        &self,
        statement: Statement<'_>,
    ) -> Result<Option<SqliteRow>, StoreError> {
        statement
            .fetch_optional(&self.reader)
            .await
            .map_err(store_error)
    }

    /// The first column of the statement's one row.
    async fn fetch_scalar<T>(&self, statement: Statement<'_>) -> Result<T, StoreError>
    where
        T: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
    {
        let row = statement.fetch_one(&self.reader).await;
        row.and_then(|row| sqlx::Row::try_get(&row, 0))
            .map_err(store_error)
    }
}

fn queues_json(queues: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(queues).map_err(StoreError::backend)
}

/// One row of `queue_stats.sql`.
fn queue_stats(row: &SqliteRow) -> Result<QueueStats, StoreError> {
    let row = Row(row);
    let name: String = row
        .text("queue")?
        .ok_or_else(|| StoreError::backend("queue_stats: a queue without a name"))?;
    let count = |column: &str| -> Result<u64, StoreError> {
        let value = row.integer(column)?.unwrap_or(0);
        u64::try_from(value)
            .map_err(|_| StoreError::backend(format!("queue {name:?}: negative {column} count")))
    };
    let mut stats = QueueStats::new(name.as_str());
    stats.paused = row.integer("paused")? == Some(1);
    for state in JobState::ALL {
        stats.add(state, count(state.as_str())?);
    }
    stats.oldest_pending_run_at = row
        .integer("oldest_pending_run_at")?
        .map(|t| time_of(t, "oldest_pending_run_at"))
        .transpose()?;
    stats.limit = limit_of(&row, "limit_", &format_args!("queue {name:?}"))?;
    Ok(stats)
}

// Each write builds its transition (a struct of `crate::transition`, whose `apply` runs
// its SQL) and awaits the writer's answer, of the type that transition answers.
#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue(&self, job: NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        let id = job.id;
        let jobs = vec![job];
        single(self.writer.call(Enqueue { jobs, now }).await?, id)
    }

    async fn enqueue_many(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        self.writer.call(Enqueue { jobs, now }).await
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
        if request.queues.is_empty() {
            return Ok(Vec::new());
        }
        let claim = Claim {
            queues: request.queues.to_vec(),
            limit: request.limit,
            limited: request.limited,
            worker: request.worker.to_owned(),
            now,
            lease_until: request.lease_until,
            limits_seen: self.limits_seen.clone(),
        };
        self.writer.call(claim).await?.into_jobs()
    }

    async fn heartbeat(
        &self,
        leases: &[Lease],
        lease_until: OffsetDateTime,
    ) -> Result<Vec<HeartbeatStatus>, StoreError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let heartbeat = Heartbeat {
            leases: leases.to_vec(),
            lease_until,
        };
        self.writer.call(heartbeat).await
    }

    async fn complete(&self, lease: Lease, now: OffsetDateTime) -> Result<(), StoreError> {
        self.writer.call(Complete { lease, now }).await
    }

    async fn retry(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<JobState, StoreError> {
        let retry = Retry {
            lease,
            run_at,
            error: error.to_owned(),
            now,
        };
        self.writer.call(retry).await
    }

    async fn fail(&self, lease: Lease, error: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let fail = Fail {
            lease,
            error: error.to_owned(),
            now,
        };
        self.writer.call(fail).await
    }

    async fn release(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.writer.call(Release { lease, run_at, now }).await
    }

    async fn cancel(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        self.writer.call(Cancel { id, now }).await
    }

    async fn dependents(&self, id: JobId) -> Result<Vec<JobId>, StoreError> {
        let statement = sqlx::query(sql::DEPENDENTS).bind(id_blob(id));
        let rows = self.fetch_all(statement).await?;
        rows.iter().map(|row| Row(row).job_id()).collect()
    }

    async fn get(&self, id: JobId, now: OffsetDateTime) -> Result<Option<JobRecord>, StoreError> {
        let statement = sqlx::query(sql::GET).bind(id_blob(id));
        let row = self.fetch_optional(statement).await?;
        row.map(|row| job_record(&Row(&row), now)).transpose()
    }

    async fn list(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let read = if filter.newest_first {
            Read::ListNewest
        } else {
            Read::List
        };
        let list = AssertSqlSafe(filter::narrowed(read, filter));
        let statement = bind(sqlx::query(list), page_params(filter, now));
        let rows = self.fetch_all(statement).await?;
        rows.iter().map(|row| job_record(&Row(row), now)).collect()
    }

    async fn count(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        let count = AssertSqlSafe(filter::narrowed(Read::Count, filter));
        let statement = bind(sqlx::query(count), count_params(filter, now));
        let count: i64 = self.fetch_scalar(statement).await?;
        u64::try_from(count).map_err(|_| StoreError::backend(format!("negative count {count}")))
    }

    async fn next_due(&self, queues: &[String]) -> Result<Option<OffsetDateTime>, StoreError> {
        if queues.is_empty() {
            return Ok(None);
        }
        let statement = sqlx::query(sql::NEXT_DUE).bind(queues_json(queues)?);
        let due: Option<i64> = self.fetch_scalar(statement).await?;
        due.map(|t| time_of(t, "next due time")).transpose()
    }

    async fn prune(&self, before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        // A transaction per batch, so the write lock is released in between.
        prune::in_batches(limit, async |batch| {
            self.writer
                .call(Prune {
                    before,
                    limit: batch,
                })
                .await
        })
        .await
    }

    async fn upsert_schedule(
        &self,
        schedule: NewSchedule,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let upsert = UpsertSchedule {
            schedule: Box::new(schedule),
            next_fire_at,
            now,
        };
        self.writer.call(upsert).await
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        let statement = sqlx::query(sql::GET_SCHEDULE).bind(name);
        let row = self.fetch_optional(statement).await?;
        row.map(|row| schedule_record(&Row(&row))).transpose()
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        let rows = self.fetch_all(sqlx::query(sql::LIST_SCHEDULES)).await?;
        rows.iter().map(|row| schedule_record(&Row(row))).collect()
    }

    async fn due_schedules(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let statement = sqlx::query(sql::DUE_SCHEDULES)
            .bind(micros(now))
            .bind(sql_limit(limit));
        let rows = self.fetch_all(statement).await?;
        rows.iter().map(|row| schedule_record(&Row(row))).collect()
    }

    async fn fire_schedule(
        &self,
        firing: Firing<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let fire = FireSchedule {
            name: firing.name.to_owned(),
            slot: firing.slot,
            next: firing.next,
            jobs: firing.jobs,
            now,
        };
        self.writer.call(fire).await
    }

    async fn pause_schedule(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let pause = PauseSchedule {
            name: name.to_owned(),
            now,
        };
        self.writer.call(pause).await
    }

    async fn resume_schedule(
        &self,
        name: &str,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let resume = ResumeSchedule {
            name: name.to_owned(),
            next_fire_at,
            now,
        };
        self.writer.call(resume).await
    }

    async fn remove_schedule(&self, name: &str) -> Result<bool, StoreError> {
        let remove = RemoveSchedule {
            name: name.to_owned(),
        };
        self.writer.call(remove).await
    }

    async fn pause_queue(&self, queue: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        self.set_paused(queue, true, now).await
    }

    async fn resume_queue(&self, queue: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        self.set_paused(queue, false, now).await
    }

    async fn queue_stats(&self, now: OffsetDateTime) -> Result<Vec<QueueStats>, StoreError> {
        let statement = sqlx::query(sql::QUEUE_STATS).bind(micros(now));
        let rows = self.fetch_all(statement).await?;
        rows.iter().map(queue_stats).collect()
    }

    async fn set_limit(
        &self,
        scope: &LimitScope,
        limit: Limit,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let scope = scope.clone();
        self.writer.call(SetLimit { scope, limit, now }).await
    }

    async fn remove_limit(
        &self,
        scope: &LimitScope,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let scope = scope.clone();
        self.writer.call(RemoveLimit { scope }).await
    }

    async fn limits(&self) -> Result<Vec<(LimitScope, Limit)>, StoreError> {
        let rows = self.fetch_all(sqlx::query(sql::LIMITS)).await?;
        rows.iter().map(|row| scoped_limit(&Row(row))).collect()
    }

    async fn complete_with_output(
        &self,
        lease: Lease,
        output: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let output = output.to_string();
        self.writer
            .call(CompleteWithOutput { lease, output, now })
            .await
    }

    async fn retry_job(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        self.writer.call(RetryJob { id, now }).await
    }

    async fn delete_job(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        self.writer.call(DeleteJob { id, now }).await
    }

    async fn update_job(
        &self,
        id: JobId,
        update: &JobUpdate,
        now: OffsetDateTime,
    ) -> Result<JobRecord, StoreError> {
        let update = update.clone();
        self.writer.call(UpdateJob { id, update, now }).await
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
        self.by_filter(Bulk::Update(update.clone()), filter, now)
            .await
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
        let take = TakeLock {
            name: name.to_owned(),
            holder: holder.to_owned(),
            until,
            now,
        };
        self.writer.call(take).await
    }
}
