//! [`Retention`]: how long finished jobs are kept, and the maintenance that deletes
//! them once they are older.

use std::time::Duration;

use crate::clock::{Clock, truncate_to_micros};
use crate::error::{Error, StoreError};
use crate::job::JobState;
use crate::queue::Queue;
use crate::store::{JobFilter, JobStore};

/// The name of the store lock retention runs under.
pub const RETENTION_LOCK: &str = "leasehold.retention";

/// How long finished jobs are kept: completed and cancelled jobs for 24 hours and
/// failed ones for 7 days by default, in the spirit of River's defaults. Every worker
/// runs the deletion on an interval ([`WorkerBuilder::retention`](super::WorkerBuilder::retention)),
/// but only one process at a time: each run first takes a store lock
/// ([`JobStore::take_lock`]) that expires on its own if its holder dies. Pending and
/// running jobs are never touched. A finished job is also what holds a unique key
/// for its unique period, so keep jobs at least as long as your longest period.
///
/// ```
/// use std::time::Duration;
/// use leasehold::JobState;
/// use leasehold::worker::Retention;
///
/// // Keep failed jobs forever, completed ones for an hour; look every 5 minutes.
/// let retention = Retention::default()
///     .keep(JobState::Failed, None)
///     .keep(JobState::Completed, Some(Duration::from_secs(3600)))
///     .interval(Duration::from_secs(300));
/// # assert!(retention.is_on());
/// # assert!(!Retention::off().is_on());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// (terminal state, how long it is kept; `None`: forever).
    keep: [(JobState, Option<Duration>); 3],
    interval: Duration,
    batch: usize,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: Duration = Duration::from_secs(24 * 3600);
        Self {
            keep: [
                (JobState::Completed, Some(DAY)),
                (JobState::Cancelled, Some(DAY)),
                (JobState::Failed, Some(DAY * 7)),
            ],
            interval: Duration::from_secs(60),
            batch: 1000,
        }
    }
}

impl Retention {
    /// Keeps every finished job: the worker runs no retention.
    pub fn off() -> Self {
        Self::default()
            .keep(JobState::Completed, None)
            .keep(JobState::Cancelled, None)
            .keep(JobState::Failed, None)
    }

    /// Keeps jobs that ended in `state` (a terminal state) for `age` after they
    /// finished; `None` keeps them forever. A state that is not terminal is ignored:
    /// retention never touches pending or running jobs.
    pub fn keep(mut self, state: JobState, age: Option<Duration>) -> Self {
        for (kept, kept_age) in &mut self.keep {
            if *kept == state {
                *kept_age = age;
            }
        }
        self
    }

    /// How often a worker runs retention (default every minute). A worker runs it first
    /// one second after it starts, or after one interval if that is shorter.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How many jobs one delete statement removes at most (default 1,000), so a large
    /// backlog is deleted in short transactions.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// Whether any finished job is ever deleted.
    pub fn is_on(&self) -> bool {
        self.keep.iter().any(|(_, age)| age.is_some())
    }

    /// How often a worker runs it.
    pub fn every(&self) -> Duration {
        self.interval
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.is_on() && (self.interval.is_zero() || self.batch == 0) {
            return Err(Error::Config(
                "retention needs an interval longer than zero and a batch of at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Deletes, as `holder`, the finished jobs older than their state's age as of
    /// `queue`'s clock, if no other holder runs retention now; returns how many it
    /// deleted (0 when another holder has the lock). The lock is held for
    /// `lock_for` and renewed before each batch, so a holder that dies mid-run frees
    /// it by then.
    ///
    /// Workers call this on their interval; an application that runs no worker (or
    /// turned retention off in its workers) may call it from its own schedule.
    ///
    /// # Errors
    ///
    /// The store's error; what was deleted before it stays deleted.
    pub async fn run_once(
        &self,
        queue: &Queue,
        holder: &str,
        lock_for: Duration,
    ) -> Result<u64, Error> {
        let (store, clock) = (&**queue.store(), &**queue.clock());
        Ok(self.delete_old(store, clock, holder, lock_for).await?)
    }

    pub(crate) async fn delete_old(
        &self,
        store: &dyn JobStore,
        clock: &dyn Clock,
        holder: &str,
        lock_for: Duration,
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for (state, age) in self.keep {
            let Some(age) = age else { continue };
            loop {
                let now = clock.now();
                let until = super::later(now, lock_for);
                if !store.take_lock(RETENTION_LOCK, holder, until, now).await? {
                    return Ok(deleted);
                }
                let Some(before) = time::Duration::try_from(age)
                    .ok()
                    .and_then(|age| now.checked_sub(age))
                else {
                    break;
                };
                let old = JobFilter::all()
                    .state(state)
                    .finished_before(truncate_to_micros(before))
                    .limit(self.batch);
                let n = store.delete_jobs(&old, now).await?;
                deleted += n;
                if n < self.batch as u64 {
                    break;
                }
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, holder, "retention deleted old finished jobs");
        }
        Ok(deleted)
    }
}
