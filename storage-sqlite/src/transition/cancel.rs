//! [`Cancel`]: ending a pending or running job cancelled; a finished job stays as it
//! is.

use leasehold::time::OffsetDateTime;
use leasehold::{JobId, JobRecord, StoreError};
use leasehold_sql::row::{job_record, micros};
use sqlx::SqliteConnection;

use crate::error::store_error;
use crate::row::{Row, id_blob};
use crate::sql;
use crate::transition::Transition;

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
        let cancelled = sqlx::query(sql::CANCEL)
            .bind(id_blob(self.id))
            .bind(micros(self.now))
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?;
        let row = match cancelled {
            Some(row) => row,
            // Not cancelled: finished already (answered as it is), or unknown.
            None => sqlx::query(sql::GET)
                .bind(id_blob(self.id))
                .fetch_optional(&mut *conn)
                .await
                .map_err(store_error)?
                .ok_or(StoreError::NotFound(self.id))?,
        };
        job_record(&Row(&row), self.now)
    }
}
