//! [`Prune`]: deleting old finished jobs, one bounded batch per transaction.

use leasehold::StoreError;
use leasehold::time::OffsetDateTime;
use leasehold_sql::filter::sql_limit;
use leasehold_sql::row::micros;
use sqlx::SqliteConnection;

use crate::sql;
use crate::transition::Transition;
use crate::transition::statement::rows_changed;

/// One batch of `prune`: deletes up to `limit` terminal jobs finished before
/// `before`, oldest first.
#[derive(Debug)]
pub(crate) struct Prune {
    pub(crate) before: OffsetDateTime,
    pub(crate) limit: usize,
}

impl Transition for Prune {
    /// How many jobs it deleted.
    type Answer = u64;

    fn weight(&self) -> usize {
        self.limit
    }

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<u64, StoreError> {
        let statement = sqlx::query(sql::PRUNE)
            .bind(micros(self.before))
            .bind(sql_limit(self.limit));
        rows_changed(conn, statement).await
    }
}
