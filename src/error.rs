//! Errors.
//!
//! - [`StoreError`]: what a [`JobStore`](crate::JobStore) returns; the core branches on
//!   its variants.
//! - [`Error`]: what the user-facing API returns.

use crate::dependency::DependencyProblem;
use crate::job::{JobId, JobState, Lease};

/// A boxed error from a backend, kept as the `source`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error a store returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No job has this id.
    #[error("job {0} not found")]
    NotFound(JobId),
    /// No job of this queue is stored and it was never paused: most likely a typo.
    #[error("queue {0:?} not found: no job of it is stored and it was never paused")]
    QueueNotFound(String),
    /// The job is in a state the verb does not act on (retrying or deleting a running
    /// job, updating one that is not pending). Nothing was changed.
    #[error("cannot {action} job {job}: it is {state}{}", advice(action, *.state))]
    WrongState {
        /// The job.
        job: JobId,
        /// Its state when the verb was refused.
        state: JobState,
        /// What was refused (`"retry"`, `"delete"`, `"update"`).
        action: &'static str,
    },
    /// No schedule has this name.
    #[error("schedule {0:?} not found")]
    ScheduleNotFound(String),
    /// No limit is stored for this key or queue. Nothing was changed.
    #[error("no limit is stored for {0}")]
    LimitNotFound(crate::limit::LimitScope),
    /// The lease is not (or no longer) the job's current one: another claim took the
    /// job, or the job is no longer running. Nothing was changed.
    #[error("{0} is lost: the job was claimed again or is no longer running")]
    LeaseLost(Lease),
    /// The operation conflicts with the job's state (for example, a unique key is
    /// held, or a schedule changed underneath a compare-and-set).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend stayed busy (a locked SQLite database past its busy timeout, a
    /// pool timeout). Nothing was changed and the operation can be retried.
    #[error("store busy: {0}")]
    Busy(#[source] BoxError),
    /// The store's schema is not one this version understands: written by a newer
    /// version, not a leasehold database, or corrupt. Nothing was changed.
    #[error("incompatible store: {0}")]
    Incompatible(String),
    /// The backend refuses the call for a reason that repeating it will not cure until
    /// an operator acts: the disk or the database is full, the file or its directory is
    /// read-only, permission is denied. `message` says what to do. Nothing was changed,
    /// and the same store handle works again once the cause is gone.
    #[error("store needs attention: {message}")]
    Permanent {
        /// What went wrong and what the operator should do about it.
        message: String,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// A dependency the enqueue cannot have: on an unknown job, on the job itself, or
    /// closing a cycle among the jobs of one call. Nothing of the call was stored.
    #[error("job {job} cannot depend on job {dependency}: {problem}")]
    InvalidDependency {
        /// The dependent job.
        job: JobId,
        /// The dependency refused.
        dependency: JobId,
        /// What is wrong with it.
        problem: DependencyProblem,
    },
    /// The store does not implement this verb (named): it was written against an
    /// older `JobStore`, or declares the verb a gap. Nothing was changed.
    #[error("this store does not support {0}")]
    Unsupported(&'static str),
    /// Any other backend failure (a dropped or terminated connection, an I/O error
    /// that may pass): repeating the call may succeed.
    #[error("store backend error: {0}")]
    Backend(#[source] BoxError),
}

/// What an operator can do about a [`StoreError::WrongState`] refusing `action` on a
/// job in `state`.
fn advice(action: &str, state: JobState) -> &'static str {
    match (action, state) {
        ("update", _) => " (only a pending job can be updated)",
        (_, JobState::Running) => " (cancel it first, or wait for it to finish)",
        _ => "",
    }
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(error: impl Into<BoxError>) -> Self {
        StoreError::Backend(error.into())
    }

    /// A [`StoreError::InvalidDependency`]: `job` cannot depend on `dependency`, for
    /// `problem`.
    pub fn invalid_dependency(job: JobId, dependency: JobId, problem: DependencyProblem) -> Self {
        StoreError::InvalidDependency {
            job,
            dependency,
            problem,
        }
    }

    /// A [`StoreError::Permanent`] that tells the operator `message`.
    pub fn permanent(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Permanent {
            message: message.into(),
            source: source.into(),
        }
    }

    /// Whether repeating the same call may succeed (`Busy` and `Backend`). `Permanent`
    /// and `Incompatible` are not: a worker backs off and logs them loudly instead of
    /// repeating them at once.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Busy(_) | StoreError::Backend(_))
    }
}

/// The error the user-facing API returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A job that cannot be stored: empty kind or queue, zero max attempts, ...
    #[error("invalid job: {0}")]
    InvalidJob(String),
    /// A payload that does not serialize to JSON.
    #[error("payload of job kind {kind:?} does not serialize")]
    Serialize {
        /// The job's kind.
        kind: String,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// A flow-control limit that cannot be stored: a maximum of 0, a rate of 0
    /// starts or an empty period, neither set.
    #[error("invalid limit: {0}")]
    InvalidLimit(String),
    /// An invalid setting (worker, retry policy, schedule, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A cron expression that does not parse or can never fire.
    #[error("invalid cron expression {expression:?}: {field}: {message}")]
    Cron {
        /// The expression as given.
        expression: String,
        /// The field that is wrong (`minute`, `hour`, `day of month`, `month`,
        /// `day of week`), or `expression` for the whole.
        field: String,
        /// What is wrong, naming the offending value.
        message: String,
    },
    /// A job output over the size limit; the job completes without it.
    #[error("job output of {size} bytes is over the limit of {limit} bytes; it is not stored")]
    OutputTooLarge {
        /// The output's size, serialized as JSON.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A timezone name that is not in the IANA database.
    #[error("unknown IANA timezone {0:?}")]
    Timezone(String),
    /// A member added to, or a second seal of, a batch that is sealed (its callback,
    /// with the batch's id, is stored); nothing was stored.
    #[error("batch {0} is sealed: its callback is stored and it takes no more members")]
    BatchSealed(JobId),
    /// A batch callback of a kind no worker built from this queue handles, while
    /// some are built ([`Queue::register_kinds`](crate::Queue::register_kinds) declares
    /// kinds a worker elsewhere handles); nothing was stored.
    #[error(
        "no worker of this process handles job kind {0:?}: register its handler, or \
         declare it with Queue::register_kinds when a worker in another process runs it"
    )]
    UnhandledKind(String),
    /// A stored job output that does not deserialize to the type asked for.
    #[error("the output of job {job} does not deserialize: {source}")]
    Output {
        /// The job whose output it is.
        job: JobId,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
}
