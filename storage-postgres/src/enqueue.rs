//! Enqueueing on a connection: [`insert_jobs`] (the SQL of every enqueue: the store's
//! `enqueue` and `enqueue_many`, a schedule's fire, and the caller's own transaction),
//! and [`TransactionalEnqueue`] for [`PostgresStore`].
//!
//! Every insert that stores a job notifies the schema's channel with its queue, inside
//! its own statement: the notification is delivered when the transaction commits, and
//! never for a rollback.

use leasehold::time::OffsetDateTime;
use leasehold::{Enqueued, JobId, JobRecord, NewJob, StoreError};
use leasehold_sql::dependency::{DependencyWrites, Start, start_dependents};
use leasehold_sql::enqueue::{Insert, insert_all, insert_error, json_text, params};
use leasehold_sql::row::{job_record, micros};
use leasehold_sql::{Param, TransactionalEnqueue};
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::error::{is_duplicate_job_id, store_error, violation_detail};
use crate::row::{Row, bind};
use crate::sql::{Statements, query, query_scalar};
use crate::store::PostgresStore;

/// How many times an enqueue tries again when the holder of its unique key finished
/// between the insert that found it and the read of it.
const HOLDER_RACE_ATTEMPTS: usize = 8;

/// Enqueue inside the caller's own transaction on this store's database; the wake-up
/// notification is delivered at the commit too.
///
/// A connection outside a transaction commits each call at once. Each call runs in a
/// savepoint, so when it fails none of its jobs is stored and the caller's transaction
/// is still usable. It runs on the caller's connection, so the store's own bound on a
/// call's answer does not apply: the connection's settings (its `statement_timeout`)
/// and the caller's timeouts do.
///
/// ```no_run
/// # async fn example(store: leasehold_postgres::PostgresStore, pool: sqlx::PgPool)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use leasehold::{Clock, EnqueueOptions, Job, SystemClock};
/// use leasehold_sql::{Param, TransactionalEnqueue};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct SendWelcome { to: String }
/// impl Job for SendWelcome { const KIND: &'static str = "send_welcome"; }
///
/// let now = SystemClock.now();
/// let mut tx = pool.begin().await?;
/// sqlx::query("INSERT INTO users (email) VALUES ($1)")
///     .bind("ada@example.com")
///     .execute(&mut *tx)
///     .await?;
/// let welcome = SendWelcome { to: "ada@example.com".into() };
/// store.enqueue_in(&mut tx, &welcome, EnqueueOptions::new(), now).await?;
/// tx.commit().await?; // the user and the job, or neither
/// # Ok(())
/// # }
/// ```
impl TransactionalEnqueue for PostgresStore {
    type Connection = PgConnection;

    async fn enqueue_many_new_in(
        &self,
        conn: &mut PgConnection,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        // A savepoint inside the caller's transaction (or a transaction of its own).
        let mut savepoint = conn.begin().await.map_err(store_error)?;
        let channel = self.enqueue_channel();
        let answers = insert_jobs(self.statements(), &mut savepoint, &jobs, now, channel).await;
        end_transaction(savepoint, answers).await
    }
}

/// Ends `tx` as `result` says: commits it after a success; after an error, rolls it
/// back at once, rather than when its connection is next used (sqlx's rollback on
/// drop), so that no row lock it took (an enqueue's dependencies, a schedule's slot)
/// outlives the call.
pub(crate) async fn end_transaction<T>(
    tx: Transaction<'_, Postgres>,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            tx.commit().await.map_err(store_error)?;
            Ok(value)
        }
        Err(error) => {
            tx.rollback().await.map_err(store_error)?;
            Err(error)
        }
    }
}

