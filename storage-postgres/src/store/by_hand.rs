//! The operator's verbs on a [`PostgresStore`]: a queue's pause, a verb by hand on one
//! job (locked, checked, changed, in one transaction), a verb on the jobs a filter
//! selects (one statement), and what they answer.

use leasehold::time::OffsetDateTime;
use leasehold::{JobFilter, JobId, JobRecord, JobState, JobUpdate, QueueStats, StoreError};
use leasehold_sql::filter::list_params;
use leasehold_sql::limit::limit_of;
use leasehold_sql::row::{job_record, micros, time_of};
use sqlx::Connection;
use sqlx::postgres::PgRow;

use super::PostgresStore;
use crate::error::{is_held_unique_key, store_error, violation_detail};
use crate::row::{Row, Statement, bind};
use crate::sql::query;

/// A verb on the jobs a filter selects.
#[derive(Debug, Clone, Copy)]
pub(super) enum Bulk<'a> {
    /// `retry_jobs`: as `retry_job`, on the jobs that are not running.
    Retry,
    /// `update_jobs`: as `update_job`, on the pending jobs.
    Update(&'a JobUpdate),
    /// `cancel_jobs`: as `cancel`, on the pending and running jobs.
    Cancel,
    /// `delete_jobs`: as `delete_job`, on the jobs that are not running.
    Delete,
}

/// A verb by hand on one job: its name, what it is refused as (`WrongState`), the
/// states it acts on, and, for a verb that spares a job a waiting job depends on, the
/// message of its `Conflict` (given the job and the waiting one).
pub(super) struct ByHand {
    verb: &'static str,
    action: &'static str,
    acts_on: fn(JobState) -> bool,
    spares: Option<fn(JobId, JobId) -> String>,
}

/// `retry_job`: on any job but a running or a waiting one, and none a waiting job
/// counts as ended.
pub(super) const RETRY_JOB: ByHand = ByHand {
    verb: "retry_job",
    action: "retry",
    acts_on: |state| !matches!(state, JobState::Running | JobState::Waiting),
    spares: Some(|id, dependent| {
        format!("job {id} cannot run again: job {dependent} counts it as ended and waits on")
    }),
};

/// `delete_job`: on any job but a running one, and none a waiting job waits for.
pub(super) const DELETE_JOB: ByHand = ByHand {
    verb: "delete_job",
    action: "delete",
    acts_on: |state| state != JobState::Running,
    spares: Some(|id, dependent| {
        format!("job {id} cannot be deleted: job {dependent} waits for it (cancel it instead)")
    }),
};

/// `update_job`: on a pending job.
pub(super) const UPDATE_JOB: ByHand = ByHand {
    verb: "update_job",
    action: "update",
    acts_on: |state| matches!(state, JobState::Scheduled | JobState::Available),
    spares: None,
};

/// A count of rows as the trait answers it.
pub(super) fn count_of(count: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(count).map_err(|_| StoreError::backend(format!("negative {what} {count}")))
}

/// One queue of a `queue_stats.sql` row, its limit included.
pub(super) fn queue_stats_of(row: &PgRow) -> Result<QueueStats, StoreError> {
    let get = |column: &str| -> Result<i64, StoreError> {
        sqlx::Row::try_get(row, column).map_err(store_error)
    };
    let name: String = sqlx::Row::try_get(row, "queue").map_err(store_error)?;
    let mut stats = QueueStats::new(name);
    stats.paused = sqlx::Row::try_get(row, "paused").map_err(store_error)?;
    for state in JobState::ALL {
        stats.add(state, count_of(get(state.as_str())?, "job count")?);
    }
    let oldest: Option<i64> =
        sqlx::Row::try_get(row, "oldest_pending_run_at").map_err(store_error)?;
    stats.oldest_pending_run_at = oldest
        .map(|t| time_of(t, "oldest_pending_run_at"))
        .transpose()?;
    stats.limit = limit_of(&Row(row), "", &format_args!("queue {:?}", stats.queue))?;
    Ok(stats)
}

impl PostgresStore {
    /// Stores whether a known queue is paused; `QueueNotFound` for an unknown one.
    pub(super) async fn set_paused(
        &self,
        verb: &str,
        queue: &str,
        paused: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let statement = query(&self.inner.sql.set_queue_paused)
            .bind(queue)
            .bind(paused)
            .bind(micros(now));
        match self.execute(verb, statement).await? {
            0 => Err(StoreError::QueueNotFound(queue.to_owned())),
            _ => Ok(()),
        }
    }

