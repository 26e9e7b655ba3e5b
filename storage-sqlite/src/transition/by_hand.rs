//! Jobs by hand: what an operator does to a job, one at a time ([`RetryJob`],
//! [`DeleteJob`], [`UpdateJob`]) or to the jobs a filter selects ([`ByFilter`]).
//!
//! A single verb is one statement that acts only on a job in a state it accepts; when
//! it matched no row, the job as stored says why (unknown, or in the wrong state). A
//! verb by filter is one statement over the jobs `list.sql` selects, passing over the
//! ones the single verb would refuse.

use leasehold::time::OffsetDateTime;
use leasehold::{JobFilter, JobId, JobRecord, JobState, JobUpdate, StoreError};
use leasehold_sql::filter::list_params;
use leasehold_sql::row::{Columns, job_record, micros};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::{is_unique_violation, store_error};
use crate::row::{Row, bind};
use crate::sql;
use crate::transition::Transition;
use crate::transition::statement::{fetch_optional, on_job, stored_job};
use crate::writer::MAX_BATCH_WEIGHT;

/// `retry_job`: runs job `id` again at `now`, unless it is running.
#[derive(Debug)]
pub(crate) struct RetryJob {
    pub(crate) id: JobId,
    pub(crate) now: OffsetDateTime,
}

impl Transition for RetryJob {
    /// The job as stored after the call.
    type Answer = JobRecord;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<JobRecord, StoreError> {
        let retried = on_job(sql::RETRY_JOB, self.id)
            .bind(micros(self.now))
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| {
                key_held(e, || {
                    format!(
                        "job {} cannot run again: a pending or running job holds its unique key",
                        self.id
                    )
                })
            })?;
        let refused = |state| matches!(state, JobState::Running | JobState::Waiting);
        match acted_on(conn, retried, self.id, self.now, "retry", refused).await {
            Err(Waited(dependent)) => Err(StoreError::Conflict(format!(
                "job {} cannot run again: job {dependent} counts it as ended and waits on",
                self.id
            ))),
            answer => answer.map_err(StoreError::from),
        }
    }
}

/// `delete_job`: deletes job `id`, unless it is running.
#[derive(Debug)]
pub(crate) struct DeleteJob {
    pub(crate) id: JobId,
    pub(crate) now: OffsetDateTime,
}

impl Transition for DeleteJob {
    /// The job as it was, with its state as of `now`.
    type Answer = JobRecord;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<JobRecord, StoreError> {
        let deleted = fetch_optional(conn, on_job(sql::DELETE_JOB, self.id)).await?;
        let refused = |state| state == JobState::Running;
        match acted_on(conn, deleted, self.id, self.now, "delete", refused).await {
            Err(Waited(dependent)) => Err(StoreError::Conflict(format!(
                "job {} cannot be deleted: job {dependent} waits for it (cancel it instead)",
                self.id
            ))),
            answer => answer.map_err(StoreError::from),
        }
    }
}

/// `update_job`: changes pending job `id` as `update` says.
#[derive(Debug)]
pub(crate) struct UpdateJob {
    pub(crate) id: JobId,
    pub(crate) update: JobUpdate,
    pub(crate) now: OffsetDateTime,
}

impl Transition for UpdateJob {
    /// The job as stored after the call.
    type Answer = JobRecord;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<JobRecord, StoreError> {
        let statement = on_job(sql::UPDATE_JOB, self.id)
            .bind(self.update.run_at.map(micros))
            .bind(self.update.priority.map(i64::from))
            .bind(self.update.queue.as_deref())
            .bind(micros(self.now));
        let updated = fetch_optional(conn, statement).await?;
        let refused = |state| !matches!(state, JobState::Scheduled | JobState::Available);
        acted_on(conn, updated, self.id, self.now, "update", refused)
            .await
            .map_err(StoreError::from)
    }
}

/// Why a single verb matched no row: the store's error, or a waiting job (the id) that
/// depends on the job.
#[derive(Debug)]
enum Refusal {
    Error(StoreError),
    Waited(JobId),
}

use Refusal::Waited;

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        Refusal::Error(error)
    }
}

