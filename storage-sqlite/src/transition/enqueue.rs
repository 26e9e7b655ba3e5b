//! [`Enqueue`]: inserting jobs, one statement for every job without a unique key and
//! one upsert per job with one (a held key answers the job that holds it).
//!
//! [`enqueue`] is also the SQL of `SqliteStore::enqueue_in` (in the caller's own
//! transaction) and of a schedule's fire; [`insert_bulk`] that of a group's keyless
//! enqueues (see [`crate::bulk`]).

use leasehold::time::OffsetDateTime;
use leasehold::{Enqueued, JobRecord, NewJob, StoreError};
use sqlx::SqliteConnection;

use crate::error::{is_unique_violation, store_error};
use crate::row::{id_blob, job_record, micros};
use crate::sql;
use crate::transition::{Call, Request, Transition};

/// `enqueue` and `enqueue_many`: stores `jobs` enqueued at `now`.
#[derive(Debug)]
pub(crate) struct Enqueue {
    pub(crate) jobs: Vec<NewJob>,
    pub(crate) now: OffsetDateTime,
}

impl Enqueue {
    /// Whether the writer may insert its jobs in one statement with those of other
    /// calls: it has some, and none has a unique key.
    pub(crate) fn is_keyless(&self) -> bool {
        !self.jobs.is_empty() && self.jobs.iter().all(|job| job.unique_key.is_none())
    }
}

impl Transition for Enqueue {
    /// Each job's answer, in order.
    type Answer = Vec<Enqueued>;

    fn request(call: Call<Self>) -> Request {
        Request::Enqueue(call)
    }

    fn weight(&self) -> usize {
        self.jobs.len()
    }

    fn needs_savepoint(&self) -> bool {
        // A later job may conflict after earlier ones were written.
        self.jobs.len() > 1
    }

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Vec<Enqueued>, StoreError> {
        enqueue(conn, &self.jobs, self.now).await
    }
}

/// Stores `jobs` enqueued at `now`, answering each in order.
pub(crate) async fn enqueue(
    conn: &mut SqliteConnection,
    jobs: &[NewJob],
    now: OffsetDateTime,
) -> Result<Vec<Enqueued>, StoreError> {
    let keyless: Vec<(&NewJob, OffsetDateTime)> = jobs
        .iter()
        .filter(|job| job.unique_key.is_none())
        .map(|job| (job, now))
        .collect();
    let bulk = keyless.len() > 1 && insert_bulk(conn, &keyless).await?;
    let mut answers = Vec::with_capacity(jobs.len());
    for job in jobs {
        if bulk && job.unique_key.is_none() {
            answers.push(Enqueued::inserted(JobRecord::from_new(job.clone(), now)));
        } else {
            answers.push(enqueue_one(conn, job, now).await?);
        }
    }
    Ok(answers)
}

/// Inserts in one statement each `(job, now)` of `jobs` (none with a unique key).
/// Returns `false`, having inserted nothing, when an id already exists (or repeats):
/// the caller then inserts one by one to name it.
pub(crate) async fn insert_bulk(
    conn: &mut SqliteConnection,
    jobs: &[(&NewJob, OffsetDateTime)],
) -> Result<bool, StoreError> {
    let rows: Vec<_> = jobs
        .iter()
        .map(|(job, now)| {
            (
                job.id.as_uuid().simple().to_string(),
                job.kind.as_str(),
                job.queue.as_str(),
                job.payload.to_string(),
                job.priority,
                micros(job.run_at),
                job.max_attempts,
                micros(*now),
            )
        })
        .collect();
    let rows = serde_json::to_string(&rows).map_err(StoreError::backend)?;
    match sqlx::query(sql::ENQUEUE_BULK)
        .bind(rows)
        .execute(&mut *conn)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(store_error(e)),
    }
}

async fn enqueue_one(
    conn: &mut SqliteConnection,
    job: &NewJob,
    now: OffsetDateTime,
) -> Result<Enqueued, StoreError> {
    let inserted = sqlx::query(sql::ENQUEUE)
        .bind(id_blob(job.id))
        .bind(job.kind.as_str())
        .bind(job.queue.as_str())
        .bind(job.payload.to_string())
        .bind(i64::from(job.priority))
        .bind(micros(job.run_at))
        .bind(i64::from(job.max_attempts))
        .bind(job.unique_key.as_deref())
        .bind(micros(now))
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("job {} already exists", job.id))
            } else {
                store_error(e)
            }
        })?
        .rows_affected();
    if inserted > 0 {
        return Ok(Enqueued::inserted(JobRecord::from_new(job.clone(), now)));
    }
    // Nothing inserted: a non-terminal job holds the unique key.
    let holder = sqlx::query(sql::JOB_BY_UNIQUE_KEY)
        .bind(job.unique_key.as_deref())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
    match holder {
        Some(row) => Ok(Enqueued::duplicate(job_record(&row, now)?)),
        None => Err(StoreError::backend(format!(
            "job {} was neither inserted nor held by another job's unique key",
            job.id
        ))),
    }
}
