//! What a worker tells its subscribers: one [`WorkerEvent`] per lifecycle step.

use std::time::Duration;

use time::OffsetDateTime;

use crate::job::{JobId, JobRecord};

/// Which job an event or outcome is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobInfo {
    /// The job's id.
    pub id: JobId,
    /// Its kind (the handler's name).
    pub kind: String,
    /// Its queue.
    pub queue: String,
    /// The attempt this claim started (1 for the first run).
    pub attempt: u32,
}

impl From<&JobRecord> for JobInfo {
    fn from(job: &JobRecord) -> Self {
        Self {
            id: job.id,
            kind: job.kind.clone(),
            queue: job.queue.clone(),
            attempt: job.attempt,
        }
    }
}

/// A step in the life of a job, as one worker saw it.
///
/// Received through [`Worker::subscribe`](crate::worker::Worker::subscribe), a tokio
/// broadcast channel: a receiver that falls behind loses the oldest events.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WorkerEvent {
    /// The worker claimed the job and starts its handler.
    Claimed(JobInfo),
    /// The handler succeeded and the job is `Completed`.
    Completed(JobInfo),
    /// The attempt failed; the job runs again at `run_at`, `delay` after the failure.
    Retried {
        /// The job.
        job: JobInfo,
        /// The backoff the retry policy chose.
        delay: Duration,
        /// When the job is due again.
        run_at: OffsetDateTime,
        /// The attempt's error.
        error: String,
    },
    /// The job ended `Failed`: a permanent error, an unknown kind, a payload that does
    /// not deserialize, or a retryable error on the last attempt.
    Failed {
        /// The job.
        job: JobInfo,
        /// The error recorded.
        error: String,
    },
    /// The handler asked to run again at `run_at` without spending an attempt.
    Snoozed {
        /// The job.
        job: JobInfo,
        /// When the job is due again.
        run_at: OffsetDateTime,
    },
    /// The worker no longer holds the job's lease (another worker took it over, or a
    /// heartbeat could not reach the store before the lease expired): the handler was
    /// cancelled and nothing was recorded.
    LeaseLost(JobInfo),
    /// The job was cancelled while it ran: the handler was cancelled and nothing was
    /// recorded.
    Cancelled(JobInfo),
    /// The outcome could not be recorded: the store kept failing. Nothing was
    /// recorded; the lease expires and another claim runs the job again.
    Abandoned {
        /// The job.
        job: JobInfo,
        /// The store's last error.
        error: String,
    },
    /// On shutdown, the unfinished job was given back, due at once, its attempt
    /// returned.
    Released(JobInfo),
}

impl WorkerEvent {
    /// The job the event is about.
    pub fn job(&self) -> &JobInfo {
        match self {
            WorkerEvent::Claimed(job)
            | WorkerEvent::Completed(job)
            | WorkerEvent::LeaseLost(job)
            | WorkerEvent::Cancelled(job)
            | WorkerEvent::Released(job)
            | WorkerEvent::Retried { job, .. }
            | WorkerEvent::Failed { job, .. }
            | WorkerEvent::Snoozed { job, .. }
            | WorkerEvent::Abandoned { job, .. } => job,
        }
    }
}
