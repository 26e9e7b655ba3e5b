//! Enqueueing: typed jobs into the caller's own transaction
//! ([`TransactionalEnqueue`]), the order in which an enqueue of several jobs inserts
//! them ([`insert_all`] over a store's [`Insert`]), and the parameters of `enqueue.sql`
//! ([`params`]).

use std::future::Future;

use leasehold::time::OffsetDateTime;
use leasehold::{EnqueueOptions, Enqueued, Error, Job, JobId, JobRecord, NewJob, StoreError};

use crate::param::Param;
use crate::row::micros;

/// Enqueue inside the caller's own transaction (the transactional outbox): the jobs
/// exist if and only if that transaction commits, together with the caller's own
/// writes (an order row and the job that ships it, never one without the other).
///
/// Implemented by `leasehold_sqlite::SqliteStore` (on a `SqliteConnection` to the
/// store's database file) and `leasehold_postgres::PostgresStore` (on a `PgConnection`
/// to its database); pass `&mut tx` for a `sqlx::Transaction` the caller began. Each
/// store's implementation says what it holds while the transaction is open (SQLite's
/// write lock) and what a failed call leaves behind.
///
/// The typed methods build their jobs as [`Queue::enqueue_with`](leasehold::Queue::enqueue_with)
/// does, from a [`Job`] and [`EnqueueOptions`], and answer as it does; `now` is the
/// time of the caller's clock (see [`Clock`](leasehold::Clock)).
pub trait TransactionalEnqueue: Sync {
    /// The connection the caller's transaction runs on.
    type Connection: Send;

    /// Enqueues `job` with `options` on `conn`, inside the transaction the caller holds
    /// on it.
    ///
    /// # Errors
    ///
    /// [`Error::Serialize`] for a payload that does not serialize and
    /// [`Error::InvalidJob`] for invalid options, before anything is written;
    /// [`Error::Store`] as [`TransactionalEnqueue::enqueue_many_new_in`].
    fn enqueue_in<J: Job>(
        &self,
        conn: &mut Self::Connection,
        job: &J,
        options: EnqueueOptions,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Enqueued, Error>> + Send {
        let built = new_job(job, &options, now);
        async move {
            let job = built?;
            let id = job.id;
            let answers = self.enqueue_many_new_in(conn, vec![job], now).await?;
            Ok(single(answers, id)?)
        }
    }

    /// Enqueues every job of `jobs` with `options` on `conn`, inside the transaction
    /// the caller holds on it; the answers are in the order of `jobs`.
    ///
    /// # Errors
    ///
    /// As [`TransactionalEnqueue::enqueue_in`].
    fn enqueue_many_in<'a, J: Job>(
        &self,
        conn: &mut Self::Connection,
        jobs: impl IntoIterator<Item = &'a J>,
        options: EnqueueOptions,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Enqueued>, Error>> + Send {
        let built = new_jobs(jobs, &options, now);
        async move { Ok(self.enqueue_many_new_in(conn, built?, now).await?) }
    }

    /// Enqueues jobs built already (a kind without a [`Job`] type, an id of the
    /// caller's choosing) on `conn`, inside the transaction the caller holds on it:
    /// what the typed methods run once their jobs are built.
    ///
    /// # Errors
    ///
    /// As [`JobStore::enqueue_many`](leasehold::JobStore::enqueue_many):
    /// [`StoreError::Conflict`] when a job with one of the ids exists,
    /// [`StoreError::Busy`] or [`StoreError::Backend`] when the database fails.
    fn enqueue_many_new_in(
        &self,
        conn: &mut Self::Connection,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Enqueued>, StoreError>> + Send;
}

/// `job` with `options`, as of `now`, as `Queue::enqueue_with` builds it.
fn new_job<J: Job>(
    job: &J,
    options: &EnqueueOptions,
    now: OffsetDateTime,
) -> Result<NewJob, Error> {
    options.build_job(job, now)
}

/// The jobs of `jobs` with `options`, as of `now`, as `Queue::enqueue_many` builds them.
fn new_jobs<'a, J: Job>(
    jobs: impl IntoIterator<Item = &'a J>,
    options: &EnqueueOptions,
    now: OffsetDateTime,
) -> Result<Vec<NewJob>, Error> {
    jobs.into_iter()
        .map(|job| new_job(job, options, now))
        .collect()
}

/// The two statements of an enqueue in a store's dialect, on the connection it runs
/// on, for jobs enqueued at one time.
pub trait Insert: Send {
    /// The time the jobs are enqueued at: their `created_at`, and the time a due test
    /// compares their run time with.
    fn now(&self) -> OffsetDateTime;

