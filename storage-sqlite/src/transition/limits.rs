//! [`SetLimit`] and [`RemoveLimit`]: an operator's flow-control limits.

use leasehold::time::OffsetDateTime;
use leasehold::{Limit, LimitScope, StoreError};
use leasehold_sql::row::micros;
use sqlx::SqliteConnection;

use crate::sql;
use crate::transition::Transition;
use crate::transition::statement::rows_changed;
use leasehold_sql::limit::LimitColumns;

/// `set_limit`: stores `limit` for `scope`, replacing the one it had (its counted
/// starts stay); a queue must be known.
#[derive(Debug)]
pub(crate) struct SetLimit {
    pub(crate) scope: LimitScope,
    pub(crate) limit: Limit,
    pub(crate) now: OffsetDateTime,
}

impl Transition for SetLimit {
    type Answer = ();

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        let columns = LimitColumns::from(self.limit);
        let statement = sqlx::query(sql::SET_LIMIT)
            .bind(self.scope.kind())
            .bind(self.scope.name())
            .bind(columns.max_running)
            .bind(columns.rate_starts)
            .bind(columns.rate_per)
            .bind(micros(self.now));
        if rows_changed(conn, statement).await? == 0 {
            return Err(StoreError::QueueNotFound(self.scope.name().to_owned()));
        }
        Ok(())
    }
}

/// `remove_limit`: deletes the limit of `scope` and the starts it counted.
#[derive(Debug)]
pub(crate) struct RemoveLimit {
    pub(crate) scope: LimitScope,
}

impl Transition for RemoveLimit {
    type Answer = ();

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        let on_scope = |statement| {
            sqlx::query(statement)
                .bind(self.scope.kind())
                .bind(self.scope.name())
        };
        // Nothing is written when there is no limit, so no savepoint is needed.
        if rows_changed(conn, on_scope(sql::DELETE_LIMIT)).await? == 0 {
            return Err(StoreError::LimitNotFound(self.scope.clone()));
        }
        rows_changed(conn, on_scope(sql::DELETE_LIMIT_STARTS)).await?;
        Ok(())
    }
}