/// Inserts `jobs` on `conn` and notifies `channel`, answering each job in order (see
/// [`insert_all`]), and starts those with dependencies. Atomic only inside a
/// transaction.
pub(crate) async fn insert_jobs(
    sql: &Statements,
    conn: &mut PgConnection,
    jobs: &[NewJob],
    now: OffsetDateTime,
    channel: &str,
) -> Result<Vec<Enqueued>, StoreError> {
    let mut inserts = Inserts {
        sql,
        conn,
        channel,
        now,
    };
    let mut answers = insert_all(&mut inserts, jobs).await?;
    start_dependents(&mut inserts, jobs, &mut answers, now).await?;
    Ok(answers)
}

/// The enqueue statements on one connection, for jobs enqueued at `now`, notifying
/// `channel`.
struct Inserts<'a> {
    sql: &'a Statements,
    conn: &'a mut PgConnection,
    channel: &'a str,
    now: OffsetDateTime,
}

impl Insert for Inserts<'_> {
    fn now(&self) -> OffsetDateTime {
        self.now
    }

    /// One `INSERT ... SELECT FROM UNNEST(...)`; a duplicate id fails it with the
    /// server's detail naming the id.
    async fn insert_keyless(&mut self, jobs: &[&NewJob]) -> Result<bool, StoreError> {
        let expected = jobs.len();
        let inserted: i64 = query_scalar(&self.sql.enqueue_bulk)
            .bind(jobs.iter().map(|j| *j.id.as_uuid()).collect::<Vec<Uuid>>())
            .bind(jobs.iter().map(|j| j.kind.clone()).collect::<Vec<String>>())
            .bind(
                jobs.iter()
                    .map(|j| j.queue.clone())
                    .collect::<Vec<String>>(),
            )
            .bind(
                jobs.iter()
                    .map(|j| json_text(&j.payload))
                    .collect::<Vec<String>>(),
            )
            .bind(jobs.iter().map(|j| j.priority).collect::<Vec<i16>>())
            .bind(jobs.iter().map(|j| micros(j.run_at)).collect::<Vec<i64>>())
            .bind(
                jobs.iter()
                    .map(|j| i64::from(j.max_attempts))
                    .collect::<Vec<i64>>(),
            )
            .bind(
                jobs.iter()
                    .map(|j| json_text(&j.tags))
                    .collect::<Vec<String>>(),
            )
            .bind(
                jobs.iter()
                    .map(|j| json_text(&j.metadata))
                    .collect::<Vec<String>>(),
            )
            .bind(micros(self.now))
            .bind(self.channel)
            .bind(
                jobs.iter()
                    .map(|j| j.limit_key.clone())
                    .collect::<Vec<Option<String>>>(),
            )
            .fetch_one(&mut *self.conn)
            .await
            .map_err(|e| {
                if is_duplicate_job_id(&e) {
                    StoreError::Conflict(format!(
                        "a job of the batch already exists ({})",
                        violation_detail(&e, "duplicate id")
                    ))
                } else {
                    store_error(e)
                }
            })?;
        if usize::try_from(inserted).ok() == Some(expected) {
            Ok(true)
        } else {
            Err(StoreError::backend(format!(
                "a batch of {expected} jobs inserted {inserted}"
            )))
        }
    }

    /// An insert that does nothing for a held unique key (or, with a unique period, a
    /// key whose finished holder blocks it); a racing enqueue of the key waits on the
    /// unique index for the other transaction, then reads the holder, and tries again
    /// if the holder finished in between (and blocks no more).
    async fn insert_one(&mut self, job: &NewJob) -> Result<Enqueued, StoreError> {
        let now = self.now;
        for _ in 0..HOLDER_RACE_ATTEMPTS {
            let params = params(job, now);
            let holder = holder_params(&params);
            let inserted = if job.unique_period.is_some() {
                self.insert_within_period(job, params, &holder).await?
            } else {
                let inserted = bind(query(&self.sql.enqueue), params)
                    .bind(self.channel)
                    .fetch_optional(&mut *self.conn)
                    .await
                    .map_err(|e| insert_error(e, job.id, is_duplicate_job_id, store_error))?;
                inserted.map(|_| Enqueued::inserted(JobRecord::from_new(job, now)))
            };
            if let Some(answer) = inserted {
                return Ok(answer);
            }
            if job.unique_key.is_none() {
                return Err(StoreError::backend(format!(
                    "job {} has no unique key, yet its insert stored nothing",
                    job.id
                )));
            }
            // A statement of its own sees the holder's commit that the insert waited for.
            let holder = bind(query(&self.sql.job_by_unique_key), holder)
                .fetch_optional(&mut *self.conn)
                .await
                .map_err(store_error)?;
            if let Some(row) = holder {
                return Ok(Enqueued::duplicate(job_record(&Row(&row), now)?));
            }
            // The holder finished in between: the key is free again, insert anew.
        }
        Err(StoreError::Busy(
            format!(
                "unique key {:?} of job {} kept changing hands while it was enqueued",
                job.unique_key, job.id
            )
            .into(),
        ))
    }
}

