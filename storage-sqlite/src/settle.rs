//! [`settle`]: the dependents of the jobs that ended in a group commit, settled before
//! it commits.
//!
//! Every job that ends with dependents (from waiting, pending or running, by any verb:
//! a completion, a failure, a claim's expiry, a bulk cancel) is queued in
//! `dependency_settle` by the trigger `jobs_ended_with_dependents` (migration 0009; since
//! 0013 it fires on an UPDATE that sets `finished_at`, as every end does), in
//! the same transaction. The writer commits through settle_guard.sql, which fails while
//! the queue holds a job, so [`settle`] runs first: it ends the waiting dependents that
//! a failed or cancelled job's end ends by their policy (which queues those with
//! dependents in turn) and counts the job off the others, until the queue is empty;
//! the completed jobs queued are counted off together, in one statement.
//! Everything a verb ends in one statement is ended before any dependent is settled, so
//! a job a bulk cancel selects is cancelled by the call, whatever the order of its rows.

use leasehold::DEPENDENCY_FAILED;
use sqlx::{Row, SqliteConnection};

use crate::sql;

/// Settles the dependents of every job queued in `dependency_settle`, and of those
/// their ends queue, in the transaction open on `conn`.
pub(crate) async fn settle(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    loop {
        let queued = sqlx::query(sql::SETTLE_PENDING)
            .fetch_all(&mut *conn)
            .await?;
        if queued.is_empty() {
            return Ok(());
        }
        // Completed jobs, a group commit's completions (a batch's members, say), are
        // counted off in one statement; a completion ends no dependent, so it queues
        // nothing more. Each job that failed or was cancelled ends its dependents by
        // their policy (which may queue theirs) and is counted off the others.
        sqlx::query(sql::COUNT_OFF_COMPLETED)
            .execute(&mut *conn)
            .await?;
        sqlx::query(sql::SETTLED_COMPLETED)
            .execute(&mut *conn)
            .await?;
        for row in &queued {
            let id: Vec<u8> = row.try_get("job_id")?;
            let state: String = row.try_get("state")?;
            let at: i64 = row.try_get("at")?;
            if state == "completed" {
                continue;
            }
            sqlx::query(sql::END_DEPENDENTS)
                .bind(&id)
                .bind(at)
                .bind(DEPENDENCY_FAILED)
                .execute(&mut *conn)
                .await?;
            sqlx::query(sql::COUNT_OFF_DEPENDENTS)
                .bind(&id)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            sqlx::query(sql::SETTLED)
                .bind(&id)
                .execute(&mut *conn)
                .await?;
        }
    }
}
