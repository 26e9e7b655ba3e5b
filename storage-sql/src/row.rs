//! Between SQL rows and the job model, on plain values: ids, times as integer
//! microseconds since the Unix epoch, counters as integers, payloads and schedule specs
//! as JSON text.
//!
//! - [`Columns`]: a row read column by column; each store implements it over its sqlx
//!   row (a SQLite id is a 16-byte blob, a PostgreSQL one a `uuid`).
//! - [`job_record`], [`schedule_record`]: what a full `jobs` or `schedules` row holds.
//! - [`micros`] and [`time_of`], [`counter`], [`state_of`] and [`job_state`]: one
//!   value each way.
//!
//! The JSON columns of `jobs`: `errors` (an array of `{"attempt", "at"
//! (microseconds), "error"}`, oldest first), `output` (any JSON, NULL for none),
//! `tags` (an array of strings), `metadata` (an object) and `depends_on` (an array of
//! job ids, NULL for none, with its policy in `on_dependency_failure`).
//!
//! A value no statement writes (a time out of range, an unknown state, a payload that is
//! not JSON) is a `Backend` error naming the job or schedule and the column.

use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;
use leasehold::time::{from_unix_micros, to_unix_micros};
use leasehold::{AttemptError, DependencyFailure, JobId, JobRecord, JobState, Payload, StoreError};

use crate::error::corrupt_row;

/// A row of a store's dialect, read as plain values.
///
/// The provided methods read the two columns whose type differs by dialect as SQLite
/// stores them (a priority as an `INTEGER`, a flag as 0 or 1); a store whose columns are
/// typed otherwise overrides them.
pub trait Columns {
    /// The job id in the `id` column.
    ///
    /// # Errors
    ///
    /// When the column is missing or holds no job id.
    fn job_id(&self) -> Result<JobId, StoreError>;

    /// An integer column; `None` for NULL.
    ///
    /// # Errors
    ///
    /// When the column is missing or not an integer.
    fn integer(&self, column: &str) -> Result<Option<i64>, StoreError>;

    /// A text column (JSON read back as text included); `None` for NULL.
    ///
    /// # Errors
    ///
    /// When the column is missing or not text.
    fn text(&self, column: &str) -> Result<Option<String>, StoreError>;

    /// A priority column (`priority`).
    ///
    /// # Errors
    ///
    /// When the column is missing, NULL or out of an `i16`'s range.
    fn small_integer(&self, column: &str) -> Result<i16, StoreError> {
        let value = required(self.integer(column)?, column)?;
        i16::try_from(value).map_err(|_| corrupt_row(format!("{column} {value} is out of range")))
    }

    /// A truth column (`enabled`).
    ///
    /// # Errors
    ///
    /// When the column is missing or NULL.
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        Ok(required(self.integer(column)?, column)? == 1)
    }
}

/// `t` as stored: integer microseconds since the Unix epoch.
pub fn micros(t: OffsetDateTime) -> i64 {
    to_unix_micros(t)
}

/// The time stored as `micros` in `column`.
///
/// # Errors
///
/// When `micros` is outside the range of times.
pub fn time_of(micros: i64, column: &str) -> Result<OffsetDateTime, StoreError> {
    from_unix_micros(micros)
        .ok_or_else(|| corrupt_row(format!("{column} {micros} is not a representable time")))
}

/// A counter column (attempt, max attempts, lease token) as a `u32`.
///
/// # Errors
///
/// When `value` is negative or too large.
pub fn counter(value: i64, column: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt_row(format!("{column} {value} is out of range")))
}

/// The job state of a stored state, as of `now` (microseconds).
///
/// A pending job is stored as `pending` by PostgreSQL and as `scheduled` or `available`
/// by SQLite (each store's `CHECK` admits only its own); either way it reports
/// `Scheduled` or `Available` by its `run_at` against the time given, not the one it
/// was last written at.
///
/// # Errors
///
/// For a state no statement writes.
pub fn state_of(stored: &str, run_at: i64, now: i64) -> Result<JobState, StoreError> {
    Ok(match stored {
        "pending" | "scheduled" | "available" if run_at > now => JobState::Scheduled,
        "pending" | "scheduled" | "available" => JobState::Available,
        "waiting" => JobState::Waiting,
        "running" => JobState::Running,
        "completed" => JobState::Completed,
        "failed" => JobState::Failed,
        "cancelled" => JobState::Cancelled,
        other => return Err(corrupt_row(format!("unknown stored job state {other:?}"))),
    })
}

/// The job state in a row of `state` and `run_at` (what a retry returns), as of `now`.
///
/// # Errors
///
/// When a column cannot be read or holds a value no statement writes.
pub fn job_state(row: &impl Columns, now: OffsetDateTime) -> Result<JobState, StoreError> {
    let stored = required(row.text("state")?, "state")?;
    let run_at = required(row.integer("run_at")?, "run_at")?;
    state_of(&stored, run_at, micros(now))
}

/// The job a full `jobs` row holds, with its state as of `now`.
///
/// # Errors
///
/// When a column cannot be read or holds a value no statement writes; the message names
/// the job.
pub fn job_record(row: &impl Columns, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
    let id = row.job_id()?;
    let in_job = |e: StoreError| match e {
        StoreError::Backend(source) => StoreError::backend(format!("job {id}: {source}")),
        other => other,
    };
    decode_job(row, id, micros(now)).map_err(in_job)
}

