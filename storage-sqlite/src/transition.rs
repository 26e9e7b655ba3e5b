//! [`Transition`]: one write call of the store, run by the writer inside a transaction.
//!
//! Each transition is one atomic change: a failure leaves nothing of it behind while
//! the other calls of the same group commit go through (see
//! [`Transition::needs_savepoint`] and the writer).

use std::collections::HashSet;

use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;
use leasehold::{Enqueued, HeartbeatStatus, JobId, JobRecord, JobState, Lease, NewJob, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::enqueue::enqueue;
use crate::error::store_error;
use crate::row::{counter, id_blob, job_id, job_record, micros, schedule_record, state_of};
use crate::sql;

/// A write call, with everything it needs.
#[derive(Debug)]
pub(crate) enum Transition {
    Enqueue {
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    },
    Claim {
        queues: Vec<String>,
        limit: usize,
        worker: String,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    },
    Heartbeat {
        leases: Vec<Lease>,
        lease_until: OffsetDateTime,
    },
    Complete {
        lease: Lease,
        now: OffsetDateTime,
    },
    Retry {
        lease: Lease,
        run_at: OffsetDateTime,
        error: String,
        now: OffsetDateTime,
    },
    Fail {
        lease: Lease,
        error: String,
        now: OffsetDateTime,
    },
    Release {
        lease: Lease,
        run_at: OffsetDateTime,
        now: OffsetDateTime,
    },
    Cancel {
        id: JobId,
        now: OffsetDateTime,
    },
    Prune {
        before: OffsetDateTime,
        limit: usize,
    },
    UpsertSchedule {
        schedule: Box<NewSchedule>,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    },
    FireSchedule {
        name: String,
        slot: OffsetDateTime,
        next: Option<OffsetDateTime>,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    },
    PauseSchedule {
        name: String,
        now: OffsetDateTime,
    },
    ResumeSchedule {
        name: String,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    },
    RemoveSchedule {
        name: String,
    },
}

/// What a transition answers.
#[derive(Debug)]
pub(crate) enum Outcome {
    Enqueued(Vec<Enqueued>),
    Claimed(Vec<JobRecord>),
    Heartbeats(Vec<HeartbeatStatus>),
    Done,
    State(JobState),
    Job(Box<JobRecord>),
    Pruned(u64),
    Schedule(Box<ScheduleRecord>),
    Removed(bool),
}

impl Transition {
    /// Whether a heartbeat: heartbeats go first in every group commit, so a big batch
    /// of other work never lets a lease expire.
    pub(crate) fn is_heartbeat(&self) -> bool {
        matches!(self, Transition::Heartbeat { .. })
    }

    /// Roughly how many rows it writes, to bound a group commit.
    pub(crate) fn weight(&self) -> usize {
        match self {
            Transition::Enqueue { jobs, .. } | Transition::FireSchedule { jobs, .. } => jobs.len(),
            Transition::Claim { limit, .. } | Transition::Prune { limit, .. } => *limit,
            Transition::Heartbeat { leases, .. } => leases.len(),
            _ => 1,
        }
        .max(1)
    }

    /// Whether it needs a savepoint to stay all or none: only a call that can answer
    /// a contract error (a conflict) after it wrote something does. A backend error
    /// rolls the whole group back anyway; a claim's promotion of due jobs and failing
    /// of expired leases are transitions of their own, right whatever follows.
    pub(crate) fn needs_savepoint(&self) -> bool {
        // A fire moves the schedule's slot, then inserts jobs that may conflict.
        matches!(self, Transition::Enqueue { jobs, .. } if jobs.len() > 1)
            || matches!(self, Transition::FireSchedule { .. })
    }

    /// Runs the transition on `conn`, inside the writer's transaction.
    pub(crate) async fn apply(&self, conn: &mut SqliteConnection) -> Result<Outcome, StoreError> {
        match self {
            Transition::Enqueue { jobs, now } => enqueue(conn, jobs, *now).await,
            Transition::Claim {
                queues,
                limit,
                worker,
                now,
                lease_until,
            } => claim(conn, queues, *limit, worker, *now, *lease_until).await,
            Transition::Heartbeat {
                leases,
                lease_until,
            } => heartbeat(conn, leases, *lease_until).await,
            Transition::Complete { lease, now } => {
                let written = fenced(sql::COMPLETE, lease)
                    .bind(micros(*now))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                check_fenced(conn, *lease, written).await?;
                Ok(Outcome::Done)
            }
            Transition::Retry {
                lease,
                run_at,
                error,
                now,
            } => {
                let row = fenced(sql::RETRY, lease)
                    .bind(micros(*run_at))
                    .bind(error.as_str())
                    .bind(micros(*now))
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)?;
                let Some(row) = row else {
                    return Err(lease_lost_or_not_found(conn, *lease).await);
                };
                let stored: String = row.try_get("state").map_err(store_error)?;
                let run_at: i64 = row.try_get("run_at").map_err(store_error)?;
                Ok(Outcome::State(state_of(&stored, run_at, micros(*now))?))
            }
            Transition::Fail { lease, error, now } => {
                let written = fenced(sql::FAIL, lease)
                    .bind(error.as_str())
                    .bind(micros(*now))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                check_fenced(conn, *lease, written).await?;
                Ok(Outcome::Done)
            }
            Transition::Release { lease, run_at, now } => {
                let written = fenced(sql::RELEASE, lease)
                    .bind(micros(*run_at))
                    .bind(micros(*now))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                check_fenced(conn, *lease, written).await?;
                Ok(Outcome::Done)
            }
            Transition::Cancel { id, now } => cancel(conn, *id, *now).await,
            Transition::UpsertSchedule {
                schedule,
                next_fire_at,
                now,
            } => upsert_schedule(conn, schedule, *next_fire_at, *now).await,
            Transition::FireSchedule {
                name,
                slot,
                next,
                jobs,
                now,
            } => fire_schedule(conn, name, *slot, *next, jobs, *now).await,
            Transition::PauseSchedule { name, now } => {
                sqlx::query(sql::PAUSE_SCHEDULE)
                    .bind(name.as_str())
                    .bind(micros(*now))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                stored_schedule(conn, name).await
            }
            Transition::ResumeSchedule {
                name,
                next_fire_at,
                now,
            } => {
                sqlx::query(sql::RESUME_SCHEDULE)
                    .bind(name.as_str())
                    .bind(next_fire_at.map(micros))
                    .bind(micros(*now))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                stored_schedule(conn, name).await
            }
            Transition::RemoveSchedule { name } => {
                let removed = sqlx::query(sql::REMOVE_SCHEDULE)
                    .bind(name.as_str())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                Ok(Outcome::Removed(removed > 0))
            }
            Transition::Prune { before, limit } => {
                let deleted = sqlx::query(sql::PRUNE)
                    .bind(micros(*before))
                    .bind(sql_limit(*limit))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                Ok(Outcome::Pruned(deleted))
            }
        }
    }
}

