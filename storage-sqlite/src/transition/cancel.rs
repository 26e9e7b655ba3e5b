//! [`Cancel`]: ending a pending or running job cancelled; a finished job stays as it
//! is.

use leasehold::time::OffsetDateTime;
use leasehold::{JobId, JobRecord, StoreError};
use leasehold_sql::row::{job_record, micros};
use sqlx::SqliteConnection;

use crate::row::Row;
use crate::sql;
use crate::transition::Transition;
use crate::transition::statement::{fetch_optional, on_job, stored_job};

/// `cancel`: ends job `id` cancelled at `now`, if it is pending or running.
#[derive(Debug)]
pub(crate) struct Cancel {
    pub(crate) id: JobId,
    pub(crate) now: OffsetDateTime,
}

impl Transition for Cancel {
    /// The job as stored after the call.
    type Answer = JobRecord;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<JobRecord, StoreError> {
        let statement = on_job(sql::CANCEL, self.id).bind(micros(self.now));
        match fetch_optional(conn, statement).await? {
            Some(cancelled) => job_record(&Row(&cancelled), self.now),
            // Not cancelled: finished already (answered as it is), or unknown.
            None => stored_job(conn, self.id, self.now).await,
        }
    }
}
