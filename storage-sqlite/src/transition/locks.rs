//! [`TakeLock`]: taking or renewing a named lock.

use leasehold::StoreError;
use leasehold::time::OffsetDateTime;
use leasehold_sql::row::micros;
use sqlx::SqliteConnection;

use crate::sql;
use crate::transition::Transition;
use crate::transition::statement::rows_changed;

/// `take_lock`: takes lock `name` for `holder` until `until`, if it is free at `now`
/// or `holder` holds it. One upsert inside the writer's `BEGIN IMMEDIATE`
/// transaction, so two processes never both take it.
#[derive(Debug)]
pub(crate) struct TakeLock {
    pub(crate) name: String,
    pub(crate) holder: String,
    pub(crate) until: OffsetDateTime,
    pub(crate) now: OffsetDateTime,
}

impl Transition for TakeLock {
    /// Whether `holder` holds the lock after the call.
    type Answer = bool;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<bool, StoreError> {
        let statement = sqlx::query(sql::TAKE_LOCK)
            .bind(self.name.as_str())
            .bind(self.holder.as_str())
            .bind(micros(self.until))
            .bind(micros(self.now));
        Ok(rows_changed(conn, statement).await? > 0)
    }
}