    /// Inserts `jobs`, none with a unique key, in one statement. Answers `false`,
    /// having inserted nothing, when the statement cannot say which job failed (an id
    /// that exists or repeats): [`insert_all`] then inserts them one by one, so the
    /// failing job names itself.
    fn insert_keyless(
        &mut self,
        jobs: &[&NewJob],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Inserts `job`, or answers the non-terminal job that holds its unique key.
    fn insert_one(
        &mut self,
        job: &NewJob,
    ) -> impl Future<Output = Result<Enqueued, StoreError>> + Send;
}

/// Inserts `jobs` through `insert`, answering each in order: the new job, or the
/// non-terminal job that holds its unique key. Atomic only inside a transaction.
///
/// A job without a unique key can meet another job only through a duplicate id, which
/// fails the whole call anyway, so two or more of them go in one statement; a job with
/// a key goes on its own, deduped against everything stored before it, the call's own
/// earlier jobs included.
///
/// # Errors
///
/// The first error of `insert`.
pub async fn insert_all(
    insert: &mut impl Insert,
    jobs: &[NewJob],
) -> Result<Vec<Enqueued>, StoreError> {
    let keyless: Vec<&NewJob> = jobs.iter().filter(|job| is_plain(job)).collect();
    let bulk = keyless.len() > 1 && insert.insert_keyless(&keyless).await?;
    let mut answers = Vec::with_capacity(jobs.len());
    for job in jobs {
        if bulk && is_plain(job) {
            let inserted = JobRecord::from_new(job, insert.now());
            answers.push(Enqueued::inserted(inserted));
        } else {
            answers.push(insert.insert_one(job).await?);
        }
    }
    Ok(answers)
}

/// Whether `job` can go in one statement with others: no unique key to dedupe, no
/// dependencies to settle.
pub fn is_plain(job: &NewJob) -> bool {
    job.unique_key.is_none() && job.depends_on.is_empty()
}

/// The parameters of `enqueue.sql`, in order: id, kind, queue, payload (JSON), priority,
/// run time, max attempts, unique key (NULL: none), the time given (the job's
/// `created_at`), tags (a JSON array of strings), metadata (a JSON object), the start
/// of the unique period (NULL: none; a finished holder of the key in one of the unique
/// states blocks when its `finished_at` is after it) and the unique states (a JSON
/// array of stored state names), the limit key (NULL: none), and the dependencies (a
/// JSON array of ids; NULL: none, else the job goes in `waiting`, for
/// [`crate::dependency`] to start) with their policy (NULL with none).
pub fn params(job: &NewJob, now: OffsetDateTime) -> [Param<'_>; 16] {
    let unique_since = job
        .unique_period
        .filter(|_| job.unique_key.is_some())
        .map(|period| {
            micros(now).saturating_sub(i64::try_from(period.as_micros()).unwrap_or(i64::MAX))
        });
    let unique_states: Vec<&str> = job.unique_states.iter().map(|s| s.as_str()).collect();
    [
        Param::Id(Some(job.id)),
        Param::text(&job.kind),
        Param::text(&job.queue),
        Param::owned_text(json_text(&job.payload)),
        Param::SmallInteger(job.priority),
        Param::integer(micros(job.run_at)),
        Param::integer(i64::from(job.max_attempts)),
        Param::optional_text(job.unique_key.as_deref()),
        Param::integer(micros(now)),
        Param::owned_text(json_text(&job.tags)),
        Param::owned_text(json_text(&job.metadata)),
        Param::Integer(unique_since),
        Param::owned_text(json_text(&unique_states)),
        Param::optional_text(job.limit_key.as_deref()),
        Param::Text((!job.depends_on.is_empty()).then(|| json_text(&job.depends_on).into())),
        Param::optional_text(
            (!job.depends_on.is_empty()).then(|| job.on_dependency_failure.as_str()),
        ),
    ]
}

/// `value` as JSON text (payloads, tags, metadata, unique states: values that always
/// serialize). For a payload, several times cheaper than `Value`'s `Display`, which
/// writes each token through a formatter.
pub fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("JSON values, strings and string lists serialize")
}

/// The error of an insert of job `id` that failed with the database's `error`:
/// `Conflict` when the database refused a second job with that id (as
/// `is_duplicate_id` tells in its dialect), else the store's error for it.
pub fn insert_error<E>(
    error: E,
    id: JobId,
    is_duplicate_id: impl FnOnce(&E) -> bool,
    store_error: impl FnOnce(E) -> StoreError,
) -> StoreError {
    if is_duplicate_id(&error) {
        StoreError::Conflict(format!("job {id} already exists"))
    } else {
        store_error(error)
    }
}

/// The one answer of an enqueue of job `id` alone.
///
/// # Errors
///
/// `Backend` when there is none: an enqueue answers each of its jobs.
pub fn single(answers: Vec<Enqueued>, id: JobId) -> Result<Enqueued, StoreError> {
    answers
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::backend(format!("the enqueue of job {id} answered nothing")))
}

#[cfg(test)]
#[path = "enqueue_tests.rs"]
mod tests;