fn decode_job(row: &impl Columns, id: JobId, now: i64) -> Result<JobRecord, StoreError> {
    let integer = |column: &str| required(row.integer(column)?, column);
    let text = |column: &str| required(row.text(column)?, column);
    let time = |column: &str| time_of(integer(column)?, column);
    let optional_time = |column: &str| row.integer(column)?.map(|t| time_of(t, column)).transpose();
    // Checked, not parsed: the handler reads its typed job from the text.
    let payload = Payload::from_json(text("payload")?)
        .map_err(|e| corrupt_row(format!("payload is not JSON: {e}")))?;
    let run_at = integer("run_at")?;

    // `JobRecord` is non-exhaustive: a store outside the core starts from
    // `JobRecord::new` and sets every other field.
    let mut record = JobRecord::new(
        id,
        text("kind")?,
        text("queue")?,
        payload,
        time_of(run_at, "run_at")?,
        time("created_at")?,
    );
    record.priority = row.small_integer("priority")?;
    record.state = state_of(&text("state")?, run_at, now)?;
    record.attempt = counter(integer("attempt")?, "attempt")?;
    record.max_attempts = counter(integer("max_attempts")?, "max_attempts")?;
    record.lease_token = counter(integer("lease_token")?, "lease_token")?;
    record.lease_until = optional_time("lease_until")?;
    record.worker = row.text("worker")?;
    record.unique_key = row.text("unique_key")?;
    record.last_error = row.text("last_error")?;
    record.finished_at = optional_time("finished_at")?;
    record.first_attempted_at = optional_time("first_attempted_at")?;
    record.attempted_at = optional_time("attempted_at")?;
    record.errors = attempt_errors(row)?;
    record.output = json_column(row, "output")?;
    record.tags = json_column(row, "tags")?.unwrap_or_default();
    record.metadata = json_column(row, "metadata")?.unwrap_or_default();
    record.limit_key = row.text("limit_key")?;
    record.depends_on = json_column(row, "depends_on")?.unwrap_or_default();
    if let Some(policy) = row.text("on_dependency_failure")? {
        record.on_dependency_failure = policy
            .parse::<DependencyFailure>()
            .map_err(|e| corrupt_row(format!("on_dependency_failure: {e}")))?;
    }
    Ok(record)
}

/// The schedule a full `schedules` row holds.
///
/// # Errors
///
/// When a column cannot be read or holds a value no statement writes; the message names
/// the schedule.
pub fn schedule_record(row: &impl Columns) -> Result<ScheduleRecord, StoreError> {
    let name = required(row.text("name")?, "name")?;
    let in_schedule = |e: StoreError| match e {
        StoreError::Backend(source) => StoreError::backend(format!("schedule {name:?}: {source}")),
        other => other,
    };
    decode_schedule(row, &name).map_err(in_schedule)
}

fn decode_schedule(row: &impl Columns, name: &str) -> Result<ScheduleRecord, StoreError> {
    let integer = |column: &str| required(row.integer(column)?, column);
    let text = |column: &str| required(row.text(column)?, column);
    let time = |column: &str| time_of(integer(column)?, column);
    let spec = serde_json::from_str(&text("spec")?)
        .map_err(|e| corrupt_row(format!("spec is not a valid schedule: {e}")))?;
    let missed = serde_json::from_str(&text("missed")?)
        .map_err(|e| corrupt_row(format!("missed is not a missed-run policy: {e}")))?;
    let payload = serde_json::from_str(&text("payload")?)
        .map_err(|e| corrupt_row(format!("payload is not JSON: {e}")))?;
    let schedule = NewSchedule {
        name: name.to_owned(),
        spec,
        kind: text("kind")?,
        payload,
        queue: text("queue")?,
        priority: row.small_integer("priority")?,
        max_attempts: counter(integer("max_attempts")?, "max_attempts")?,
        missed,
    };
    let mut record = ScheduleRecord::new(schedule, time("created_at")?);
    record.enabled = row.flag("enabled")?;
    record.next_fire_at = row
        .integer("next_fire_at")?
        .map(|t| time_of(t, "next_fire_at"))
        .transpose()?;
    record.last_fired_at = row
        .integer("last_fired_at")?
        .map(|t| time_of(t, "last_fired_at"))
        .transpose()?;
    record.updated_at = time("updated_at")?;
    Ok(record)
}

/// One failed attempt as the `errors` column stores it: `{"attempt": 3, "at":
/// <microseconds>, "error": "..."}`, written by SQL that has the time as an integer.
#[derive(serde::Deserialize)]
struct StoredAttemptError {
    attempt: u32,
    at: i64,
    error: String,
}

/// The `errors` column: a JSON array of [`StoredAttemptError`]s, oldest first.
fn attempt_errors(row: &impl Columns) -> Result<Vec<AttemptError>, StoreError> {
    let stored: Vec<StoredAttemptError> = json_column(row, "errors")?.unwrap_or_default();
    stored
        .into_iter()
        .map(|e| {
            Ok(AttemptError::new(
                e.attempt,
                time_of(e.at, "errors")?,
                e.error,
            ))
        })
        .collect()
}

/// The JSON text in `column`, decoded; `None` for NULL.
///
/// # Errors
///
/// When the column is missing or its text is not the JSON expected.
fn json_column<T: serde::de::DeserializeOwned>(
    row: &impl Columns,
    column: &str,
) -> Result<Option<T>, StoreError> {
    row.text(column)?
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| corrupt_row(format!("{column} is not the JSON expected: {e}")))
}

/// The value of a `NOT NULL` column.
pub(crate) fn required<T>(value: Option<T>, column: &str) -> Result<T, StoreError> {
    value.ok_or_else(|| corrupt_row(format!("{column} is NULL")))
}

#[cfg(test)]
#[path = "row_tests.rs"]
mod tests;
