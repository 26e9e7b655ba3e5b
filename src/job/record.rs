//! [`JobRecord`]: a job as a store returns it, with its [`AttemptError`]s; [`Lease`]:
//! the proof a worker holds a claimed job.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{DEFAULT_MAX_ATTEMPTS, JobId, JobState, NewJob, Payload};
use crate::dependency::DependencyFailure;

/// How many failed attempts a job's [`JobRecord::errors`] keeps: the latest ones.
pub const ERROR_HISTORY_LIMIT: usize = 20;

/// One failed attempt of a job, as [`JobRecord::errors`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// When the failure was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What went wrong.
    pub error: String,
}

impl AttemptError {
    /// Attempt `attempt` failed at `at` with `error`.
    pub fn new(attempt: u32, at: OffsetDateTime, error: impl Into<String>) -> Self {
        Self {
            attempt,
            at,
            error: error.into(),
        }
    }
}

/// A job as a store returns it.
///
/// `#[non_exhaustive]`, so fields can be added without breaking stores in other
/// crates: a store builds a record with [`JobRecord::new`] and sets the other fields,
/// each of which is public.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JobRecord {
    /// The job's id.
    pub id: JobId,
    /// The handler's name.
    pub kind: String,
    /// The queue it waits in.
    pub queue: String,
    /// The handler's input: the JSON text the store holds.
    pub payload: Payload,
    /// Lower runs first.
    pub priority: i16,
    /// Where the job is in its life, as of the `now` the store was given.
    pub state: JobState,
    /// When the job is (or was last) due.
    #[serde(with = "time::serde::rfc3339")]
    pub run_at: OffsetDateTime,
    /// Attempts started so far: a claim adds one, a release gives it back.
    pub attempt: u32,
    /// Attempts allowed before the job ends `Failed`.
    pub max_attempts: u32,
    /// The fencing token: claims so far. It only grows, so a stale worker's lease never
    /// matches again, even after a release.
    pub lease_token: u32,
    /// Until when the current lease holds (only while `Running`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub lease_until: Option<OffsetDateTime>,
    /// The worker that holds or last held the lease.
    pub worker: Option<String>,
    /// The deduplication key, if any.
    pub unique_key: Option<String>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When the job was enqueued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the job reached a terminal state.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// When its first attempt started (its first claim).
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_attempted_at: Option<OffsetDateTime>,
    /// When its latest attempt started (its latest claim).
    #[serde(with = "time::serde::rfc3339::option")]
    pub attempted_at: Option<OffsetDateTime>,
    /// The failed attempts, oldest first: the latest [`ERROR_HISTORY_LIMIT`] of them.
    pub errors: Vec<AttemptError>,
    /// What the handler recorded with its completion, if anything.
    pub output: Option<serde_json::Value>,
    /// Its labels.
    pub tags: Vec<String>,
    /// Its free-form data (a JSON object).
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The flow-control key it was enqueued with ([`NewJob::limit_key`]).
    pub limit_key: Option<String>,
    /// The jobs it waits for (or waited for): it runs once every one has completed.
    #[serde(default)]
    pub depends_on: Vec<JobId>,
    /// What happens to it when a dependency fails or is cancelled (the default for a
    /// job without dependencies).
    #[serde(default)]
    pub on_dependency_failure: DependencyFailure,
}

impl JobRecord {
    /// A record of the job `id` of `kind` in `queue`, due at `run_at` and enqueued at
    /// `created_at`; every other field starts at its default (priority 0,
    /// `Available`, no attempts of 20 spent, no lease, no key, no error, not
    /// finished), for the store to set from what it holds. A field added later also
    /// starts at a default here, so a store built on `new` keeps compiling.
    pub fn new(
        id: JobId,
        kind: impl Into<String>,
        queue: impl Into<String>,
        payload: impl Into<Payload>,
        run_at: OffsetDateTime,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            kind: kind.into(),
            queue: queue.into(),
            payload: payload.into(),
            priority: 0,
            state: JobState::Available,
            run_at,
            attempt: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            lease_token: 0,
            lease_until: None,
            worker: None,
            unique_key: None,
            last_error: None,
            created_at,
            finished_at: None,
            first_attempted_at: None,
            attempted_at: None,
            errors: Vec::new(),
            output: None,
            tags: Vec::new(),
            metadata: serde_json::Map::new(),
            limit_key: None,
            depends_on: Vec::new(),
            on_dependency_failure: DependencyFailure::default(),
        }
    }

    /// The record a store keeps for `job` enqueued at `now`: pending, no attempts yet
    /// (`Waiting` when it has dependencies: set the state it starts in from
    /// [`DependencyFailure::start`]). Its dependency policy is kept only with
    /// dependencies. Borrows the job: a store answering an enqueue keeps its own, and
    /// the record takes the payload as text, not the job's `Value`.
    pub fn from_new(job: &NewJob, now: OffsetDateTime) -> Self {
        let on_dependency_failure = if job.depends_on.is_empty() {
            DependencyFailure::default()
        } else {
            job.on_dependency_failure
        };
        let state = if !job.depends_on.is_empty() {
            JobState::Waiting
        } else if job.run_at > now {
            JobState::Scheduled
        } else {
            JobState::Available
        };
        Self {
            id: job.id,
            kind: job.kind.clone(),
            queue: job.queue.clone(),
            payload: Payload::from(&job.payload),
            priority: job.priority,
            state,
            run_at: job.run_at,
            attempt: 0,
            max_attempts: job.max_attempts,
            lease_token: 0,
            lease_until: None,
            worker: None,
            unique_key: job.unique_key.clone(),
            last_error: None,
            created_at: now,
            finished_at: None,
            first_attempted_at: None,
            attempted_at: None,
            errors: Vec::new(),
            output: None,
            tags: job.tags.clone(),
            metadata: job.metadata.clone(),
            limit_key: job.limit_key.clone(),
            depends_on: job.depends_on.clone(),
            on_dependency_failure,
        }
    }

    /// Records that attempt `self.attempt` failed at `at` with `error`: sets
    /// `last_error` and appends to `errors`, dropping the oldest beyond
    /// [`ERROR_HISTORY_LIMIT`]. For stores that keep records whole.
    pub fn record_error(&mut self, error: &str, at: OffsetDateTime) {
        self.last_error = Some(error.to_owned());
        if self.errors.len() >= ERROR_HISTORY_LIMIT {
            let excess = self.errors.len() + 1 - ERROR_HISTORY_LIMIT;
            self.errors.drain(..excess);
        }
        self.errors.push(AttemptError::new(self.attempt, at, error));
    }

    /// The lease a worker holds on this job after claiming it.
    pub fn lease(&self) -> Lease {
        Lease {
            job_id: self.id,
            token: self.lease_token,
        }
    }

    /// Whether this attempt is the last one allowed.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// Proof that a worker holds a claimed job: the job and the claim's token.
///
/// Heartbeat, complete, retry, fail and release succeed only while the token is the
/// job's current [`JobRecord::lease_token`] and the job is `Running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The claimed job.
    pub job_id: JobId,
    /// The claim's fencing token.
    pub token: u32,
}

impl fmt::Display for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job {} lease {}", self.job_id, self.token)
    }
}
