//! Enqueue inside the caller's own transaction: [`PostgresStore::enqueue_in`] and
//! [`PostgresStore::enqueue_many_in`], and the insert every enqueue shares.
//!
//! A job enqueued on the caller's connection exists if and only if the caller's
//! transaction commits, together with the caller's own writes; the wake-up
//! notification is delivered at that commit too, and never for a rollback.

use leasehold::time::OffsetDateTime;
use leasehold::{Enqueued, JobRecord, NewJob, StoreError};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::error::{is_duplicate_job_id, store_error};
use crate::row::{job_record, micros};
use crate::sql::{Statements, query, query_scalar};
use crate::store::PostgresStore;

/// How many times an enqueue tries again when the holder of its unique key finished
/// between the insert that found it and the read of it.
const HOLDER_RACE_ATTEMPTS: usize = 8;

impl PostgresStore {
    /// Enqueues `job` on `conn`, inside the transaction the caller holds on it: the
    /// job is stored if and only if that transaction commits (a connection outside a
    /// transaction commits it at once). Otherwise as [`JobStore::enqueue`](leasehold::JobStore::enqueue),
    /// wake-up notification included (delivered at the commit).
    ///
    /// Pass `&mut *tx` for a `sqlx::Transaction<'_, Postgres>` begun by sqlx. The
    /// enqueue runs in a savepoint, so when it fails the caller's transaction is
    /// still usable. It runs on the caller's connection, so the store's own bound on a
    /// call's answer does not apply: the connection's settings (its
    /// `statement_timeout`) and the caller's timeouts do.
    ///
    /// ```no_run
    /// # async fn example(store: leasehold_postgres::PostgresStore, pool: sqlx::PgPool)
    /// # -> Result<(), Box<dyn std::error::Error>> {
    /// use leasehold::{NewJob, SystemClock, Clock};
    ///
    /// let now = SystemClock.now();
    /// let mut tx = pool.begin().await?;
    /// sqlx::query("INSERT INTO users (email) VALUES ($1)")
    ///     .bind("ada@example.com")
    ///     .execute(&mut *tx)
    ///     .await?;
    /// let job = NewJob::new("send_welcome", serde_json::json!({"to": "ada@example.com"}), now)?;
    /// store.enqueue_in(&mut tx, job, now).await?;
    /// tx.commit().await?; // the user and the job, or neither
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when a job with this id exists; [`StoreError::Busy`]
    /// or [`StoreError::Backend`] when the database fails.
    pub async fn enqueue_in(
        &self,
        conn: &mut PgConnection,
        job: NewJob,
        now: OffsetDateTime,
    ) -> Result<Enqueued, StoreError> {
        let id = job.id;
        let mut answers = self.enqueue_many_in(conn, vec![job], now).await?;
        answers
            .pop()
            .ok_or_else(|| StoreError::backend(format!("the enqueue of job {id} answered nothing")))
    }

    /// Enqueues every job of `jobs` on `conn`, inside the caller's transaction, as
    /// [`PostgresStore::enqueue_in`] does for one; all or none.
    ///
    /// # Errors
    ///
    /// As [`PostgresStore::enqueue_in`]; on any error none of the jobs is stored.
    pub async fn enqueue_many_in(
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
        let answers = insert_jobs(
            self.statements(),
            &mut savepoint,
            &jobs,
            now,
            self.enqueue_channel(),
        )
        .await?;
        savepoint.commit().await.map_err(store_error)?;
        Ok(answers)
    }
}