impl From<Refusal> for StoreError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Error(error) => error,
            Refusal::Waited(dependent) => {
                StoreError::Conflict(format!("job {dependent} waits for the job it depends on"))
            }
        }
    }
}

/// The job a single verb `action` on job `id` answered (`row`), or why it matched no
/// row: `NotFound`; `WrongState` with the job's state as of `now`, when `refused` says
/// the verb refuses it; else the waiting job that depends on it.
async fn acted_on(
    conn: &mut SqliteConnection,
    row: Option<SqliteRow>,
    id: JobId,
    now: OffsetDateTime,
    action: &'static str,
    refused: impl Fn(JobState) -> bool,
) -> Result<JobRecord, Refusal> {
    if let Some(row) = row {
        return Ok(job_record(&Row(&row), now)?);
    }
    let job = stored_job(conn, id, now).await?;
    if !refused(job.state)
        && let Some(row) = fetch_optional(conn, on_job(sql::WAITING_DEPENDENT, id)).await?
    {
        return Err(Waited(Row(&row).job_id()?));
    }
    Err(StoreError::WrongState {
        job: id,
        state: job.state,
        action,
    }
    .into())
}

/// What [`ByFilter`] does to each job it selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bulk {
    /// `retry_jobs`: as `retry_job`, to the jobs that are not running.
    Retry,
    /// `update_jobs`: as `update_job`, to the pending jobs.
    Update(JobUpdate),
    /// `cancel_jobs`: as `cancel`, to the pending and running jobs.
    Cancel,
    /// `delete_jobs`: as `delete_job`, to the jobs that are not running.
    Delete,
}

/// `retry_jobs`, `update_jobs`, `cancel_jobs` or `delete_jobs`: `verb` on the jobs
/// `filter` selects
/// as of `now` that the single verb would act on, lowest ids first, at most the
/// filter's limit.
#[derive(Debug)]
pub(crate) struct ByFilter {
    pub(crate) verb: Bulk,
    pub(crate) filter: JobFilter,
    pub(crate) now: OffsetDateTime,
}

impl Transition for ByFilter {
    /// How many jobs it changed.
    type Answer = u64;

    fn weight(&self) -> usize {
        self.filter
            .limit
            .map_or(MAX_BATCH_WEIGHT, |limit| limit.min(MAX_BATCH_WEIGHT))
    }

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<u64, StoreError> {
        // The stored states each verb acts on (`?9` of parts/selected_jobs.sql).
        const RETRIED: &str = r#"["scheduled","available","completed","failed","cancelled"]"#;
        const NOT_RUNNING: &str =
            r#"["waiting","scheduled","available","completed","failed","cancelled"]"#;
        const PENDING: &str = r#"["scheduled","available"]"#;
        const ACTIVE: &str = r#"["waiting","scheduled","available","running"]"#;
        let (statement, states) = match self.verb {
            Bulk::Retry => (sql::RETRY_JOBS, Some(RETRIED)),
            Bulk::Update(_) => (sql::UPDATE_JOBS, Some(PENDING)),
            Bulk::Cancel => (sql::CANCEL_JOBS, Some(ACTIVE)),
            // Retention's deletes walk the index of finished jobs.
            Bulk::Delete if self.filter.finished_before.is_some() => (sql::DELETE_FINISHED, None),
            Bulk::Delete => (sql::DELETE_JOBS, Some(NOT_RUNNING)),
        };
        let mut query = bind(sqlx::query(statement), list_params(&self.filter, self.now));
        if let Some(states) = states {
            query = query.bind(states);
        }
        if let Bulk::Update(update) = &self.verb {
            query = query
                .bind(update.run_at.map(micros))
                .bind(update.priority.map(i64::from))
                .bind(update.queue.clone());
        }
        let changed = query
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                key_held(e, || {
                    "the jobs cannot run again: a unique key of one of them is held by a \
                     pending or running job, or shared by two of them"
                        .to_owned()
                })
            })?
            .rows_affected();
        Ok(changed)
    }
}

/// The error of a retry that failed with `error`: `Conflict` (saying `why`) when a
/// unique key is held, else the store's error. The failed statement wrote nothing.
fn key_held(error: sqlx::Error, why: impl FnOnce() -> String) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::Conflict(why())
    } else {
        store_error(error)
    }
}
