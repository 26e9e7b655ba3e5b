//! Schedule writes: [`UpsertSchedule`], [`FireSchedule`] (a compare-and-set on the
//! schedule's slot, then the slot's jobs), [`PauseSchedule`], [`ResumeSchedule`],
//! [`RemoveSchedule`].

use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;
use leasehold::{Enqueued, NewJob, StoreError};
use leasehold_sql::row::{micros, schedule_record};
use leasehold_sql::schedule::{advance_params, not_advanced, stored, upsert_params};
use sqlx::SqliteConnection;

use crate::enqueue::enqueue;
use crate::error::store_error;
use crate::row::{Row, Statement, bind};
use crate::sql;
use crate::transition::Transition;
use crate::transition::statement::{fetch_optional, rows_changed};

/// `upsert_schedule`: stores `schedule` by name, next due at `next_fire_at`.
#[derive(Debug)]
pub(crate) struct UpsertSchedule {
    /// Boxed: it is by far the largest input of any call, and every call is moved
    /// through the writer's channel.
    pub(crate) schedule: Box<NewSchedule>,
    pub(crate) next_fire_at: Option<OffsetDateTime>,
    pub(crate) now: OffsetDateTime,
}

impl Transition for UpsertSchedule {
    /// The schedule as stored.
    type Answer = ScheduleRecord;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<ScheduleRecord, StoreError> {
        let params = upsert_params(&self.schedule, self.next_fire_at, self.now)?;
        let row = bind(sqlx::query(sql::UPSERT_SCHEDULE), params)
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?;
        schedule_record(&Row(&row))
    }
}

/// `fire_schedule`: moves schedule `name` from `slot` to `next` by compare-and-set,
/// then enqueues the slot's `jobs`; the writer's savepoint keeps the two together.
#[derive(Debug)]
pub(crate) struct FireSchedule {
    pub(crate) name: String,
    pub(crate) slot: OffsetDateTime,
    pub(crate) next: Option<OffsetDateTime>,
    pub(crate) jobs: Vec<NewJob>,
    pub(crate) now: OffsetDateTime,
}

impl Transition for FireSchedule {
    /// Each job's answer, in order.
    type Answer = Vec<Enqueued>;

    fn weight(&self) -> usize {
        self.jobs.len()
    }

    fn needs_savepoint(&self) -> bool {
        // It moves the schedule's slot, then inserts jobs that may conflict.
        true
    }

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Vec<Enqueued>, StoreError> {
        let name = self.name.as_str();
        let params = advance_params(name, self.slot, self.next, self.now);
        let statement = bind(sqlx::query(sql::ADVANCE_SCHEDULE), params);
        if rows_changed(conn, statement).await? == 0 {
            // An unknown schedule answers ScheduleNotFound rather than a conflict.
            stored_schedule(conn, name).await?;
            return Err(not_advanced(name, self.slot));
        }
        enqueue(conn, &self.jobs, self.now).await
    }
}

/// `pause_schedule`: schedule `name` stops firing until resumed.
#[derive(Debug)]
pub(crate) struct PauseSchedule {
    pub(crate) name: String,
    pub(crate) now: OffsetDateTime,
}

impl Transition for PauseSchedule {
    /// The schedule as stored.
    type Answer = ScheduleRecord;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<ScheduleRecord, StoreError> {
        let statement = on_schedule(sql::PAUSE_SCHEDULE, &self.name).bind(micros(self.now));
        change_schedule(conn, &self.name, statement).await
    }
}

/// `resume_schedule`: schedule `name` fires again, next at `next_fire_at`.
#[derive(Debug)]
pub(crate) struct ResumeSchedule {
    pub(crate) name: String,
    pub(crate) next_fire_at: Option<OffsetDateTime>,
    pub(crate) now: OffsetDateTime,
}

impl Transition for ResumeSchedule {
    /// The schedule as stored.
    type Answer = ScheduleRecord;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<ScheduleRecord, StoreError> {
        let statement = on_schedule(sql::RESUME_SCHEDULE, &self.name)
            .bind(self.next_fire_at.map(micros))
            .bind(micros(self.now));
        change_schedule(conn, &self.name, statement).await
    }
}

/// `remove_schedule`: deletes schedule `name`.
#[derive(Debug)]
pub(crate) struct RemoveSchedule {
    pub(crate) name: String,
}

impl Transition for RemoveSchedule {
    /// Whether there was such a schedule.
    type Answer = bool;

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<bool, StoreError> {
        let statement = on_schedule(sql::REMOVE_SCHEDULE, &self.name);
        Ok(rows_changed(conn, statement).await? > 0)
    }
}

/// A statement on schedule `name`, bound as `?1`.
fn on_schedule(statement: &'static str, name: &str) -> Statement<'static> {
    sqlx::query(statement).bind(name)
}

/// Runs `statement`, a change to schedule `name`: the schedule as stored after it, or
/// `ScheduleNotFound`.
async fn change_schedule(
    conn: &mut SqliteConnection,
    name: &str,
    statement: Statement<'_>,
) -> Result<ScheduleRecord, StoreError> {
    rows_changed(conn, statement).await?;
    stored_schedule(conn, name).await
}

/// The schedule named `name` as stored now, or `ScheduleNotFound`.
async fn stored_schedule(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<ScheduleRecord, StoreError> {
    let row = fetch_optional(conn, on_schedule(sql::GET_SCHEDULE, name)).await?;
    stored(name, row.as_ref().map(Row))
}
