//! [`Enqueue`]: inserting jobs, one statement for every job without a unique key and
//! one upsert per job with one (a held key answers the job that holds it); the SQL is
//! [`crate::enqueue`]'s.

use leasehold::time::OffsetDateTime;
use leasehold::{Enqueued, NewJob, StoreError};
use leasehold_sql::enqueue::is_plain;
use sqlx::SqliteConnection;

use crate::enqueue::enqueue;
use crate::transition::Transition;

/// `enqueue` and `enqueue_many`: stores `jobs` enqueued at `now`.
#[derive(Debug)]
pub(crate) struct Enqueue {
    pub(crate) jobs: Vec<NewJob>,
    pub(crate) now: OffsetDateTime,
}

impl Enqueue {
    /// Whether the writer may insert its jobs in one statement with those of other
    /// calls: it has some, and none has a unique key or dependencies.
    pub(crate) fn is_keyless(&self) -> bool {
        !self.jobs.is_empty() && self.jobs.iter().all(is_plain)
    }

    /// Each job with the call's `now`, as a multi-row insert binds them
    /// ([`crate::enqueue::bind_rows`]).
    pub(crate) fn rows(&self) -> impl Iterator<Item = (&NewJob, OffsetDateTime)> {
        self.jobs.iter().map(|job| (job, self.now))
    }
}

impl Transition for Enqueue {
    /// Each job's answer, in order.
    type Answer = Vec<Enqueued>;

    fn weight(&self) -> usize {
        self.jobs.len()
    }

    fn needs_savepoint(&self) -> bool {
        // A later job may conflict after earlier ones were written, or a dependency be
        // refused after its dependent was.
        self.jobs.len() > 1 || self.jobs.iter().any(|job| !job.depends_on.is_empty())
    }

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Vec<Enqueued>, StoreError> {
        enqueue(conn, &self.jobs, self.now).await
    }
}