/// A `LIMIT` value: SQLite takes an i64, and any count beyond it means "no limit".
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A fenced statement with the lease bound as `?1` (job id) and `?2` (token).
fn fenced<'q>(
    statement: &'static str,
    lease: &Lease,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    sqlx::query(statement)
        .bind(id_blob(lease.job_id))
        .bind(i64::from(lease.token))
}

/// `Ok` when a fenced statement wrote its row, else why it did not.
async fn check_fenced(
    conn: &mut SqliteConnection,
    lease: Lease,
    written: u64,
) -> Result<(), StoreError> {
    if written > 0 {
        Ok(())
    } else {
        Err(lease_lost_or_not_found(conn, lease).await)
    }
}

/// Why a fenced write matched no row: the job is unknown, or the lease is not its
/// live one.
async fn lease_lost_or_not_found(conn: &mut SqliteConnection, lease: Lease) -> StoreError {
    match lease_state(conn, lease.job_id).await {
        Ok(Some(_)) => StoreError::LeaseLost(lease),
        Ok(None) => StoreError::NotFound(lease.job_id),
        Err(error) => error,
    }
}

/// The stored state and lease token of job `id`.
async fn lease_state(
    conn: &mut SqliteConnection,
    id: JobId,
) -> Result<Option<(String, u32)>, StoreError> {
    let row = sqlx::query(sql::LEASE_STATE)
        .bind(id_blob(id))
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
    row.map(|row| {
        let state: String = row.try_get("state").map_err(store_error)?;
        let token = counter(
            row.try_get("lease_token").map_err(store_error)?,
            "lease_token",
        )?;
        Ok((state, token))
    })
    .transpose()
}

