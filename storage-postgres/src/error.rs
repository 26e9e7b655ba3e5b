//! From sqlx errors to [`StoreError`]: serialization failures, deadlocks, lock and
//! statement timeouts, too many connections and pool timeouts are `Busy` (nothing was
//! changed, the call can be repeated); anything else is `Backend` with the sqlx error
//! as its source. A duplicate job id is turned into `Conflict` where it can happen.

use leasehold::StoreError;

/// `serialization_failure`.
const SERIALIZATION_FAILURE: &str = "40001";
/// `deadlock_detected`.
const DEADLOCK_DETECTED: &str = "40P01";
/// `lock_not_available` (a `lock_timeout` or `NOWAIT`).
const LOCK_NOT_AVAILABLE: &str = "55P03";
/// `query_canceled` (a `statement_timeout`).
const QUERY_CANCELED: &str = "57014";
/// `too_many_connections`.
const TOO_MANY_CONNECTIONS: &str = "53300";
/// `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";

/// The primary key of the jobs table, named by PostgreSQL's default.
const JOBS_PRIMARY_KEY: &str = "jobs_pkey";

/// The SQLSTATE of a database error.
fn sqlstate(error: &sqlx::Error) -> Option<String> {
    Some(error.as_database_error()?.code()?.into_owned())
}

/// Whether `error` is a second job with an existing id.
pub(crate) fn is_duplicate_job_id(error: &sqlx::Error) -> bool {
    sqlstate(error).as_deref() == Some(UNIQUE_VIOLATION)
        && error
            .as_database_error()
            .and_then(|e| e.constraint())
            .is_some_and(|c| c == JOBS_PRIMARY_KEY)
}

/// Whether repeating the call may succeed: the database gave up waiting or aborted a
/// transaction to resolve a conflict with another.
pub(crate) fn is_busy(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::PoolTimedOut)
        || matches!(
            sqlstate(error).as_deref(),
            Some(
                SERIALIZATION_FAILURE
                    | DEADLOCK_DETECTED
                    | LOCK_NOT_AVAILABLE
                    | QUERY_CANCELED
                    | TOO_MANY_CONNECTIONS
            )
        )
}

/// The [`StoreError`] for a sqlx error.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    if is_busy(&error) {
        StoreError::Busy(Box::new(error))
    } else {
        StoreError::Backend(Box::new(error))
    }
}

/// A `Backend` error carrying only a message (a broken invariant of the stored data).
pub(crate) fn corrupt_row(message: String) -> StoreError {
    StoreError::backend(message)
}
