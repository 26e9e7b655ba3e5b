//! What happened to the jobs a worker ran: [`Outcome`], [`JobOutcome`], [`RunReport`].

use std::time::Duration;

use time::OffsetDateTime;

use super::events::{JobInfo, WorkerEvent};

/// How one claimed attempt ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// The job is `Completed`.
    Completed,
    /// The job is pending again at `run_at`, `delay` after the failure.
    Retried {
        /// The backoff the retry policy chose.
        delay: Duration,
        /// When the job is due again.
        run_at: OffsetDateTime,
        /// The attempt's error.
        error: String,
    },
    /// The job is `Failed` with `error`.
    Failed {
        /// The error recorded.
        error: String,
    },
    /// The handler snoozed: the job is pending at `run_at`, its attempt given back.
    Snoozed {
        /// When the job is due again.
        run_at: OffsetDateTime,
    },
    /// Shutdown gave the unfinished job back, due at once.
    Released,
    /// The lease was lost (taken over, or unreachable until it expired): the handler
    /// was cancelled, nothing recorded.
    LeaseLost,
    /// The job was cancelled while running: the handler was cancelled, nothing
    /// recorded.
    Cancelled,
    /// The store kept failing while recording the outcome: nothing recorded.
    Abandoned {
        /// The store's last error.
        error: String,
    },
}

/// The [`Outcome`] of one job.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JobOutcome {
    /// The job.
    pub job: JobInfo,
    /// How its attempt ended.
    pub outcome: Outcome,
}

impl JobOutcome {
    /// The event that announces this outcome.
    pub fn event(&self) -> WorkerEvent {
        let job = self.job.clone();
        match &self.outcome {
            Outcome::Completed => WorkerEvent::Completed(job),
            Outcome::Retried {
                delay,
                run_at,
                error,
            } => WorkerEvent::Retried {
                job,
                delay: *delay,
                run_at: *run_at,
                error: error.clone(),
            },
            Outcome::Failed { error } => WorkerEvent::Failed {
                job,
                error: error.clone(),
            },
            Outcome::Snoozed { run_at } => WorkerEvent::Snoozed {
                job,
                run_at: *run_at,
            },
            Outcome::Released => WorkerEvent::Released(job),
            Outcome::LeaseLost => WorkerEvent::LeaseLost(job),
            Outcome::Cancelled => WorkerEvent::Cancelled(job),
            Outcome::Abandoned { error } => WorkerEvent::Abandoned {
                job,
                error: error.clone(),
            },
        }
    }
}

/// What one [`Worker::run_once`](crate::worker::Worker::run_once) did.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RunReport {
    /// The jobs claimed, in claim order.
    pub claimed: Vec<JobInfo>,
    /// How each claimed job ended, in claim order.
    pub outcomes: Vec<JobOutcome>,
}

impl RunReport {
    /// How many outcomes match `pred`.
    pub fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| pred(&o.outcome)).count()
    }

    /// How many jobs completed.
    pub fn completed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Completed))
    }

    /// How many jobs were scheduled for a retry.
    pub fn retried(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Retried { .. }))
    }

    /// How many jobs ended `Failed`.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. }))
    }
}