async fn claim(
    conn: &mut SqliteConnection,
    queues: &[String],
    limit: usize,
    worker: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Outcome, StoreError> {
    let queues_json = serde_json::to_string(queues).map_err(StoreError::backend)?;
    for statement in [sql::PROMOTE_DUE, sql::FAIL_EXPIRED_LEASES] {
        sqlx::query(statement)
            .bind(queues_json.as_str())
            .bind(micros(now))
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
    }
    if limit == 0 {
        return Ok(Outcome::Claimed(Vec::new()));
    }
    let (statement, queue_param) = match queues {
        [queue] => (sql::CLAIM_QUEUE, queue.as_str()),
        _ => (sql::CLAIM_QUEUES, queues_json.as_str()),
    };
    let rows: Vec<SqliteRow> = sqlx::query(statement)
        .bind(queue_param)
        .bind(micros(now))
        .bind(sql_limit(limit))
        .bind(micros(lease_until))
        .bind(worker)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    let mut jobs = rows
        .iter()
        .map(|row| job_record(row, now))
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING comes in no particular order.
    jobs.sort_by_key(|job| (job.priority, job.run_at, job.id));
    Ok(Outcome::Claimed(jobs))
}

async fn heartbeat(
    conn: &mut SqliteConnection,
    leases: &[Lease],
    lease_until: OffsetDateTime,
) -> Result<Outcome, StoreError> {
    let extended: HashSet<Lease> = if let [lease] = leases {
        let written = fenced(sql::HEARTBEAT, lease)
            .bind(micros(lease_until))
            .execute(&mut *conn)
            .await
            .map_err(store_error)?
            .rows_affected();
        if written > 0 {
            HashSet::from([*lease])
        } else {
            HashSet::new()
        }
    } else {
        heartbeat_bulk(conn, leases, lease_until).await?
    };
    let mut answers = Vec::with_capacity(leases.len());
    for lease in leases {
        let answer = if extended.contains(lease) {
            HeartbeatStatus::Extended
        } else {
            match lease_state(conn, lease.job_id).await? {
                Some((state, token)) if state == "cancelled" && token == lease.token => {
                    HeartbeatStatus::Cancelled
                }
                _ => HeartbeatStatus::Lost,
            }
        };
        answers.push(answer);
    }
    Ok(Outcome::Heartbeats(answers))
}

/// Extends, in one statement, every live lease of `leases`; returns those it extended.
async fn heartbeat_bulk(
    conn: &mut SqliteConnection,
    leases: &[Lease],
    lease_until: OffsetDateTime,
) -> Result<HashSet<Lease>, StoreError> {
    let rows: Vec<_> = leases
        .iter()
        .map(|lease| (lease.job_id.as_uuid().simple().to_string(), lease.token))
        .collect();
    let rows = serde_json::to_string(&rows).map_err(StoreError::backend)?;
    let extended = sqlx::query(sql::HEARTBEAT_BULK)
        .bind(rows)
        .bind(micros(lease_until))
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    extended
        .iter()
        .map(|row| {
            let token = counter(
                row.try_get("lease_token").map_err(store_error)?,
                "lease_token",
            )?;
            Ok(Lease {
                job_id: job_id(row)?,
                token,
            })
        })
        .collect()
}

async fn cancel(
    conn: &mut SqliteConnection,
    id: JobId,
    now: OffsetDateTime,
) -> Result<Outcome, StoreError> {
    let cancelled = sqlx::query(sql::CANCEL)
        .bind(id_blob(id))
        .bind(micros(now))
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
    let row = match cancelled {
        Some(row) => row,
        None => sqlx::query(sql::GET)
            .bind(id_blob(id))
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?
            .ok_or(StoreError::NotFound(id))?,
    };
    Ok(Outcome::Job(Box::new(job_record(&row, now)?)))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

async fn upsert_schedule(
    conn: &mut SqliteConnection,
    schedule: &NewSchedule,
    next_fire_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<Outcome, StoreError> {
    let row = sqlx::query(sql::UPSERT_SCHEDULE)
        .bind(schedule.name.as_str())
        .bind(to_json(&schedule.spec)?)
        .bind(schedule.kind.as_str())
        .bind(schedule.payload.to_string())
        .bind(schedule.queue.as_str())
        .bind(i64::from(schedule.priority))
        .bind(i64::from(schedule.max_attempts))
        .bind(to_json(&schedule.missed)?)
        .bind(next_fire_at.map(micros))
        .bind(micros(now))
        .fetch_one(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(Outcome::Schedule(Box::new(schedule_record(&row)?)))
}

/// The schedule named `name` as stored now, or `ScheduleNotFound`.
async fn stored_schedule(conn: &mut SqliteConnection, name: &str) -> Result<Outcome, StoreError> {
    let row = sqlx::query(sql::GET_SCHEDULE)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::ScheduleNotFound(name.to_owned()))?;
    Ok(Outcome::Schedule(Box::new(schedule_record(&row)?)))
}

/// Moves the schedule's slot by compare-and-set, then inserts the slot's jobs; the
/// writer's savepoint keeps the two together.
async fn fire_schedule(
    conn: &mut SqliteConnection,
    name: &str,
    slot: OffsetDateTime,
    next: Option<OffsetDateTime>,
    jobs: &[NewJob],
    now: OffsetDateTime,
) -> Result<Outcome, StoreError> {
    let advanced = sqlx::query(sql::ADVANCE_SCHEDULE)
        .bind(name)
        .bind(micros(slot))
        .bind(next.map(micros))
        .bind(micros(now))
        .execute(&mut *conn)
        .await
        .map_err(store_error)?
        .rows_affected();
    if advanced == 0 {
        stored_schedule(conn, name).await?;
        return Err(StoreError::Conflict(format!(
            "schedule {name:?} is no longer due at {slot}"
        )));
    }
    enqueue(conn, jobs, now).await
}
