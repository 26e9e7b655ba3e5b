//! Between PostgreSQL rows and the job model: ids as `uuid`, times as `bigint`
//! microseconds, counters as `bigint`, payloads as `json` read back as text.

use leasehold::clock::{from_unix_micros, to_unix_micros};
use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;
use leasehold::{JobId, JobRecord, JobState, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::error::{corrupt_row, store_error};

/// The stored state of a pending job (`Scheduled` or `Available` by `run_at`).
pub(crate) const PENDING: &str = "pending";
/// The stored state of a cancelled job.
pub(crate) const CANCELLED: &str = "cancelled";

/// `t` as stored: integer microseconds since the Unix epoch.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    to_unix_micros(t)
}

/// The time stored as `micros`.
pub(crate) fn time_of(micros: i64, column: &str) -> Result<OffsetDateTime, StoreError> {
    from_unix_micros(micros)
        .ok_or_else(|| corrupt_row(format!("{column} {micros} is not a representable time")))
}

/// The job state of a stored state, as of `now`.
pub(crate) fn state_of(stored: &str, run_at: i64, now: i64) -> Result<JobState, StoreError> {
    Ok(match stored {
        PENDING if run_at > now => JobState::Scheduled,
        PENDING => JobState::Available,
        "running" => JobState::Running,
        "completed" => JobState::Completed,
        "failed" => JobState::Failed,
        CANCELLED => JobState::Cancelled,
        other => return Err(corrupt_row(format!("unknown stored job state {other:?}"))),
    })
}

/// The stored state and the run-time test that select jobs in `state` as of `now`:
/// `(stored state, Some(true))` selects due pending jobs, `Some(false)` future ones.
pub(crate) fn stored_state_filter(state: JobState) -> (&'static str, Option<bool>) {
    match state {
        JobState::Scheduled => (PENDING, Some(false)),
        JobState::Available => (PENDING, Some(true)),
        other => (other.as_str(), None),
    }
}

/// A counter column as a `u32`.
pub(crate) fn counter(value: i64, column: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt_row(format!("{column} {value} is out of range")))
}

pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(store_error)
}

/// The job id stored in `row`'s `id` column.
pub(crate) fn job_id(row: &PgRow) -> Result<JobId, StoreError> {
    Ok(JobId::from_uuid(get::<Uuid>(row, "id")?))
}

/// The job a full `jobs` row holds, with its state as of `now`.
pub(crate) fn job_record(row: &PgRow, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
    let id = job_id(row)?;
    let in_job = |e: StoreError| match e {
        StoreError::Backend(source) => StoreError::backend(format!("job {id}: {source}")),
        other => other,
    };
    decode(row, id, micros(now)).map_err(in_job)
}

fn decode(row: &PgRow, id: JobId, now: i64) -> Result<JobRecord, StoreError> {
    let payload: String = get(row, "payload")?;
    let payload = serde_json::from_str(&payload)
        .map_err(|e| corrupt_row(format!("payload is not JSON: {e}")))?;
    let run_at: i64 = get(row, "run_at")?;
    let stored: String = get(row, "state")?;
    let lease_until: Option<i64> = get(row, "lease_until")?;
    let finished_at: Option<i64> = get(row, "finished_at")?;
    let mut record = JobRecord::new(
        id,
        get::<String>(row, "kind")?,
        get::<String>(row, "queue")?,
        payload,
        time_of(run_at, "run_at")?,
        time_of(get(row, "created_at")?, "created_at")?,
    );
    record.priority = get(row, "priority")?;
    record.state = state_of(&stored, run_at, now)?;
    record.attempt = counter(get(row, "attempt")?, "attempt")?;
    record.max_attempts = counter(get(row, "max_attempts")?, "max_attempts")?;
    record.lease_token = counter(get(row, "lease_token")?, "lease_token")?;
    record.lease_until = lease_until.map(|t| time_of(t, "lease_until")).transpose()?;
    record.worker = get(row, "worker")?;
    record.unique_key = get(row, "unique_key")?;
    record.last_error = get(row, "last_error")?;
    record.finished_at = finished_at.map(|t| time_of(t, "finished_at")).transpose()?;
    Ok(record)
}

/// The schedule a full `schedules` row holds.
pub(crate) fn schedule_record(row: &PgRow) -> Result<ScheduleRecord, StoreError> {
    let name: String = get(row, "name")?;
    let in_schedule = |e: StoreError| match e {
        StoreError::Backend(source) => StoreError::backend(format!("schedule {name:?}: {source}")),
        other => other,
    };
    decode_schedule(row, &name).map_err(in_schedule)
}

fn decode_schedule(row: &PgRow, name: &str) -> Result<ScheduleRecord, StoreError> {
    let text = |column: &str| -> Result<String, StoreError> { get(row, column) };
    let spec = serde_json::from_str(&text("spec")?)
        .map_err(|e| corrupt_row(format!("spec is not a valid schedule: {e}")))?;
    let missed = serde_json::from_str(&text("missed")?)
        .map_err(|e| corrupt_row(format!("missed is not a missed-run policy: {e}")))?;
    let payload = serde_json::from_str(&text("payload")?)
        .map_err(|e| corrupt_row(format!("payload is not JSON: {e}")))?;
    let next_fire_at: Option<i64> = get(row, "next_fire_at")?;
    let schedule = NewSchedule {
        name: name.to_owned(),
        spec,
        kind: get(row, "kind")?,
        payload,
        queue: get(row, "queue")?,
        priority: get(row, "priority")?,
        max_attempts: counter(get(row, "max_attempts")?, "max_attempts")?,
        missed,
    };
    let mut record = ScheduleRecord::new(schedule, time_of(get(row, "created_at")?, "created_at")?);
    record.enabled = get(row, "enabled")?;
    record.next_fire_at = next_fire_at
        .map(|t| time_of(t, "next_fire_at"))
        .transpose()?;
    record.updated_at = time_of(get(row, "updated_at")?, "updated_at")?;
    Ok(record)
}
