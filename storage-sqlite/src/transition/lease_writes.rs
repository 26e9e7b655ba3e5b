//! Writes under a lease: [`Heartbeat`], [`Complete`], [`CompleteWithOutput`],
//! [`Retry`], [`Fail`], [`Release`]. Each statement is fenced by the lease (job id and
//! token), so a stale worker never overwrites the one that took over; a write that
//! matched no row says why (lease lost, or no such job).

use std::collections::HashSet;

use leasehold::time::OffsetDateTime;
use leasehold::{HeartbeatStatus, JobId, JobState, Lease, StoreError};
use leasehold_sql::lease::{LeaseState, lease, not_extended, not_written, written};
use leasehold_sql::row::{job_state, micros};
use sqlx::SqliteConnection;

use crate::error::store_error;
use crate::row::{Row, Statement};
use crate::sql;
use crate::transition::Transition;
use crate::transition::statement::{fetch_optional, on_job, rows_changed};

/// `heartbeat`: extends each live lease of `leases` to `lease_until`.
#[derive(Debug)]
pub(crate) struct Heartbeat {
    pub(crate) leases: Vec<Lease>,
    pub(crate) lease_until: OffsetDateTime,
}

impl Transition for Heartbeat {
    /// Each lease's status, in order.
    type Answer = Vec<HeartbeatStatus>;

    fn weight(&self) -> usize {
        self.leases.len()
    }

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Vec<HeartbeatStatus>, StoreError> {
        let extended: HashSet<Lease> = if let [lease] = self.leases.as_slice() {
            let statement = fenced(sql::HEARTBEAT, lease).bind(micros(self.lease_until));
            if rows_changed(conn, statement).await? > 0 {
                HashSet::from([*lease])
            } else {
                HashSet::new()
            }
        } else {
            heartbeat_bulk(conn, &self.leases, self.lease_until).await?
        };
        let mut answers = Vec::with_capacity(self.leases.len());
        for lease in &self.leases {
            let answer = if extended.contains(lease) {
                HeartbeatStatus::Extended
            } else {
                not_extended(*lease, lease_state(conn, lease.job_id).await?.as_ref())
            };
            answers.push(answer);
        }
        Ok(answers)
    }
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
    extended.iter().map(|row| lease(&Row(row))).collect()
}

/// `complete`: the job under `lease` succeeded at `now`. The writer runs the
/// completions of a group in one statement (see [`crate::bulk`]); this one runs alone.
#[derive(Debug)]
pub(crate) struct Complete {
    pub(crate) lease: Lease,
    pub(crate) now: OffsetDateTime,
}

impl Transition for Complete {
    type Answer = ();

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        let statement = fenced(sql::COMPLETE, &self.lease).bind(micros(self.now));
        write_fenced(conn, self.lease, statement).await
    }
}

/// `complete_with_output`: the job under `lease` succeeded at `now` with `output`
/// (JSON text). Runs on its own, never in a group's bulk completion.
#[derive(Debug)]
pub(crate) struct CompleteWithOutput {
    pub(crate) lease: Lease,
    pub(crate) output: String,
    pub(crate) now: OffsetDateTime,
}

impl Transition for CompleteWithOutput {
    type Answer = ();

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        let statement = fenced(sql::COMPLETE_WITH_OUTPUT, &self.lease)
            .bind(micros(self.now))
            .bind(self.output.as_str());
        write_fenced(conn, self.lease, statement).await
    }
}

/// `retry`: records `error` for the job under `lease` and makes it pending at
/// `run_at`; on its last attempt, ends it failed instead.
#[derive(Debug)]
pub(crate) struct Retry {
    pub(crate) lease: Lease,
    pub(crate) run_at: OffsetDateTime,
    pub(crate) error: String,
    pub(crate) now: OffsetDateTime,
}

impl Transition for Retry {
    /// The job's new state.
    type Answer = JobState;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<JobState, StoreError> {
        let statement = fenced(sql::RETRY, &self.lease)
            .bind(micros(self.run_at))
            .bind(self.error.as_str())
            .bind(micros(self.now));
        match fetch_optional(conn, statement).await? {
            Some(row) => job_state(&Row(&row), self.now),
            None => Err(lease_lost_or_not_found(conn, self.lease).await),
        }
    }
}

/// `fail`: the job under `lease` failed for good with `error`.
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) lease: Lease,
    pub(crate) error: String,
    pub(crate) now: OffsetDateTime,
}

impl Transition for Fail {
    type Answer = ();

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        let statement = fenced(sql::FAIL, &self.lease)
            .bind(self.error.as_str())
            .bind(micros(self.now));
        write_fenced(conn, self.lease, statement).await
    }
}

/// `release`: gives the job under `lease` back, to run at `run_at`, without spending
/// an attempt.
#[derive(Debug)]
pub(crate) struct Release {
    pub(crate) lease: Lease,
    pub(crate) run_at: OffsetDateTime,
    pub(crate) now: OffsetDateTime,
}

impl Transition for Release {
    type Answer = ();

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        let statement = fenced(sql::RELEASE, &self.lease)
            .bind(micros(self.run_at))
            .bind(micros(self.now));
        write_fenced(conn, self.lease, statement).await
    }
}

/// A fenced statement with the lease bound as `?1` (job id) and `?2` (token).
fn fenced(statement: &'static str, lease: &Lease) -> Statement<'static> {
    on_job(statement, lease.job_id).bind(i64::from(lease.token))
}

/// Runs `statement`, a write fenced by `lease` (see [`fenced`]): `LeaseLost` or
/// `NotFound` when it matched no row.
async fn write_fenced(
    conn: &mut SqliteConnection,
    lease: Lease,
    statement: Statement<'_>,
) -> Result<(), StoreError> {
    let rows = rows_changed(conn, statement).await?;
    written(rows, || lease_lost_or_not_found(conn, lease)).await
}

/// Why a fenced write matched no row: the job is unknown, or the lease is not its
/// live one.
async fn lease_lost_or_not_found(conn: &mut SqliteConnection, lease: Lease) -> StoreError {
    match lease_state(conn, lease.job_id).await {
        Ok(stored) => not_written(lease, stored.as_ref()),
        Err(error) => error,
    }
}

/// The stored state and lease token of job `id`, if it exists.
async fn lease_state(
    conn: &mut SqliteConnection,
    id: JobId,
) -> Result<Option<LeaseState>, StoreError> {
    let row = fetch_optional(conn, on_job(sql::LEASE_STATE, id)).await?;
    row.map(|row| LeaseState::read(&Row(&row))).transpose()
}
