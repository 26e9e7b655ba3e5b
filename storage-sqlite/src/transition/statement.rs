//! How a transition runs one statement on the writer's connection: [`rows_changed`] and
//! [`fetch_optional`] for any statement, [`on_job`] and [`stored_job`] for the verbs
//! on one job by id.
//!
//! Like the store's read helpers on the reader pool, they answer sqlx's errors as
//! [`StoreError`]s; they run inside the writer's transaction.

use leasehold::time::OffsetDateTime;
use leasehold::{JobId, JobRecord, StoreError};
use leasehold_sql::row::job_record;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::store_error;
use crate::row::{Row, Statement, id_blob};
use crate::sql;

/// Runs `statement`: how many rows it changed.
pub(super) async fn rows_changed(
    conn: &mut SqliteConnection,
    statement: Statement<'_>,
) -> Result<u64, StoreError> {
    let done = statement.execute(&mut *conn).await.map_err(store_error)?;
    Ok(done.rows_affected())
}

/// Runs `statement`: the row it returned, if any.
pub(super) async fn fetch_optional(
    conn: &mut SqliteConnection,
    statement: Statement<'_>,
) -> Result<Option<SqliteRow>, StoreError> {
    statement
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)
}

/// A statement on job `id`, bound as `?1`.
pub(super) fn on_job(statement: &'static str, id: JobId) -> Statement<'static> {
    sqlx::query(statement).bind(id_blob(id))
}

/// Job `id` as stored, with its state as of `now`: what a verb that matched no row
/// answers or explains itself with. `NotFound` when there is no such job.
pub(super) async fn stored_job(
    conn: &mut SqliteConnection,
    id: JobId,
    now: OffsetDateTime,
) -> Result<JobRecord, StoreError> {
    let row = fetch_optional(conn, on_job(sql::GET, id))
        .await?
        .ok_or(StoreError::NotFound(id))?;
    job_record(&Row(&row), now)
}
