//! Schedules as a store keeps them.
//!
//! - [`NewSchedule`]: a validated definition on its way into a store, upserted by name.
//! - [`ScheduleRecord`]: a schedule as a store returns it, with its next slot.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{MissedRunPolicy, ScheduleSpec};
use crate::error::Error;
use crate::job::Job;
use crate::job::{DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE, NewJob};

/// A schedule's definition: when it fires and the job each slot creates.
///
/// Not `#[non_exhaustive]`: stores in other crates build it from their rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSchedule {
    /// The unique name it is upserted by.
    pub name: String,
    /// When it fires.
    pub spec: ScheduleSpec,
    /// The kind of the jobs it creates.
    pub kind: String,
    /// Their payload.
    pub payload: serde_json::Value,
    /// Their queue.
    pub queue: String,
    /// Their priority (lower runs first).
    pub priority: i16,
    /// Their attempts before they end `Failed`.
    pub max_attempts: u32,
    /// What happens to slots missed while no scheduler ran.
    pub missed: MissedRunPolicy,
}

impl NewSchedule {
    /// A schedule `name` firing `job` (a typed [`Job`]) on `spec`, in the default queue.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an empty name, [`Error::Serialize`] for a payload that
    /// does not serialize.
    pub fn new<J: Job>(
        name: impl Into<String>,
        spec: ScheduleSpec,
        job: &J,
    ) -> Result<Self, Error> {
        let payload = serde_json::to_value(job).map_err(|source| Error::Serialize {
            kind: J::KIND.to_owned(),
            source,
        })?;
        Self::untyped(name, spec, J::KIND, payload)
    }

    /// A schedule firing jobs of `kind` with `payload`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an empty name, [`Error::InvalidJob`] for an empty kind.
    pub fn untyped(
        name: impl Into<String>,
        spec: ScheduleSpec,
        kind: impl Into<String>,
        payload: serde_json::Value,
    ) -> Result<Self, Error> {
        let name = name.into();
        if name.trim().is_empty() {
            return Err(Error::Config("schedule name must not be empty".into()));
        }
        let kind = kind.into();
        if kind.trim().is_empty() {
            return Err(Error::InvalidJob(format!(
                "job kind of schedule {name:?} must not be empty"
            )));
        }
        Ok(Self {
            name,
            spec,
            kind,
            payload,
            queue: DEFAULT_QUEUE.to_owned(),
            priority: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            missed: MissedRunPolicy::default(),
        })
    }

    /// Its jobs go to `queue`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] for an empty queue name.
    pub fn queue(mut self, queue: impl Into<String>) -> Result<Self, Error> {
        let queue = queue.into();
        if queue.trim().is_empty() {
            return Err(self.invalid("queue", "must not be empty"));
        }
        self.queue = queue;
        Ok(self)
    }

    /// Its jobs have `priority`.
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }

    /// Its jobs get `max_attempts` attempts.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] when `max_attempts` is 0.
    pub fn max_attempts(mut self, max_attempts: u32) -> Result<Self, Error> {
        if max_attempts == 0 {
            return Err(self.invalid("max_attempts", "must be at least 1"));
        }
        self.max_attempts = max_attempts;
        Ok(self)
    }

    /// What happens to missed slots.
    pub fn missed(mut self, policy: MissedRunPolicy) -> Self {
        self.missed = policy;
        self
    }

    /// An [`Error::InvalidJob`] saying `setting` of this schedule's jobs breaks `rule`,
    /// naming the schedule.
    fn invalid(&self, setting: &str, rule: &str) -> Error {
        Error::InvalidJob(format!("{setting} of schedule {:?} {rule}", self.name))
    }
}

/// A schedule as a store returns it.
///
/// `#[non_exhaustive]`, so fields can be added without breaking stores in other
/// crates: a store builds a record with [`ScheduleRecord::new`] and sets the other
/// fields, each of which is public.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScheduleRecord {
    /// Its definition.
    pub schedule: NewSchedule,
    /// Whether schedulers fire it (pause sets `false`).
    pub enabled: bool,
    /// The next slot to fire; `None` once a schedule has no slots left.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_fire_at: Option<OffsetDateTime>,
    /// When a scheduler last fired it (`fire_schedule`); `None` if never. A
    /// [`Scheduler::trigger`](crate::schedule::Scheduler::trigger) by hand does not count.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_fired_at: Option<OffsetDateTime>,
    /// When it was first stored.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its definition or state last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl ScheduleRecord {
    /// A record of `schedule`, first stored at `created_at`: enabled, with no next slot
    /// and last changed when it was created, for the store to set from what it holds.
    pub fn new(schedule: NewSchedule, created_at: OffsetDateTime) -> Self {
        Self {
            schedule,
            enabled: true,
            next_fire_at: None,
            last_fired_at: None,
            created_at,
            updated_at: created_at,
        }
    }

    /// The next `n` slots: the stored next slot and the ones after it (none once the
    /// schedule has no slots left).
    pub fn next_fire_times(&self, n: usize) -> Vec<OffsetDateTime> {
        let Some(first) = self.next_fire_at else {
            return Vec::new();
        };
        let mut times = vec![first];
        times.extend(
            self.schedule
                .spec
                .next_fire_times(first, n.saturating_sub(1)),
        );
        times.truncate(n);
        times
    }

    /// The unique key of the job fired for `slot`: one job per (schedule, slot).
    pub fn slot_key(&self, slot: OffsetDateTime) -> String {
        slot_key(&self.schedule.name, slot)
    }

    /// The job this schedule fires for `slot`, due at the slot, created at `now`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] when the stored definition is not a valid job.
    pub fn job_for_slot(&self, slot: OffsetDateTime, now: OffsetDateTime) -> Result<NewJob, Error> {
        let s = &self.schedule;
        let job = NewJob::new(s.kind.clone(), s.payload.clone(), now)?
            .queue(s.queue.clone())?
            .priority(s.priority)
            .run_at(slot)
            .max_attempts(s.max_attempts)?
            .unique_key(self.slot_key(slot));
        Ok(job)
    }
}

/// The unique key of the job that schedule `name` fires for `slot`.
pub fn slot_key(name: &str, slot: OffsetDateTime) -> String {
    format!("schedule:{name}@{}", crate::clock::to_unix_micros(slot))
}