    /// A verb by hand on job `id`, in one transaction: locks the job's row, refuses it
    /// unless the verb acts on its state as of `now` (and, when the verb spares a job a
    /// waiting job depends on, unless none does), then runs `change` (a statement of
    /// one row). Answers the job as it was and the row of `change`.
    ///
    /// # Errors
    ///
    /// `NotFound` for an unknown job, `WrongState` for a refused one; `Conflict` for a
    /// spared one, or when `change` would give a unique key a second pending or running
    /// job. Nothing is changed then.
    pub(super) async fn by_hand(
        &self,
        by_hand: &ByHand,
        id: JobId,
        now: OffsetDateTime,
        change: Statement<'_>,
    ) -> Result<(JobRecord, PgRow), StoreError> {
        let ByHand {
            verb,
            action,
            acts_on,
            spares,
        } = *by_hand;
        let sql = &*self.inner.sql;
        self.calls()
            .run(verb, async |conn| {
                let mut tx = conn.begin().await.map_err(store_error)?;
                let changed = async {
                    let locked = query(&sql.lock_job)
                        .bind(id.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_error)?
                        .ok_or(StoreError::NotFound(id))?;
                    let before = job_record(&Row(&locked), now)?;
                    if !acts_on(before.state) {
                        return Err(StoreError::WrongState {
                            job: id,
                            state: before.state,
                            action,
                        });
                    }
                    if let Some(refusal) = spares {
                        let waiting = query(&sql.waiting_dependent)
                            .bind(id.as_uuid())
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(store_error)?;
                        if let Some(row) = waiting {
                            let dependent: uuid::Uuid =
                                sqlx::Row::try_get(&row, "id").map_err(store_error)?;
                            return Err(StoreError::Conflict(refusal(
                                id,
                                JobId::from_uuid(dependent),
                            )));
                        }
                    }
                    let after = change.fetch_one(&mut *tx).await.map_err(|e| {
                        if is_held_unique_key(&e) {
                            StoreError::Conflict(format!(
                                "cannot {action} job {id}: its unique key {:?} is held by \
                                 another pending or running job",
                                before.unique_key.as_deref().unwrap_or_default()
                            ))
                        } else {
                            store_error(e)
                        }
                    })?;
                    Ok((before, after))
                }
                .await;
                // Ended here, either way: the row lock goes before the call answers.
                match changed {
                    Ok(changed) => tx.commit().await.map_err(store_error).map(|()| changed),
                    Err(error) => {
                        tx.rollback().await.map_err(store_error)?;
                        Err(error)
                    }
                }
            })
            .await
    }

    /// Runs `bulk` on the jobs `filter` selects as of `now`: how many it changed.
    ///
    /// # Errors
    ///
    /// `Conflict` when the statement would give a unique key a second pending or
    /// running job (a retry); nothing is changed then.
    pub(super) async fn by_filter(
        &self,
        bulk: Bulk<'_>,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let sql = &self.inner.sql;
        // The statement, and the stored states it acts on (`$9` of
        // parts/selected_jobs.sql).
        const RETRIED: &[&str] = &["pending", "completed", "failed", "cancelled"];
        const NOT_RUNNING: &[&str] = &["waiting", "pending", "completed", "failed", "cancelled"];
        const ACTIVE: &[&str] = &["waiting", "pending", "running"];
        let (verb, statement, states): (_, _, &[&str]) = match bulk {
            Bulk::Retry => ("retry_jobs", &sql.retry_jobs, RETRIED),
            Bulk::Update(_) => ("update_jobs", &sql.update_jobs, &["pending"]),
            Bulk::Cancel => ("cancel_jobs", &sql.cancel_jobs, ACTIVE),
            // Retention's deletes walk the index of finished jobs (no `$9`).
            Bulk::Delete if filter.finished_before.is_some() => {
                ("delete_jobs", &sql.delete_finished, &[])
            }
            Bulk::Delete => ("delete_jobs", &sql.delete_jobs, NOT_RUNNING),
        };
        let mut statement = bind(query(statement), list_params(filter, now));
        if !states.is_empty() {
            statement = statement.bind(states.to_vec());
        }
        if let Bulk::Update(update) = bulk {
            statement = statement
                .bind(update.run_at.map(micros))
                .bind(update.priority)
                .bind(update.queue.clone());
        }
        self.calls()
            .run(verb, async |conn| {
                let done = statement.execute(&mut *conn).await.map_err(|e| {
                    if is_held_unique_key(&e) {
                        StoreError::Conflict(format!(
                            "{verb} would give a unique key a second pending or running job \
                             ({}); nothing was changed",
                            violation_detail(&e, "a held unique key")
                        ))
                    } else {
                        store_error(e)
                    }
                })?;
                Ok(done.rows_affected())
            })
            .await
    }
}
