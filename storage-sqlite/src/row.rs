//! Between SQLite rows and the job model: ids as 16-byte blobs (UUIDv7 bytes sort as
//! the ids do), times as integer microseconds, counters as `INTEGER`.


use leasehold::clock::{from_unix_micros, to_unix_micros};
use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;
use leasehold::{JobId, JobRecord, JobState, StoreError};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::error::{corrupt_row, store_error};

/// The stored-state filter that selects both pending states (see `list.sql`).
const PENDING: &str = "pending";

/// The blob a job id is stored as.
pub(crate) fn id_blob(id: JobId) -> Vec<u8> {
    id.as_uuid().as_bytes().to_vec()
}

/// `t` as stored: integer microseconds since the Unix epoch.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    to_unix_micros(t)
}

/// A `LIMIT` value: SQLite takes an i64, and any count beyond it means "no limit".
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The time stored as `micros`.
pub(crate) fn time_of(micros: i64, column: &str) -> Result<OffsetDateTime, StoreError> {
    from_unix_micros(micros)
        .ok_or_else(|| corrupt_row(format!("{column} {micros} is not a representable time")))
}

/// The job state of a stored state, as of `now`.
pub(crate) fn state_of(stored: &str, run_at: i64, now: i64) -> Result<JobState, StoreError> {
    Ok(match stored {
        // Which pending state a job is in depends on the time given, not on the one
        // it was last written at.
        "scheduled" | "available" if run_at > now => JobState::Scheduled,
        "scheduled" | "available" => JobState::Available,
        "running" => JobState::Running,
        "completed" => JobState::Completed,
        "failed" => JobState::Failed,
        "cancelled" => JobState::Cancelled,
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

fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(store_error)
}

/// The job id stored in `row`'s `id` column.
pub(crate) fn job_id(row: &SqliteRow) -> Result<JobId, StoreError> {
    let bytes: Vec<u8> = get(row, "id")?;
    let uuid = Uuid::from_slice(&bytes).map_err(|_| {
        corrupt_row(format!(
            "job id blob of {} bytes is not a UUID",
            bytes.len()
        ))
    })?;
    Ok(JobId::from_uuid(uuid))
}

/// The job a full `jobs` row holds, with its state as of `now`.
pub(crate) fn job_record(row: &SqliteRow, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
    let id = job_id(row)?;
    let in_job = |e: StoreError| match e {
        StoreError::Backend(source) => StoreError::backend(format!("job {id}: {source}")),
        other => other,
    };
    decode(row, id, micros(now)).map_err(in_job)
}

fn decode(row: &SqliteRow, id: JobId, now: i64) -> Result<JobRecord, StoreError> {
    let payload: String = get(row, "payload")?;
    let payload = serde_json::from_str(&payload)
        .map_err(|e| corrupt_row(format!("payload is not JSON: {e}")))?;
    let priority: i64 = get(row, "priority")?;
    let priority = i16::try_from(priority)
        .map_err(|_| corrupt_row(format!("priority {priority} is out of range")))?;
    let run_at: i64 = get(row, "run_at")?;
    let stored: String = get(row, "state")?;
    let lease_until: Option<i64> = get(row, "lease_until")?;
    let finished_at: Option<i64> = get(row, "finished_at")?;

    // `JobRecord` is non-exhaustive: a store outside the core starts from
    // `JobRecord::new` and sets every other field.
    let mut record = JobRecord::new(
        id,
        get::<String>(row, "kind")?,
        get::<String>(row, "queue")?,
        payload,
        time_of(run_at, "run_at")?,
        time_of(get(row, "created_at")?, "created_at")?,
    );
    record.priority = priority;
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
pub(crate) fn schedule_record(row: &SqliteRow) -> Result<ScheduleRecord, StoreError> {
    let name: String = get(row, "name")?;
    let in_schedule = |e: StoreError| match e {
        StoreError::Backend(source) => StoreError::backend(format!("schedule {name:?}: {source}")),
        other => other,
    };
    decode_schedule(row, &name).map_err(in_schedule)
}

fn decode_schedule(row: &SqliteRow, name: &str) -> Result<ScheduleRecord, StoreError> {
    let json = |column: &str| -> Result<String, StoreError> { get(row, column) };
    let spec = serde_json::from_str(&json("spec")?)
        .map_err(|e| corrupt_row(format!("spec is not a valid schedule: {e}")))?;
    let missed = serde_json::from_str(&json("missed")?)
        .map_err(|e| corrupt_row(format!("missed is not a missed-run policy: {e}")))?;
    let payload = serde_json::from_str(&json("payload")?)
        .map_err(|e| corrupt_row(format!("payload is not JSON: {e}")))?;
    let priority: i64 = get(row, "priority")?;
    let next_fire_at: Option<i64> = get(row, "next_fire_at")?;
    let schedule = NewSchedule {
        name: name.to_owned(),
        spec,
        kind: get(row, "kind")?,
        payload,
        queue: get(row, "queue")?,
        priority: i16::try_from(priority)
            .map_err(|_| corrupt_row(format!("priority {priority} is out of range")))?,
        max_attempts: counter(get(row, "max_attempts")?, "max_attempts")?,
        missed,
    };
    let mut record = ScheduleRecord::new(schedule, time_of(get(row, "created_at")?, "created_at")?);
    record.enabled = get::<i64>(row, "enabled")? == 1;
    record.next_fire_at = next_fire_at
        .map(|t| time_of(t, "next_fire_at"))
        .transpose()?;
    record.updated_at = time_of(get(row, "updated_at")?, "updated_at")?;
    Ok(record)
}