impl DependencyWrites for Inserts<'_> {
    async fn depend_on(&mut self, ids: &[JobId]) -> Result<Vec<(JobId, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
        let rows = query(&self.sql.depend_on)
            .bind(ids)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let id: Uuid = sqlx::Row::try_get(row, "id").map_err(store_error)?;
                let state: String = sqlx::Row::try_get(row, "state").map_err(store_error)?;
                Ok((JobId::from_uuid(id), state))
            })
            .collect()
    }

    async fn start(&mut self, start: &Start<'_>) -> Result<(), StoreError> {
        // PostgreSQL stores a pending job as 'pending': the time given is not needed.
        let [id, state, waiting_for, depends_on, finished_at, error, _now] = start.params();
        bind(
            query(&self.sql.start_dependent),
            [id, state, waiting_for, depends_on, finished_at, error],
        )
        .execute(&mut *self.conn)
        .await
        .map_err(store_error)?;
        Ok(())
    }
}

impl Inserts<'_> {
    /// Inserts `job`, which has a unique period, in a savepoint: `None` when the insert
    /// stored nothing; otherwise the job inserted, or, undoing the insert, the finished
    /// holder that blocks the key after all. The insert's snapshot may have seen the
    /// holder still running while its completion committed (the insert then waited on
    /// the unique index and found the key free), so a statement of its own asks again.
    async fn insert_within_period(
        &mut self,
        job: &NewJob,
        params: [Param<'_>; 16],
        holder: &[Param<'_>; 3],
    ) -> Result<Option<Enqueued>, StoreError> {
        let now = self.now;
        let mut savepoint = self.conn.begin().await.map_err(store_error)?;
        let inserted = bind(query(&self.sql.enqueue), params)
            .bind(self.channel)
            .fetch_optional(&mut *savepoint)
            .await
            .map_err(|e| insert_error(e, job.id, is_duplicate_job_id, store_error))?;
        if inserted.is_none() {
            savepoint.commit().await.map_err(store_error)?;
            return Ok(None);
        }
        let finished = bind(query(&self.sql.finished_unique_holder), holder.clone())
            .fetch_optional(&mut *savepoint)
            .await
            .map_err(store_error)?;
        match finished {
            Some(row) => {
                savepoint.rollback().await.map_err(store_error)?;
                Ok(Some(Enqueued::duplicate(job_record(&Row(&row), now)?)))
            }
            None => {
                savepoint.commit().await.map_err(store_error)?;
                Ok(Some(Enqueued::inserted(JobRecord::from_new(job, now))))
            }
        }
    }
}

/// The parameters of `job_by_unique_key.sql`, taken from those of `enqueue.sql`: the
/// unique key, the start of the unique period and the unique states.
fn holder_params<'p>(params: &[Param<'p>; 16]) -> [Param<'p>; 3] {
    let [_, _, _, _, _, _, _, key, _, _, _, since, states, _, _, _] = params;
    [key.clone(), since.clone(), states.clone()]
}
