//! [`SetQueuePaused`]: an operator's pause or resume of a queue.

use leasehold::StoreError;
use leasehold::time::OffsetDateTime;
use leasehold_sql::row::micros;
use sqlx::SqliteConnection;

use crate::sql;
use crate::transition::Transition;
use crate::transition::statement::rows_changed;

/// `pause_queue` (`paused`) or `resume_queue`: sets the queue's stored pause, if the
/// queue is known.
#[derive(Debug)]
pub(crate) struct SetQueuePaused {
    pub(crate) queue: String,
    pub(crate) paused: bool,
    pub(crate) now: OffsetDateTime,
}

impl Transition for SetQueuePaused {
    type Answer = ();

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        let statement = sqlx::query(sql::SET_QUEUE_PAUSED)
            .bind(self.queue.as_str())
            .bind(i64::from(self.paused))
            .bind(micros(self.now));
        if rows_changed(conn, statement).await? == 0 {
            return Err(StoreError::QueueNotFound(self.queue.clone()));
        }
        Ok(())
    }
}
