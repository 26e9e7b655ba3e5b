//! Schedule writes: the parameters of `upsert_schedule.sql` ([`upsert_params`]) and
//! `advance_schedule.sql` ([`advance_params`]), and what a read or a fire answers when
//! the schedule is not as asked ([`stored`], [`not_advanced`]).
//!
//! Firing a schedule is a compare-and-set: `advance_schedule.sql` moves the stored next
//! slot only if it still is the slot the scheduler planned from, and the store inserts
//! the slot's jobs in the same transaction; a fire that moved nothing answers
//! `ScheduleNotFound` for an unknown schedule, else `Conflict` (another scheduler fired
//! the slot first, or the schedule was paused or changed).
//!
//! An upsert keeps the stored next slot when the spec is unchanged, and never resumes a
//! paused schedule. That rule stays in SQL, in the `ON CONFLICT` clause both stores'
//! `upsert_schedule.sql` join ([`ON_SCHEDULE_CONFLICT`](crate::sql::ON_SCHEDULE_CONFLICT)):
//! one `INSERT ... ON CONFLICT DO UPDATE` comparing the stored spec with the new one, so
//! two processes registering the same schedule at once cannot interleave a read and a
//! write; what it compares is written here: the spec as the JSON text of its serde form.

use leasehold::StoreError;
use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;

use crate::enqueue::json_text;
use crate::param::Param;
use crate::row::{Columns, micros, schedule_record};

/// The parameters of `upsert_schedule.sql`, in order: name, spec (JSON), kind, payload
/// (JSON), queue, priority, max attempts, missed-run policy (JSON), the next slot when
/// the schedule is new or its spec changed (NULL: none), and the time given.
///
/// # Errors
///
/// When the spec or the policy does not serialize (`Backend`).
pub fn upsert_params(
    schedule: &NewSchedule,
    next_fire_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<[Param<'_>; 10], StoreError> {
    Ok([
        Param::text(&schedule.name),
        Param::owned_text(to_json(&schedule.spec)?),
        Param::text(&schedule.kind),
        Param::owned_text(json_text(&schedule.payload)),
        Param::text(&schedule.queue),
        Param::SmallInteger(schedule.priority),
        Param::integer(i64::from(schedule.max_attempts)),
        Param::owned_text(to_json(&schedule.missed)?),
        Param::Integer(next_fire_at.map(micros)),
        Param::integer(micros(now)),
    ])
}

/// The parameters of `advance_schedule.sql`, in order: the name, the slot the
/// scheduler planned from, the next slot (NULL: none left) and the time given.
pub fn advance_params(
    name: &str,
    slot: OffsetDateTime,
    next: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> [Param<'_>; 4] {
    [
        Param::text(name),
        Param::integer(micros(slot)),
        Param::Integer(next.map(micros)),
        Param::integer(micros(now)),
    ]
}

/// The schedule named `name` in `row` (the answer of `get_schedule.sql`).
///
/// # Errors
///
/// `ScheduleNotFound` when there is no row; as [`schedule_record`] otherwise.
pub fn stored(name: &str, row: Option<impl Columns>) -> Result<ScheduleRecord, StoreError> {
    let row = row.ok_or_else(|| StoreError::ScheduleNotFound(name.to_owned()))?;
    schedule_record(&row)
}

/// What a fire of schedule `name` from `slot` answers when its compare-and-set moved
/// nothing and the schedule exists: `Conflict`.
pub fn not_advanced(name: &str, slot: OffsetDateTime) -> StoreError {
    StoreError::Conflict(format!("schedule {name:?} is no longer due at {slot}"))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}