/// Inserts `jobs` on `conn`, answering each in order: the new job, or the
/// non-terminal job that holds its unique key. Atomic only inside a transaction.
///
/// Jobs without a unique key cannot meet another job but by a duplicate id (an
/// error for the whole call), so more than one of them go in one statement; jobs with
/// a key go one by one, each deduped against what is stored by then.
pub(crate) async fn insert_jobs(
    sql: &Statements,
    conn: &mut PgConnection,
    jobs: &[NewJob],
    now: OffsetDateTime,
    channel: &str,
) -> Result<Vec<Enqueued>, StoreError> {
    let keyless: Vec<&NewJob> = jobs.iter().filter(|j| j.unique_key.is_none()).collect();
    let bulk = keyless.len() > 1;
    if bulk {
        insert_keyless(sql, conn, &keyless, now, channel).await?;
    }
    let mut answers = Vec::with_capacity(jobs.len());
    for job in jobs {
        if bulk && job.unique_key.is_none() {
            answers.push(Enqueued::inserted(JobRecord::from_new(job.clone(), now)));
        } else {
            answers.push(insert_job(sql, conn, job, now, channel).await?);
        }
    }
    Ok(answers)
}

/// Inserts jobs without unique keys in one statement.
async fn insert_keyless(
    sql: &Statements,
    conn: &mut PgConnection,
    jobs: &[&NewJob],
    now: OffsetDateTime,
    channel: &str,
) -> Result<(), StoreError> {
    let expected = jobs.len();
    let inserted: i64 = query_scalar(&sql.enqueue_bulk)
        .bind(jobs.iter().map(|j| *j.id.as_uuid()).collect::<Vec<Uuid>>())
        .bind(jobs.iter().map(|j| j.kind.clone()).collect::<Vec<String>>())
        .bind(
            jobs.iter()
                .map(|j| j.queue.clone())
                .collect::<Vec<String>>(),
        )
        .bind(
            jobs.iter()
                .map(|j| j.payload.to_string())
                .collect::<Vec<String>>(),
        )
        .bind(jobs.iter().map(|j| j.priority).collect::<Vec<i16>>())
        .bind(jobs.iter().map(|j| micros(j.run_at)).collect::<Vec<i64>>())
        .bind(
            jobs.iter()
                .map(|j| i64::from(j.max_attempts))
                .collect::<Vec<i64>>(),
        )
        .bind(micros(now))
        .bind(channel)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| {
            if is_duplicate_job_id(&e) {
                StoreError::Conflict(format!(
                    "a job of the batch already exists ({})",
                    duplicate_detail(&e)
                ))
            } else {
                store_error(e)
            }
        })?;
    if usize::try_from(inserted).ok() == Some(expected) {
        Ok(())
    } else {
        Err(StoreError::backend(format!(
            "a batch of {expected} jobs inserted {inserted}"
        )))
    }
}

/// PostgreSQL's detail of a unique violation (`Key (id)=(...) already exists.`).
fn duplicate_detail(error: &sqlx::Error) -> String {
    error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
        .and_then(|e| e.detail())
        .unwrap_or("duplicate id")
        .to_owned()
}

async fn insert_job(
    sql: &Statements,
    conn: &mut PgConnection,
    job: &NewJob,
    now: OffsetDateTime,
    channel: &str,
) -> Result<Enqueued, StoreError> {
    for _ in 0..HOLDER_RACE_ATTEMPTS {
        let inserted = query(&sql.enqueue)
            .bind(job.id.as_uuid())
            .bind(job.kind.as_str())
            .bind(job.queue.as_str())
            .bind(job.payload.to_string())
            .bind(job.priority)
            .bind(micros(job.run_at))
            .bind(i64::from(job.max_attempts))
            .bind(job.unique_key.as_deref())
            .bind(micros(now))
            .bind(channel)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| {
                if is_duplicate_job_id(&e) {
                    StoreError::Conflict(format!("job {} already exists", job.id))
                } else {
                    store_error(e)
                }
            })?;
        if inserted.is_some() {
            return Ok(Enqueued::inserted(JobRecord::from_new(job.clone(), now)));
        }
        let Some(key) = job.unique_key.as_deref() else {
            return Err(StoreError::backend(format!(
                "job {} has no unique key, yet its insert stored nothing",
                job.id
            )));
        };
        // A statement of its own sees the holder's commit that the insert waited for.
        let holder = query(&sql.job_by_unique_key)
            .bind(key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?;
        if let Some(row) = holder {
            return Ok(Enqueued::duplicate(job_record(&row, now)?));
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
